"""Station direct orders (docs/station-orders.md): the household basket, checkout with cash or credit
through Oscar's OrderCreator, stock allocation, the supplier → station → household pipeline, and the
refusals (another station's household, restricted pesticide, credit limit, sold out)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone
from oscar.apps.order.signals import order_placed
from oscar.core.loading import get_model
from testkit import make_fertilizer, run_parallel

from marketplace.apps.order import direct, statuses
from marketplace.apps.order.models import DirectOrder, StationBasket
from marketplace.apps.partner.models import LicenceKind, PartnerLicence
from marketplace.core import extensions
from marketplace.payments import services as pay
from marketplace.payments.credit import credit_account
from marketplace.payments.models import LedgerEntry, Payment, PaymentMethod, RealNameRecord
from marketplace.stations.models import Household, StationPesticideLicence

StockRecord = get_model("partner", "StockRecord")
Order = get_model("order", "Order")
Basket = get_model("basket", "Basket")


@pytest.fixture
def urea(product_classes, supplier):
    return make_fertilizer(
        product_classes, supplier, "UREA-1", "尿素 46%", npk=(46, 0, 0), price="120.00", stock=10
    )


@pytest.fixture
def compound(product_classes, other_supplier):
    return make_fertilizer(
        product_classes, other_supplier, "NPK-2", "复合肥 15-15-15", price="150.00", stock=50
    )


def _record(product):
    return StockRecord.objects.get(product=product)


@pytest.mark.django_db
def test_cash_checkout_places_one_oscar_order_and_books_station_cash(staff_a, household_a, urea):
    direct.add_to_basket(staff_a, household_a, urea.pk, 3)
    direct.add_to_basket(staff_a, household_a, urea.pk, 1)  # same line, 4 bags
    view = direct.basket_view(staff_a, household_a)
    assert [line.quantity for line in view.lines] == [4] and view.total == Decimal("480.00")
    fired: list = []

    def receiver(sender, order, **kwargs):
        fired.append(order.number)

    order_placed.connect(receiver)
    try:
        order = direct.checkout(staff_a, household_a, "cash", "k-1", expected_total="480.00")
        again = direct.checkout(staff_a, household_a, "cash", "k-1")  # the form sent twice
    finally:
        order_placed.disconnect(receiver)
    assert again.pk == order.pk and fired == [order.number]
    assert Order.objects.filter(household=household_a).count() == 1
    assert order.status == statuses.ORDERED and order.station_id == household_a.station_id
    assert order.placed_by_id == staff_a.pk and order.total_incl_tax == Decimal("480.00")
    assert _record(urea).num_allocated == 4
    payment = DirectOrder.objects.get(order=order).payment
    assert payment.method == PaymentMethod.CASH and payment.amount_captured == Decimal("480.00")
    assert pay.balance(pay.station_cash(household_a.station_id)) == Decimal("480.00")
    summary = pay.cash_summary(household_a.station, timezone.localdate())
    assert summary["cash_in"] == Decimal("480.00")
    assert order.sources.get().amount_debited == Decimal("480.00")
    assert list(order.lines.values_list("status", flat=True)) == [statuses.ORDERED]
    # the basket was submitted; the household's next basket is a new one
    assert Basket.objects.get(pk=order.basket_id).status == Basket.SUBMITTED
    assert direct.basket_view(staff_a, household_a).lines == []


@pytest.mark.django_db
def test_credit_within_limit_and_refused_above_it(staff_a, household_a, urea):
    household_a.credit_limit = Decimal("500")
    household_a.save()
    direct.add_to_basket(staff_a, household_a, urea.pk, 5)  # 600 > 500
    with pytest.raises(ValidationError) as exc:
        direct.checkout(staff_a, household_a, "credit", "c-1")
    assert exc.value.error_dict["paymentMethod"][0].code == "limit_exceeded"
    # nothing half-written: no order, no payment, no allocation, the basket still holds the line
    assert not Order.objects.exists() and not Payment.objects.exists() and not LedgerEntry.objects.exists()
    assert not _record(urea).num_allocated
    assert [line.quantity for line in direct.basket_view(staff_a, household_a).lines] == [5]
    line = direct.basket_view(staff_a, household_a).lines[0]
    direct.remove_line(staff_a, household_a, line.pk, 4)
    order = direct.checkout(staff_a, household_a, "credit", "c-2")
    assert order.total_incl_tax == Decimal("480.00")
    account = credit_account(household_a)
    assert account.owed == Decimal("480.00") and account.available == Decimal("20.00")
    assert pay.balance(pay.station_cash(household_a.station_id)) == 0


@pytest.mark.django_db
def test_another_stations_household_is_refused(staff_a, household_b, urea, gql):
    with pytest.raises(ValidationError) as exc:
        direct.acting_household(staff_a, household_b.pk)
    assert exc.value.error_dict["household"][0].code == "not_found"
    with pytest.raises(PermissionDenied):
        direct.checkout(staff_a, household_b, "cash", "x-1")
    assert not StationBasket.objects.exists()


@pytest.mark.django_db
def test_plan_hand_over_lands_in_the_household_basket(staff_a, household_a, station_a, urea):
    record = _record(urea)
    line = extensions.PlanLine(urea.pk, "UREA-1", urea.title, 6, record.price, "stock", str(record.pk))
    accepted, rest = extensions.accept_plan_lines(station_a, household_a, [line], staff_a)
    assert [a.quantity for a in accepted] == [6] and not rest
    view = direct.basket_view(staff_a, household_a)
    assert [(ln.stockrecord_id, ln.quantity) for ln in view.lines] == [(record.pk, 6)]
    order = direct.checkout(staff_a, household_a, "cash", "plan-1")
    assert [(ln.product_id, ln.quantity) for ln in order.lines.all()] == [(urea.pk, 6)]


@pytest.mark.django_db
def test_sold_out_and_multi_supplier_baskets(staff_a, household_a, urea, compound):
    with pytest.raises(ValidationError) as exc:
        direct.add_to_basket(staff_a, household_a, urea.pk, 11)
    assert exc.value.error_dict["quantity"][0].code == "out_of_stock"
    direct.add_to_basket(staff_a, household_a, urea.pk, 2)
    direct.add_to_basket(staff_a, household_a, compound.pk, 1)
    with pytest.raises(ValidationError) as exc:
        direct.checkout(staff_a, household_a, "cash", "m-1")
    assert exc.value.error_dict["partner"][0].code == "required"
    order = direct.checkout(staff_a, household_a, "cash", "m-2", partner_id=_record(compound).partner_id)
    assert [ln.product_id for ln in order.lines.all()] == [compound.pk]
    # the other supplier's line stays in the household's basket
    assert [ln.product_id for ln in direct.basket_view(staff_a, household_a).lines] == [urea.pk]
    # stock sold meanwhile (another channel): checkout refuses, nothing written
    StockRecord.objects.filter(pk=_record(urea).pk).update(num_in_stock=1)
    with pytest.raises(ValidationError) as exc:
        direct.checkout(staff_a, household_a, "cash", "m-3")
    assert exc.value.error_dict["quantity"][0].code == "out_of_stock"
    assert Order.objects.count() == 1 and not _record(urea).num_allocated


@pytest.fixture
def restricted(product_classes, supplier):
    today = timezone.localdate()
    PartnerLicence.objects.create(
        partner=supplier,
        kind=LicenceKind.PESTICIDE_BUSINESS,
        number="PB-9",
        restricted_scope=True,
        valid_from=today - timedelta(days=30),
        valid_until=today + timedelta(days=300),
    )
    Product = get_model("catalogue", "Product")
    product = Product(title="农药RP9", product_class=product_classes["pesticide"], upc="UPC-RP9")
    product.attr.registration_no = "PD20191000"
    product.attr.active_ingredient = "甲拌磷"
    product.attr.toxicity = "高毒"
    product.attr.restricted_use = True
    product.attr.net_content = "1 kg"
    product.save()
    StockRecord.objects.create(
        product=product, partner=supplier, partner_sku="RP9", price=Decimal("25.00"), num_in_stock=50
    )
    return product


@pytest.mark.django_db
def test_restricted_pesticide_needs_station_licence_and_real_name(
    staff_a, household_a, station_a, restricted
):
    with pytest.raises(ValidationError) as exc:
        direct.add_to_basket(staff_a, household_a, restricted.pk, 1)
    assert exc.value.error_dict["product"][0].code == "licence_required"
    today = timezone.localdate()
    StationPesticideLicence.objects.create(
        station=station_a,
        number="ST-9",
        restricted_scope=True,
        valid_from=today - timedelta(days=1),
        valid_until=today + timedelta(days=30),
    )
    direct.add_to_basket(staff_a, household_a, restricted.pk, 1)
    with pytest.raises(ValidationError) as exc:
        direct.checkout(staff_a, household_a, "cash", "r-1")
    assert exc.value.error_dict["household"][0].code == "real_name_required"
    assert not Order.objects.exists() and not Payment.objects.exists()
    Household.objects.filter(pk=household_a.pk).update(id_number="220112199001011234")
    household_a.refresh_from_db()
    order = direct.checkout(staff_a, household_a, "cash", "r-2")
    assert RealNameRecord.objects.get().reference == order.number


@pytest.mark.django_db
def test_pipeline_supplier_ships_station_receives_and_hands_out(
    staff_a, staff_b, household_a, urea, supplier_user, other_supplier
):
    from testkit import make_user

    from marketplace.accounts.models import Role

    direct.add_to_basket(staff_a, household_a, urea.pk, 2)
    order = direct.checkout(staff_a, household_a, "cash", "p-1")
    stranger = make_user("sup_other", Role.SUPPLIER)
    other_supplier.users.add(stranger)
    with pytest.raises(PermissionDenied):
        direct.mark_shipped(stranger, order)
    with pytest.raises(PermissionDenied):
        direct.mark_shipped(staff_a, order)
    order = direct.mark_shipped(supplier_user, order)
    record = _record(urea)
    assert order.status == statuses.SHIPPED and (record.num_in_stock, record.num_allocated) == (8, 0)
    with pytest.raises(PermissionDenied):
        direct.receive(staff_b, order)
    order = direct.receive(staff_a, order)
    assert order.status == statuses.AT_STATION
    code = DirectOrder.objects.get(order=order).pickup_code
    with pytest.raises(ValidationError):
        direct.hand_out(staff_a, order, "000000" if code != "000000" else "111111")
    with pytest.raises(PermissionDenied):
        direct.hand_out(staff_b, order, code)
    order = direct.hand_out(staff_a, order, code)
    assert order.status == statuses.COLLECTED
    assert list(order.status_changes.values_list("new_status", flat=True).order_by("pk")) == [
        statuses.SHIPPED,
        statuses.AT_STATION,
        statuses.COLLECTED,
    ]


@pytest.mark.django_db
def test_refund_before_shipping_releases_stock_and_money(staff_a, household_a, urea):
    direct.add_to_basket(staff_a, household_a, urea.pk, 3)
    order = direct.checkout(staff_a, household_a, "cash", "f-1")
    order = direct.refund(staff_a, order, "农户改主意")
    assert order.status == statuses.REFUNDED and not _record(urea).num_allocated
    payment = DirectOrder.objects.get(order=order).payment
    assert payment.refunds.get().amount == Decimal("360.00")


# --- Two staff racing for the last units (PostgreSQL, real threads and connections) ---------------


@pytest.mark.django_db(transaction=True)
def test_two_staff_racing_for_the_last_units(staff_a, station_a, household_a, urea):
    from testkit import make_user

    from marketplace.accounts.models import Role
    from marketplace.stations.models import StationStaff

    if connection.vendor != "postgresql":
        pytest.fail("the race test needs PostgreSQL (DATABASE_URL)")
    second = make_user("staff_a2", Role.STATION_STAFF)
    StationStaff.objects.create(station=station_a, user=second)
    neighbour = Household.objects.create(station=station_a, village=station_a.village, name="王德林")
    direct.add_to_basket(staff_a, household_a, urea.pk, 7)
    direct.add_to_basket(second, neighbour, urea.pk, 7)  # 14 in baskets, 10 in stock
    results = run_parallel(
        lambda actor, household, key: direct.checkout(actor, household, "cash", key),
        [(staff_a, household_a, "race-1"), (second, neighbour, "race-2")],
    )
    won = [r for r in results if isinstance(r, Order)]
    lost = [r for r in results if isinstance(r, ValidationError)]
    assert len(won) == 1 and len(lost) == 1, results
    assert lost[0].error_dict["quantity"][0].code == "out_of_stock"
    assert "库存不足" in lost[0].error_dict["quantity"][0].messages[0]
    record = _record(urea)
    assert record.num_allocated == 7 and record.net_stock_level == 3
    assert Payment.objects.count() == 1 and Order.objects.count() == 1


# --- Pages ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pages_basket_checkout_and_order_actions(client, staff_a, staff_b, household_a, urea, supplier_user):
    from django.urls import reverse

    client.force_login(staff_a)
    page = client.get(reverse("storefront:catalogue-product", args=[urea.pk])).content.decode()
    assert reverse("storefront:station-orders") + f"?product={urea.pk}" in page
    page = client.get(reverse("storefront:station-orders"), {"q": "张", "product": urea.pk}).content.decode()
    assert household_a.name in page
    basket_url = reverse("storefront:station-basket", args=[household_a.pk])
    page = client.get(basket_url, {"product": urea.pk}).content.decode()
    assert urea.title in page and "可售 10" in page
    record = _record(urea)
    add = reverse("storefront:station-basket-add", args=[household_a.pk])
    client.post(add, {"product": urea.pk, "stockrecord": record.pk, "quantity": 11})
    assert "库存不足" in client.get(basket_url).content.decode()
    client.post(add, {"product": urea.pk, "stockrecord": record.pk, "quantity": 2})
    page = client.get(basket_url).content.decode()
    assert "¥240.00" in page
    checkout = reverse("storefront:station-checkout", args=[household_a.pk])
    data = {
        "method": "cash",
        "checkout_key": "page-1",
        "partner": record.partner_id,
        "expected_total": "240.00",
    }
    response = client.post(checkout, data)
    order = Order.objects.get()
    assert response.status_code == 302 and response.url == reverse("storefront:order", args=[order.number])
    assert client.post(checkout, data).url == response.url  # the form sent twice: the same order
    assert Order.objects.count() == 1
    code = order.direct.pickup_code
    assert code in client.get(response.url).content.decode()  # the success message, once
    # another station's staff cannot open the household's basket or the order
    client.force_login(staff_b)
    assert client.get(basket_url).status_code == 403
    assert client.get(reverse("storefront:order", args=[order.number])).status_code == 404
    # the supplier sees the order without the household, and ships it
    client.force_login(supplier_user)
    page = client.get(reverse("storefront:order", args=[order.number])).content.decode()
    assert household_a.name not in page and household_a.station.name not in page and code not in page
    assert 'data-testid="order-ship"' in page
    to_ship = client.get(reverse("storefront:orders"), {"status": statuses.ORDERED}).content.decode()
    assert order.number in to_ship and household_a.name not in to_ship
    client.post(reverse("storefront:order-action", args=[order.number, "ship"]))
    order.refresh_from_db()
    assert order.status == statuses.SHIPPED
    assert (
        order.number
        not in client.get(reverse("storefront:orders"), {"status": statuses.ORDERED}).content.decode()
    )
    client.force_login(staff_a)
    client.post(reverse("storefront:order-action", args=[order.number, "receive"]))
    client.post(reverse("storefront:order-action", args=[order.number, "hand-out"]), {"code": code})
    order.refresh_from_db()
    assert order.status == statuses.COLLECTED


# --- GraphQL ----------------------------------------------------------------------------------

ADD = """mutation($h: ID!, $p: ID!, $q: Int!) { stationBasketAdd(householdId: $h, productId: $p, quantity: $q) {
  errors { field code message } basket { total { amount } lines { id title quantity partnerName } } } }"""
CHECKOUT = """mutation($h: ID!, $m: String!, $k: String!) { stationCheckout(householdId: $h, paymentMethod: $m,
  checkoutKey: $k) { errors { field code message } pickupCode order { number status total { amount } householdName } } }"""
SHIP = """mutation($n: String!) { orderMarkShipped(number: $n) { errors { code } order { status householdName stationName } } }"""
RECEIVE = """mutation($n: String!) { orderReceive(number: $n) { errors { code } order { status } } }"""
HAND_OUT = """mutation($n: String!, $c: String!) { orderHandOut(number: $n, pickupCode: $c) { errors { field code } order { status } } }"""


@pytest.mark.django_db
def test_graphql_basket_checkout_pipeline_and_refusals(
    gql, staff_a, staff_b, household_a, household_b, urea, supplier_user, farmer_a
):
    staff = gql(staff_a)
    # refusals: wrong role, another station's household, too many, unknown product
    out = gql(farmer_a)(ADD, {"h": household_a.pk, "p": urea.pk, "q": 1})["data"]["stationBasketAdd"]
    assert out["errors"][0]["code"] == "PERMISSION_DENIED" and out["basket"] is None
    out = gql(supplier_user)(CHECKOUT, {"h": household_a.pk, "m": "cash", "k": "g"})["data"][
        "stationCheckout"
    ]
    assert out["errors"][0]["code"] == "PERMISSION_DENIED"
    out = staff(ADD, {"h": household_b.pk, "p": urea.pk, "q": 1})["data"]["stationBasketAdd"]
    assert out["errors"] == [{"field": "household", "code": "NOT_FOUND", "message": "只能为本站点的农户下单"}]
    out = staff(ADD, {"h": household_a.pk, "p": urea.pk, "q": 11})["data"]["stationBasketAdd"]
    assert out["errors"][0]["code"] == "OUT_OF_STOCK" and out["errors"][0]["field"] == "quantity"
    out = staff(ADD, {"h": household_a.pk, "p": 999999, "q": 1})["data"]["stationBasketAdd"]
    assert out["errors"][0]["code"] == "NOT_FOUND"
    out = staff(ADD, {"h": household_a.pk, "p": urea.pk, "q": 2})["data"]["stationBasketAdd"]
    assert out["errors"] == [] and out["basket"]["total"]["amount"] == "240.00"
    q = "query($h: ID!) { stationBasket(householdId: $h) { lines { quantity } } }"
    assert staff(q, {"h": household_a.pk})["data"]["stationBasket"]["lines"] == [{"quantity": 2}]
    assert gql(staff_b)(q, {"h": household_a.pk})["data"]["stationBasket"] is None
    out = staff(CHECKOUT, {"h": household_a.pk, "m": "bitcoin", "k": "g-1"})["data"]["stationCheckout"]
    assert out["errors"][0] == {"field": "paymentMethod", "code": "REQUIRED", "message": "请选择付款方式"}
    out = staff(CHECKOUT, {"h": household_a.pk, "m": "credit", "k": "g-1"})["data"]["stationCheckout"]
    assert out["errors"][0]["code"] == "LIMIT_EXCEEDED" and out["order"] is None
    out = staff(CHECKOUT, {"h": household_a.pk, "m": "cash", "k": "g-2"})["data"]["stationCheckout"]
    assert out["errors"] == [] and out["order"]["total"]["amount"] == "240.00"
    number, code = out["order"]["number"], out["pickupCode"]
    again = staff(CHECKOUT, {"h": household_a.pk, "m": "cash", "k": "g-2"})["data"]["stationCheckout"]
    assert again["order"]["number"] == number and Order.objects.count() == 1
    # the supplier ships without seeing whom for; the station receives and hands out
    assert (
        gql(staff_a)(SHIP, {"n": number})["data"]["orderMarkShipped"]["errors"][0]["code"]
        == "PERMISSION_DENIED"
    )
    out = gql(supplier_user)(SHIP, {"n": number})["data"]["orderMarkShipped"]
    assert out == {
        "errors": [],
        "order": {"status": statuses.SHIPPED, "householdName": None, "stationName": None},
    }
    assert gql(staff_b)(RECEIVE, {"n": number})["data"]["orderReceive"]["errors"][0]["code"] == "NOT_FOUND"
    assert staff(RECEIVE, {"n": number})["data"]["orderReceive"]["order"]["status"] == statuses.AT_STATION
    wrong = "000000" if code != "000000" else "111111"
    out = staff(HAND_OUT, {"n": number, "c": wrong})["data"]["orderHandOut"]
    assert out["errors"] == [{"field": "code", "code": "INVALID"}]
    out = staff(HAND_OUT, {"n": number, "c": code})["data"]["orderHandOut"]
    assert out == {"errors": [], "order": {"status": statuses.COLLECTED}}


@pytest.mark.django_db
def test_pages_in_english_have_no_chinese_outside_data(staff_a, household_a, urea, supplier):
    from django.urls import reverse
    from testkit import CJK, data_strings, english_client, ui_outside_data

    client = english_client(staff_a)
    record = _record(urea)
    direct.add_to_basket(staff_a, household_a, urea.pk, 1)
    data = [str(staff_a), *data_strings(household_a, urea, record, supplier, household_a.station)]
    pages = [
        reverse("storefront:station-orders"),
        reverse("storefront:station-basket", args=[household_a.pk]) + f"?product={urea.pk}",
    ]
    order = direct.checkout(staff_a, household_a, "cash", "en-1")
    pages.append(reverse("storefront:order", args=[order.number]))
    for url in pages:
        html = client.get(url).content.decode()
        assert not CJK.search(ui_outside_data(html, data)), (url, CJK.findall(ui_outside_data(html, data)))
    direct.add_to_basket(staff_a, household_a, urea.pk, 1)
    html = client.get(pages[1]).content.decode()
    assert "Take payment and place the order" in html and not CJK.search(ui_outside_data(html, data))


@pytest.mark.django_db
def test_a_changed_price_is_refused_then_shown(staff_a, household_a, urea):
    direct.add_to_basket(staff_a, household_a, urea.pk, 2)
    StockRecord.objects.filter(product=urea).update(price=Decimal("125.00"))
    with pytest.raises(ValidationError) as exc:
        direct.checkout(staff_a, household_a, "cash", "pr-1", expected_total="240.00")
    assert exc.value.error_dict["basket"][0].code == "invalid_state" and "250.00" in exc.value.messages[0]
    assert not Order.objects.exists() and not Payment.objects.exists()
    assert direct.basket_view(staff_a, household_a).total == Decimal("250.00")  # the page shows the new total
    order = direct.checkout(staff_a, household_a, "cash", "pr-2", expected_total="250.00")
    assert order.total_incl_tax == Decimal("250.00")
