"""group_orders' other extension points: ``delivery_requests`` (consolidated purchase orders as loads
for the delivery planner) and ``accept_plan_lines`` (plan lines from a campaign offer become pledges)."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from oscar.core.loading import get_model
from testkit import licensed, make_station, make_warehouse

from marketplace.apps.catalogue.product_types import FARM_SUPPLY, SEED
from marketplace.core import extensions
from marketplace.core.extensions import PlanLine
from marketplace.payments.models import Payment, PaymentMethod
from marketplace.stations.models import StationPesticideLicence
from plugins.group_orders import services
from plugins.group_orders.closing import close_campaign
from plugins.group_orders.models import (
    Campaign,
    DeliveryStatus,
    Pledge,
    PledgeStatus,
    PurchaseOrder,
    StationDelivery,
)

pytestmark = pytest.mark.django_db

StockRecord = get_model("partner", "StockRecord")
Product = get_model("catalogue", "Product")


def group_loads(**kw):
    return [r for r in extensions.delivery_requests(**kw) if r.source == "group-buy"]


def make_seed(product_classes, partner, sku="SEED-1", kg=25.0):
    product = Product(title="先玉335 玉米种子", product_class=product_classes[SEED], upc=f"UPC-{sku}")
    product.attr.crop, product.attr.variety = "玉米", "先玉335"
    product.attr.variety_approval_no, product.attr.licence_no = "国审玉2004017", "A(国)农种许字(2016)第0001号"
    product.attr.germination_pct, product.attr.net_content_kg = 95.0, kg
    product.save()
    licensed(partner, product)
    StockRecord.objects.create(
        product=product, partner=partner, partner_sku=sku, price=Decimal("150.00"), num_in_stock=100000
    )
    return product


def in_warehouse(product, warehouse):
    StockRecord.objects.filter(product=product).update(warehouse=warehouse)


@pytest.fixture
def two_warehouses(supplier, wh):
    return wh, make_warehouse(supplier, "WH2", lat="43.70", lon="125.90")


@pytest.fixture
def seed(product_classes, supplier):
    return make_seed(product_classes, supplier)


@pytest.fixture
def closed(
    staff_a, staff_b, station_a, station_b, fertilizer, seed, two_warehouses, campaign_factory,
    households_a, make_households, expire,
):  # fmt: skip
    """A campaign closed with success: fertilizer from WH1, seed from WH2, to stations A and B."""
    wh1, wh2 = two_warehouses
    in_warehouse(fertilizer, wh1)
    in_warehouse(seed, wh2)
    station_b.opens_at, station_b.closes_at = time(9, 0), time(16, 0)
    station_b.latitude, station_b.longitude = Decimal("43.600000"), Decimal("125.760000")
    station_b.phone = "13900000002"
    station_b.save()
    c = campaign_factory([fertilizer, seed], title="春耕套餐团购")
    fert, sd = c.items.get(product=fertilizer), c.items.get(product=seed)
    hb = make_households(station_b, 2)
    services.place_pledge(staff_a, fert, households_a[0], 60, "cash")
    services.place_pledge(staff_a, sd, households_a[0], 10, "cash")
    services.place_pledge(staff_a, fert, households_a[2], 30, "cash")
    services.place_pledge(staff_a, fert, households_a[1], 20, "credit")
    services.place_pledge(staff_b, fert, hb[0], 30, "cash")
    services.place_pledge(staff_b, sd, hb[1], 5, "cash")
    expire(c)
    return close_campaign(c.pk)


def test_closed_campaign_gives_one_load_per_warehouse_and_station(
    closed, two_warehouses, station_a, station_b
):
    wh1, wh2 = two_warehouses
    po1 = PurchaseOrder.objects.get(campaign=closed, warehouse=wh1)
    po2 = PurchaseOrder.objects.get(campaign=closed, warehouse=wh2)
    loads = {r.ref: r for r in group_loads()}
    assert set(loads) == {
        f"group_orders:po:{po1.pk}:station:{station_a.pk}",
        f"group_orders:po:{po1.pk}:station:{station_b.pk}",
        f"group_orders:po:{po2.pk}:station:{station_a.pk}",
        f"group_orders:po:{po2.pk}:station:{station_b.pk}",
    }
    a1 = loads[f"group_orders:po:{po1.pk}:station:{station_a.pk}"]
    assert a1.weight_kg == Decimal("4400")  # 110 bags × 40 kg
    assert a1.lines == (("复合肥 15-15-15 40kg", 110),)
    assert (a1.origin_kind, a1.origin_id, a1.origin_name) == ("warehouse", wh1.pk, wh1.name)
    assert (a1.origin_lat, a1.origin_lon) == (float(wh1.latitude), float(wh1.longitude))
    assert (a1.destination_kind, a1.destination_id) == ("station", station_a.pk)
    assert (a1.destination_lat, a1.destination_lon) == (43.5, 125.6)
    assert (a1.window_start, a1.window_end) == (time(8, 0), time(17, 30))
    assert a1.ready_on == closed.delivery_from
    b1 = loads[f"group_orders:po:{po1.pk}:station:{station_b.pk}"]
    assert b1.weight_kg == Decimal("1200")
    assert (b1.destination_lat, b1.destination_lon) == (43.6, 125.76)
    assert (b1.window_start, b1.window_end, b1.contact) == (time(9, 0), time(16, 0), "13900000002")
    a2 = loads[f"group_orders:po:{po2.pk}:station:{station_a.pk}"]
    assert (a2.origin_id, a2.origin_lat, a2.weight_kg) == (wh2.pk, 43.7, Decimal("250"))  # 10 × 25 kg
    assert loads[f"group_orders:po:{po2.pk}:station:{station_b.pk}"].weight_kg == Decimal("125")
    # stable: asking again gives the same requests
    assert group_loads() == sorted(loads.values(), key=lambda r: r.ref)


def test_ready_by_and_delivery_status_filter_loads(closed, station_a):
    assert group_loads(ready_by=closed.delivery_from - timedelta(days=1)) == []
    assert len(group_loads(ready_by=closed.delivery_from)) == 4
    shipped, received = StationDelivery.objects.filter(campaign=closed).order_by("pk")[:2]
    StationDelivery.objects.filter(pk=shipped.pk).update(status=DeliveryStatus.SHIPPED)
    StationDelivery.objects.filter(pk=received.pk).update(status=DeliveryStatus.RECEIVED)
    refs = {r.ref for r in group_loads()}
    assert len(refs) == 3  # shipped: released by the supplier, still to be carried
    assert f"group_orders:po:{shipped.purchase_order_id}:station:{shipped.station_id}" in refs
    assert f"group_orders:po:{received.purchase_order_id}:station:{received.station_id}" not in refs


def test_failed_and_open_campaigns_give_no_loads(
    staff_a, fertilizer, wh, campaign_factory, households_a, expire
):
    in_warehouse(fertilizer, wh)
    failed = campaign_factory([fertilizer], title="未成团", min_total=1000)
    services.place_pledge(staff_a, failed.items.get(), households_a[0], 10, "cash")
    expire(failed)
    assert close_campaign(failed.pk).status == "failed"
    open_one = campaign_factory([fertilizer], title="进行中", min_total=5)
    services.place_pledge(staff_a, open_one.items.get(), households_a[1], 10, "cash")
    assert group_loads() == []


def test_po_without_dispatch_warehouse_is_left_out(
    staff_a, fertilizer, campaign_factory, households_a, expire
):
    c = campaign_factory([fertilizer], min_total=5)  # the fixture's stock record has no warehouse
    services.place_pledge(staff_a, c.items.get(), households_a[0], 10, "cash")
    close_campaign(expire(c).pk)
    assert PurchaseOrder.objects.filter(campaign=c, warehouse=None).exists()
    assert group_loads() == []


def _closed_with_stations(n, county, fertilizer, seed, campaign_factory, make_households, operator, expire):
    c = campaign_factory([fertilizer, seed], title=f"{n} 站团购", min_total=1)
    fert, sd = c.items.get(product=fertilizer), c.items.get(product=seed)
    for i in range(n):
        station = make_station(county, f"Q{n}-{i}", f"站{n}-{i}")
        h = make_households(station, 1)[0]
        services.place_pledge(operator, fert, h, 3, "credit")
        services.place_pledge(operator, sd, h, 1, "credit")
    return close_campaign(expire(c).pk)


def test_no_query_per_purchase_order_or_station(
    county, fertilizer, seed, two_warehouses, campaign_factory, make_households, operator, expire,
    django_assert_max_num_queries,
):  # fmt: skip
    in_warehouse(fertilizer, two_warehouses[0])
    in_warehouse(seed, two_warehouses[1])
    _closed_with_stations(2, county, fertilizer, seed, campaign_factory, make_households, operator, expire)
    with django_assert_max_num_queries(4):
        assert len(group_loads()) == 4
    _closed_with_stations(12, county, fertilizer, seed, campaign_factory, make_households, operator, expire)
    with django_assert_max_num_queries(4):
        loads = group_loads()
    assert len(loads) == 4 + 24
    assert {r.weight_kg for r in loads} == {Decimal("120"), Decimal("25")}


def test_unit_weights_from_attributes(product_classes, fertilizer, seed, restricted_pesticide):
    pesticide = restricted_pesticide  # net content "500ml"
    gloves = Product.objects.create(title="劳保手套", product_class=product_classes[FARM_SUPPLY])
    weights = services.unit_weights([fertilizer.pk, seed.pk, pesticide.pk, gloves.pk])
    assert weights == {
        fertilizer.pk: Decimal("40"),
        seed.pk: Decimal("25"),
        pesticide.pk: Decimal("0.5"),
        gloves.pk: services.DEFAULT_UNIT_KG,
    }


# --- accept_plan_lines ---------------------------------------------------------------------------


def plan_line(campaign, product, quantity, price="150.00", source="group-buy", method="cash"):
    return PlanLine(
        product_id=product.pk,
        sku="x",
        title=product.title,
        quantity=quantity,
        unit_price=Decimal(price),
        source=source,
        source_ref=str(campaign.pk),
        payment_method=method,
    )


def test_plan_lines_from_a_campaign_offer_become_pledges(
    station_a, staff_a, campaign, fertilizer, households_a
):
    offer = next(o for o in extensions.purchasable_offers(station_a) if o.source == "group-buy")
    assert offer.source_ref == str(campaign.pk)
    record = StockRecord.objects.get(product=fertilizer)
    stock = PlanLine(
        fertilizer.pk, record.partner_sku, fertilizer.title, 2, record.price, "stock", str(record.pk)
    )
    line = plan_line(campaign, fertilizer, 12, price=str(offer.unit_price))
    accepted, rest = extensions.accept_plan_lines(station_a, households_a[0], [line, stock], user=staff_a)
    assert rest == []
    by = {a.line: a for a in accepted}
    assert by[stock].accepted_by == "stock"
    pledge = Pledge.objects.get(campaign=campaign, household=households_a[0])
    assert (by[line].accepted_by, by[line].ref, by[line].quantity) == ("group-buy", f"pledge:{pledge.pk}", 12)
    assert (pledge.quantity, pledge.status, pledge.payment_method) == (12, PledgeStatus.ACTIVE, "cash")
    assert pledge.payment.method == PaymentMethod.CASH and pledge.placed_by == staff_a
    campaign.refresh_from_db()
    assert campaign.total_quantity == 12


def test_household_login_pledges_on_credit(station_a, campaign, fertilizer, household_a, farmer_a):
    with pytest.raises(ValidationError) as err:  # no approved credit: refused, nothing pledged
        extensions.accept_plan_lines(
            station_a, household_a, [plan_line(campaign, fertilizer, 3, method="credit")], farmer_a
        )
    assert "赊销" in err.value.messages[0] and fertilizer.title in err.value.messages[0]
    household_a.credit_limit = Decimal("5000")
    household_a.save()
    accepted, _ = extensions.accept_plan_lines(
        station_a, household_a, [plan_line(campaign, fertilizer, 3, method="credit")], farmer_a
    )
    assert Pledge.objects.get(pk=int(accepted[0].ref.split(":")[1])).payment_method == PaymentMethod.CREDIT


def test_refusal_rolls_back_the_whole_hand_over(
    station_a, staff_a, fertilizer, seed, campaign_factory, households_a
):
    c = campaign_factory([fertilizer, seed], per_household_limit=20)
    lines = [plan_line(c, fertilizer, 10), plan_line(c, seed, 15)]  # 25 > 20 per household
    payments_before = Payment.objects.count()
    with pytest.raises(ValidationError) as err:
        extensions.accept_plan_lines(station_a, households_a[0], lines, user=staff_a)
    assert err.value.code == "limit_exceeded" and seed.title in err.value.messages[0]
    assert not Pledge.objects.filter(campaign=c).exists()
    assert Payment.objects.count() == payments_before
    assert Campaign.objects.get(pk=c.pk).total_quantity == 0
    # an unknown campaign is refused by name, too
    gone = PlanLine(
        fertilizer.pk, "x", fertilizer.title, 1, Decimal("1"), "group-buy", "999999", payment_method="cash"
    )
    with pytest.raises(ValidationError) as err:
        extensions.accept_plan_lines(station_a, households_a[0], [gone], user=staff_a)
    assert err.value.code == "not_found" and fertilizer.title in err.value.messages[0]


def test_lines_of_other_sources_are_left_alone(station_a, staff_a, campaign, fertilizer, households_a):
    other = plan_line(campaign, fertilizer, 2, source="somebody-else")
    accepted, rest = extensions.accept_plan_lines(station_a, households_a[0], [other], user=staff_a)
    assert accepted == [] and rest == [other]
    assert not Pledge.objects.exists()


def test_restricted_pesticide_uses_core_station_check(
    station_a, staff_a, restricted_pesticide, campaign_factory, households_a
):
    c = campaign_factory([restricted_pesticide], title="限用农药", min_total=5, tiers=())
    line = plan_line(c, restricted_pesticide, 2)
    today = timezone.localdate()
    StationPesticideLicence.objects.create(  # a licence without restricted scope is not enough
        station=station_a, number="JL-1", restricted_scope=False,
        valid_from=today - timedelta(days=1), valid_until=today + timedelta(days=300),
    )  # fmt: skip
    with pytest.raises(ValidationError) as err:
        extensions.accept_plan_lines(station_a, households_a[0], [line], user=staff_a)
    assert err.value.code == "licence_required" and "许可证" in err.value.messages[0]
    StationPesticideLicence.objects.create(
        station=station_a, number="JL-2", restricted_scope=True,
        valid_from=today - timedelta(days=1), valid_until=today + timedelta(days=300),
    )  # fmt: skip
    with pytest.raises(ValidationError) as err:
        extensions.accept_plan_lines(station_a, households_a[0], [line], user=staff_a)
    assert err.value.code == "real_name_required"
    households_a[0].id_number = "220112198001011234"
    households_a[0].save()
    accepted, _ = extensions.accept_plan_lines(station_a, households_a[0], [line], user=staff_a)
    assert accepted[0].accepted_by == "group-buy"
