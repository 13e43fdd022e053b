"""Buyer journey against localstripe: sign-up, pay (card authorised), order placed only when paid,
cancel before cutoff voids the authorisation, packing, delivery code captures and credits the
cooperative with commission, refunds reverse it; the core sellable rule on every path."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest  # axes' backend needs the request
from django.utils import timezone
from produce_kit import ADDRESS, delivery_slot, stock_of, unit_of
from testkit import CARD_3DS, CARD_PLAIN, stripe_authenticate, stripe_card_token

from marketplace.apps.partner.models import VerificationStatus
from marketplace.core.extensions import delivery_requests
from marketplace.payments import gateway
from marketplace.payments.models import LedgerEntry, PaymentStatus
from plugins.produce import services
from plugins.produce.models import Checkout, OrderState, ProduceOrder

pytestmark = [pytest.mark.django_db, pytest.mark.stripe]


def _pay(buyer, rnd, lot, qty=2, card=CARD_PLAIN, key="k1"):
    return services.start_checkout(
        buyer, rnd, {unit_of(lot).pk: qty}, delivery_slot(rnd).pk, ADDRESS, "card", key,
        token=stripe_card_token(card),
    )  # fmt: skip


def test_sign_up_with_mobile_number_and_password(client):
    r = client.post("/p/produce/signup/", {"phone": "1380000", "password": "x"})
    assert r.status_code == 200 and "请输入11位中国大陆手机号码" in r.content.decode()
    r = client.post("/p/produce/signup/", {"phone": "13812345678", "password": "mangguo-2026-long"})
    assert r.status_code == 302
    assert client.get("/p/produce/orders/").status_code == 200
    client.logout()
    assert client.login(request=HttpRequest(), username="13812345678", password="mangguo-2026-long")
    with pytest.raises(ValidationError) as err:
        services.sign_up_buyer("13812345678", "another-long-pass")
    assert err.value.message_dict["phone"]


def test_paid_order_is_placed_and_stock_allocated(stripe_settings, city_buyer, rnd, lot):
    result = _pay(city_buyer, rnd, lot, qty=10)
    po = result.order
    assert po.payment_state == PaymentStatus.AUTHORISED and po.state == OrderState.PAID
    assert po.amount == Decimal("1180.00")  # price break: 10 bags at 118
    assert po.order.total_incl_tax == po.amount and po.order.user == city_buyer
    line = po.order.lines.get()
    assert (line.quantity, line.unit_price_incl_tax) == (10, Decimal("118.00"))
    assert stock_of(lot).num_allocated == 10
    intent = gateway.retrieve(po.payment.stripe_payment_intent)
    assert (intent.status, intent.amount) == ("requires_capture", 118000)
    # The same form sent twice: one order.
    again = services.start_checkout(
        city_buyer, rnd, {unit_of(lot).pk: 10}, delivery_slot(rnd).pk, ADDRESS, "card", "k1"
    )
    assert again.order.pk == po.pk and ProduceOrder.objects.count() == 1


def test_declined_card_places_nothing(stripe_settings, city_buyer, rnd, lot):
    with pytest.raises(ValidationError) as err:
        _pay(city_buyer, rnd, lot, card="4000000000000341")
    assert next(iter(err.value.error_dict.values()))[0].code == "payment_failed"
    assert not ProduceOrder.objects.exists() and stock_of(lot).num_allocated in (None, 0)


def test_3ds_card_waits_then_places(stripe_settings, localstripe_url, city_buyer, rnd, lot):
    result = _pay(city_buyer, rnd, lot, card=CARD_3DS, key="k3")
    assert result.order is None and result.next_action == {"type": "confirm_card"}
    assert not ProduceOrder.objects.exists()
    stripe_authenticate(localstripe_url, result.checkout.payment.stripe_payment_intent, success=True)
    po = services.resume_checkout(city_buyer, "k3").order
    assert po.payment_state == PaymentStatus.AUTHORISED and stock_of(lot).num_allocated == 2


def test_bad_address_names_the_field(stripe_settings, city_buyer, rnd, lot):
    bad = services.Address(
        province="吉林省", city="长春市", district="", street="", contact_name="", contact_phone="123"
    )
    with pytest.raises(ValidationError) as err:
        services.start_checkout(
            city_buyer, rnd, {unit_of(lot).pk: 1}, delivery_slot(rnd).pk, bad, "card", "kb", token="tok_x"
        )
    assert {"district", "street", "contact_name", "contact_phone"} <= set(err.value.message_dict)


def test_suspended_cooperative_cannot_sell_through_any_path(
    stripe_settings, city_buyer, rnd, lot, coop, client
):
    coop.verification_status = VerificationStatus.SUSPENDED
    coop.save()
    assert services.check_sellable(unit_of(lot).product, 1)  # the core Strategy says no
    with pytest.raises(ValidationError):
        _pay(city_buyer, rnd, lot)
    assert not Checkout.objects.exists()
    # Oscar's own basket asks the same Strategy.
    client.force_login(city_buyer)
    r = client.post(f"/shop/basket/add/{unit_of(lot).product.pk}/", {"quantity": 1})
    from oscar.core.loading import get_model

    Basket = get_model("basket", "Basket")
    assert r.status_code in (302, 403, 404)
    assert not Basket.objects.filter(owner=city_buyer, lines__product=unit_of(lot).product).exists()


def test_cancel_before_cutoff_voids_the_authorisation(stripe_settings, city_buyer, rnd, lot, client):
    po = _pay(city_buyer, rnd, lot, qty=3).order
    client.force_login(city_buyer)
    r = client.post(f"/p/produce/orders/{po.pk}/cancel/")
    assert r.status_code == 302
    po.refresh_from_db()
    assert (po.state, po.payment_state) == (OrderState.CANCELLED, PaymentStatus.CANCELLED)
    assert gateway.retrieve(po.payment.stripe_payment_intent).status == "canceled"
    assert stock_of(lot).num_allocated == 0


def test_cannot_cancel_after_cutoff_or_someone_elses(stripe_settings, city_buyer, rnd, lot):
    from testkit import make_user

    po = _pay(city_buyer, rnd, lot).order
    other = make_user("13800000099", "city_buyer")
    with pytest.raises(PermissionDenied):
        services.cancel_order(other, po)
    type(rnd).objects.filter(pk=rnd.pk).update(cutoff_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ValidationError):
        services.cancel_order(city_buyer, po)


def test_pack_hand_over_deliver_capture_and_commission(
    stripe_settings, city_buyer, rnd, lot, coop_user, coop, other_coop_user
):
    po = _pay(city_buyer, rnd, lot, qty=2).order
    with pytest.raises(PermissionDenied):
        services.mark_packed(other_coop_user, po)
    assert not [r for r in delivery_requests() if r.source == "produce"]
    services.mark_packed(coop_user, po)
    reqs = [r for r in delivery_requests() if r.source == "produce"]
    assert len(reqs) == 1 and reqs[0].origin_kind == "collection_point"
    assert reqs[0].weight_kg == Decimal("20.000") and reqs[0].window_start.hour == 9
    assert reqs[0].destination_lat == pytest.approx(43.833)
    with pytest.raises(ValidationError):
        services.confirm_delivery(coop_user, po, "000000" if po.delivery_code != "000000" else "111111")
    services.confirm_delivery(coop_user, po, po.delivery_code)
    po.refresh_from_db()
    assert (po.state, po.payment_state, po.payment.amount_captured) == (
        "delivered",
        "captured",
        Decimal("256.00"),
    )
    assert gateway.retrieve(po.payment.stripe_payment_intent).status == "succeeded"
    stock = stock_of(lot)
    assert (stock.num_in_stock, stock.num_allocated) == (18, 0)
    statement = services.monthly_statement(coop, timezone.localdate())
    assert statement["sales"] == Decimal("256.00") and statement["commission"] == Decimal("12.80")
    assert statement["closing"] == Decimal("243.20")
    assert not [r for r in delivery_requests() if r.source == "produce"]
    # A refund after delivery goes back to the card and reverses the commission.
    services._return_money(po, po.amount, "退货")
    statement = services.monthly_statement(coop, timezone.localdate())
    assert statement["refunds"] == Decimal("256.00") and statement["commission"] == Decimal("0.00")
    assert statement["closing"] == Decimal("0.00")
    assert LedgerEntry.objects.filter(kind="produce_refund").count() == 1


def test_buyer_pages_checkout_and_order(stripe_settings, city_buyer, rnd, lot, client):
    client.force_login(city_buyer)
    unit = unit_of(lot)
    assert client.post(f"/p/produce/round/{rnd.pk}/", {f"qty_{unit.pk}": "2"}).status_code == 302
    page = client.get(f"/p/produce/checkout/{rnd.pk}/").content.decode()
    assert "¥256.00" in page and "朝阳区" in page
    r = client.post(
        f"/p/produce/checkout/{rnd.pk}/",
        {"key": "page-1", "slot": delivery_slot(rnd).pk, "province": "吉林省", "city": "长春市", "district": "朝阳区",
         "street": "红旗街 1 号", "contact_name": "王", "contact_phone": "13800000011", "online_type": "card",
         "stripe_token": stripe_card_token(CARD_PLAIN), "invoice_title": "某公司", "invoice_tax_id": "91220101MA0000000X"},
    )  # fmt: skip
    po = ProduceOrder.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/p/produce/orders/{po.pk}/"
    detail = client.get(r["Location"]).content.decode()
    assert po.delivery_code in detail and "某公司" in detail
    receipt = client.get(f"/p/produce/orders/{po.pk}/receipt.pdf")
    assert receipt["Content-Type"] == "application/pdf" and receipt.content.startswith(b"%PDF")
