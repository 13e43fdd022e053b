"""Online pledges in two steps (3-D Secure, WeChat Pay / Alipay rules) against localstripe: pages,
GraphQL, webhook completion, abandonment, campaign closed meanwhile, refusals."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest  # axes' backend needs the request
from django.test import Client
from django.utils import timezone
from testkit import (
    CARD_3DS,
    CARD_3DS_OTHER,
    CARD_PLAIN,
    PASSWORD,
    make_user,
    post_stripe_event,
    stripe_authenticate,
    stripe_card_token,
)

from marketplace.accounts.models import Role
from marketplace.payments import gateway
from marketplace.payments import services as pay
from marketplace.payments.models import Payment, PaymentMethod, PaymentStatus
from marketplace.settings import content_security_policy
from plugins.group_orders import online, services, tasks
from plugins.group_orders.closing import close_campaign
from plugins.group_orders.models import Campaign, Pledge, PledgeStatus

pytestmark = [pytest.mark.django_db, pytest.mark.stripe]


def start_3ds(farmer, item, household, qty=10, key="k-1", card=CARD_3DS) -> online.PledgeResult:
    return online.start_pledge(
        farmer, item, household, qty, "stripe", stripe_token=stripe_card_token(card), idempotency_key=key
    )


def test_3ds_pledge_completes_after_authentication(
    stripe_settings, localstripe_url, farmer_a, household_a, item
):
    result = start_3ds(farmer_a, item, household_a)
    assert result.needs_action and result.pledge is None
    assert result.next_action == {"type": "confirm_card"} and result.client_secret
    payment = result.payment
    assert payment.status == PaymentStatus.PENDING and payment.amount_authorised == Decimal("1500.00")
    assert not Pledge.objects.exists()
    assert Campaign.objects.get().total_quantity == 0
    # Not authenticated yet: completing just repeats what is to do.
    assert online.complete_online_pledge(farmer_a, payment).needs_action
    stripe_authenticate(localstripe_url, payment.stripe_payment_intent, success=True)
    done = online.complete_online_pledge(farmer_a, payment)
    pledge = done.pledge
    assert pledge is not None and pledge.status == PledgeStatus.ACTIVE and pledge.quantity == 10
    assert pledge.placed_by == farmer_a and pledge.payment_method == PaymentMethod.STRIPE
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.AUTHORISED
    assert Campaign.objects.get().total_quantity == 10
    # Double completion and a repeated start with the same key are no-ops.
    assert online.complete_online_pledge(farmer_a, payment).pledge.pk == pledge.pk
    assert start_3ds(farmer_a, item, household_a).pledge.pk == pledge.pk
    assert Pledge.objects.count() == 1 and Campaign.objects.get().total_quantity == 10
    assert gateway.retrieve(payment.stripe_payment_intent).status == "requires_capture"


def test_3ds_failure_leaves_no_pledge(stripe_settings, localstripe_url, farmer_a, household_a, item):
    payment = start_3ds(farmer_a, item, household_a, card=CARD_3DS_OTHER).payment
    stripe_authenticate(localstripe_url, payment.stripe_payment_intent, success=False)
    with pytest.raises(ValidationError) as err:
        online.complete_online_pledge(farmer_a, payment)
    assert err.value.code == "payment_failed"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and not Pledge.objects.exists()
    with pytest.raises(ValidationError):  # the same key cannot be reused with a failed payment
        start_3ds(farmer_a, item, household_a, card=CARD_3DS_OTHER)


def test_card_without_authentication_pledges_at_once(stripe_settings, farmer_a, household_a, item):
    result = start_3ds(farmer_a, item, household_a, card=CARD_PLAIN)
    assert result.pledge is not None and result.payment.status == PaymentStatus.AUTHORISED


def test_webhook_completes_a_pending_pledge_once(
    stripe_settings, localstripe_url, client, farmer_a, household_a, item
):
    payment = start_3ds(farmer_a, item, household_a).payment
    # An early event (before authentication) completes nothing.
    r = post_stripe_event(
        client,
        "payment_intent.amount_capturable_updated",
        payment.stripe_payment_intent,
        "whsec_test_local",
        "evt_0",
    )
    assert r.status_code == 200 and not Pledge.objects.exists()
    stripe_authenticate(localstripe_url, payment.stripe_payment_intent)
    # The browser never comes back; Stripe's webhook does.
    r = post_stripe_event(
        client,
        "payment_intent.amount_capturable_updated",
        payment.stripe_payment_intent,
        "whsec_test_local",
        "evt_1",
    )
    assert r.status_code == 200 and r.json() == {"received": True, "duplicate": False}
    pledge = Pledge.objects.get()
    assert pledge.payment_id == payment.pk and pledge.placed_by == farmer_a
    # Redelivery, another event type, then the browser: still one pledge.
    post_stripe_event(
        client,
        "payment_intent.amount_capturable_updated",
        payment.stripe_payment_intent,
        "whsec_test_local",
        "evt_1",
    )
    post_stripe_event(
        client, "payment_intent.succeeded", payment.stripe_payment_intent, "whsec_test_local", "evt_2"
    )
    assert online.complete_online_pledge(farmer_a, payment).pledge.pk == pledge.pk
    assert Pledge.objects.count() == 1 and Campaign.objects.get().total_quantity == 10
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.AUTHORISED and payment.amount_captured == 0


def test_forged_webhook_is_refused(stripe_settings, localstripe_url, client, farmer_a, household_a, item):
    payment = start_3ds(farmer_a, item, household_a).payment
    stripe_authenticate(localstripe_url, payment.stripe_payment_intent)
    r = post_stripe_event(
        client,
        "payment_intent.amount_capturable_updated",
        payment.stripe_payment_intent,
        "whsec_wrong",
        "evt_9",
    )
    assert r.status_code == 400 and not Pledge.objects.exists()


def test_campaign_closed_while_pending_cancels_the_intent(
    stripe_settings, localstripe_url, farmer_a, household_a, item, campaign, expire
):
    payment = start_3ds(farmer_a, item, household_a).payment
    stripe_authenticate(localstripe_url, payment.stripe_payment_intent)
    expire(campaign)
    with pytest.raises(online.PledgeNotCompleted) as err:
        online.complete_online_pledge(farmer_a, payment)
    assert "已截单" in err.value.messages[0] and "撤销" in err.value.messages[0]
    assert err.value.code == "invalid_state"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED and not Pledge.objects.exists()
    assert gateway.retrieve(payment.stripe_payment_intent).status == "canceled"
    with pytest.raises(ValidationError):  # and it stays refused
        online.complete_online_pledge(farmer_a, payment)


def test_supply_cap_reached_while_pending_cancels_the_intent(
    stripe_settings,
    localstripe_url,
    farmer_a,
    household_a,
    staff_a,
    households_a,
    campaign_factory,
    fertilizer,
):
    capped = campaign_factory([fertilizer], max_total_quantity=120, title="限量团购")
    capped_item = capped.items.get()
    payment = start_3ds(farmer_a, capped_item, household_a, qty=30).payment
    services.place_pledge(staff_a, capped_item, households_a[0], 100, "cash")
    stripe_authenticate(localstripe_url, payment.stripe_payment_intent)
    with pytest.raises(online.PledgeNotCompleted) as err:
        online.complete_online_pledge(None, payment)  # e.g. from the webhook
    assert err.value.code == "out_of_stock"
    assert gateway.retrieve(payment.stripe_payment_intent).status == "canceled"
    assert Campaign.objects.get(pk=capped.pk).total_quantity == 100


def test_abandoned_pending_payment_cancelled_by_the_periodic_task(
    stripe_settings, localstripe_url, farmer_a, household_a, item
):
    abandoned = start_3ds(farmer_a, item, household_a, key="k-a").payment
    Payment.objects.filter(pk=abandoned.pk).update(created_at=timezone.now() - timedelta(hours=2))
    assert tasks.cancel_abandoned_payments() == 1
    abandoned.refresh_from_db()
    assert abandoned.status == PaymentStatus.CANCELLED
    assert gateway.retrieve(abandoned.stripe_payment_intent).status == "canceled"
    assert not Pledge.objects.exists()


def test_periodic_task_completes_an_authenticated_payment_nobody_came_back_for(
    stripe_settings, localstripe_url, farmer_a, household_a, item
):
    payment = start_3ds(farmer_a, item, household_a, key="k-b").payment
    stripe_authenticate(localstripe_url, payment.stripe_payment_intent)
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(hours=2))
    assert tasks.cancel_abandoned_payments() == 0
    assert Pledge.objects.get().payment_id == payment.pk


def test_another_user_cannot_complete_someone_elses_payment(
    stripe_settings, localstripe_url, farmer_a, household_a, staff_a, staff_b, item, gql
):
    result = start_3ds(farmer_a, item, household_a, key="k-own")
    payment = result.payment
    stripe_authenticate(localstripe_url, payment.stripe_payment_intent)
    other_farmer = make_user("farmer_x", Role.FARMER)
    for intruder in (staff_b, staff_a, other_farmer):
        with pytest.raises(PermissionDenied):
            online.complete_online_pledge(intruder, payment)
        c = Client()
        assert c.login(request=HttpRequest(), username=intruder.username, password=PASSWORD)
        assert c.get("/p/group-buy/pay/k-own/").status_code == 404
        data = gql(intruder)(COMPLETE, {"id": str(payment.pk)})["data"]["groupBuyPledgeComplete"]
        assert data["pledge"] is None and data["errors"][0]["code"] == "PERMISSION_DENIED"
    assert not Pledge.objects.exists()
    assert online.complete_online_pledge(farmer_a, payment).pledge is not None


# --- WeChat Pay / Alipay: charged at pledge, settled by refunding the difference --------------------


def _charged_prepaid(farmer, household, item, qty: int, key: str, online_type: str = "wechat_pay") -> Payment:
    """A pending WeChat Pay / Alipay pledge payment whose intent Stripe reports ``succeeded``.

    localstripe cannot create WeChat Pay / Alipay intents (no such payment method types, no
    payment_method_data / return_url), so a card charged with automatic capture stands in for the
    paid intent at Stripe; the pending payment row is what :func:`services.place_pledge` records for
    them (see test_stripe_online_flow for the parameters we send real Stripe)."""
    amount = Decimal("150.00") * qty
    key = services.scoped_key(farmer, key)  # what place_pledge stores for this user's key
    payment_key = f"gb:{key}"
    intent = gateway.client().v1.payment_intents.create(
        params={
            "amount": gateway.to_fen(amount),
            "currency": "cny",
            "payment_method": "pm_card_visa",
            "capture_method": "automatic",
            "confirm": True,
            "metadata": {"household": str(household.pk), "payment_key": payment_key, "reference": "GB"},
        }
    )
    return Payment.objects.create(
        method=PaymentMethod.STRIPE,
        status=PaymentStatus.PENDING,
        online_type=online_type,
        household=household,
        station_id=household.station_id,
        amount_authorised=amount,
        reference=f"GB{item.campaign_id}",
        idempotency_key=payment_key,
        stripe_payment_intent=intent.id,
        purpose=services.pledge_purpose(item, qty, key),
        recorded_by=farmer,
    )


def _refunded(payment: Payment) -> int:
    refunds = gateway.client().v1.refunds.list(params={"payment_intent": payment.stripe_payment_intent})
    return sum(r.amount for r in refunds.data)


@pytest.mark.parametrize("online_type", ["wechat_pay", "alipay"])
def test_prepaid_pledge_close_refunds_the_difference(
    stripe_settings, farmer_a, household_a, staff_a, households_a, item, campaign, expire, online_type
):
    payment = _charged_prepaid(farmer_a, household_a, item, 10, "wx-1", online_type)
    pledge = online.complete_online_pledge(farmer_a, payment).pledge
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.AUTHORISED  # charged, held until the close
    assert pay.balance(pay.household_deposit(household_a.pk)) == Decimal("-1500.00")
    for h in households_a[:2]:
        services.place_pledge(staff_a, item, h, 100, "cash")  # total 210 → tier 140
    expire(campaign)
    close_campaign(campaign.pk)
    pledge.refresh_from_db()
    payment.refresh_from_db()
    assert pledge.final_amount == Decimal("1400.00")
    assert (payment.status, payment.amount_captured, payment.amount_refunded) == (
        PaymentStatus.CAPTURED,
        Decimal("1400.00"),
        Decimal("100.00"),
    )
    assert _refunded(payment) == 10000  # the difference went back through Stripe
    assert pay.balance(pay.household_deposit(household_a.pk)) == Decimal("0.00")
    close_campaign(campaign.pk)  # re-run: no second refund
    assert _refunded(payment) == 10000


def test_prepaid_pledge_failed_campaign_refunds_everything(
    stripe_settings, farmer_a, household_a, item, campaign, expire
):
    payment = _charged_prepaid(farmer_a, household_a, item, 10, "wx-2")
    online.complete_online_pledge(farmer_a, payment)
    expire(campaign)
    close_campaign(campaign.pk)  # 10 < minimum 100: fails
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == (PaymentStatus.CANCELLED, Decimal("1500.00"))
    assert _refunded(payment) == 150000
    assert Pledge.objects.get().status == PledgeStatus.FAILED


def test_prepaid_paid_after_close_is_refunded(stripe_settings, farmer_a, household_a, item, campaign, expire):
    payment = _charged_prepaid(farmer_a, household_a, item, 10, "wx-3")
    expire(campaign)
    with pytest.raises(online.PledgeNotCompleted) as err:
        online.complete_online_pledge(farmer_a, payment)
    assert "已退款" in err.value.messages[0]
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED and _refunded(payment) == 150000


# --- Pages and GraphQL ------------------------------------------------------------------------------

START = """mutation($item: ID!, $household: ID!, $token: String, $key: String){
  groupBuyPledgeCreate(itemId: $item, householdId: $household, quantity: 10, paymentMethod: "stripe",
    stripeToken: $token, idempotencyKey: $key){
    pledge { id } payment { id status onlineType amount { amount } clientSecret nextAction { type } }
    errors { field code message } } }"""
COMPLETE = """mutation($id: ID!){ groupBuyPledgeComplete(paymentId: $id){
  pledge { id quantity status } payment { id status } errors { field code message } } }"""


def test_graphql_two_step_pledge(stripe_settings, localstripe_url, gql, farmer_a, household_a, item):
    api = gql(farmer_a)
    variables = {
        "item": str(item.pk),
        "household": str(household_a.pk),
        "token": stripe_card_token(CARD_3DS),
        "key": "g-1",
    }
    started = api(START, variables)["data"]["groupBuyPledgeCreate"]
    assert started["errors"] == [] and started["pledge"] is None
    pay_out = started["payment"]
    assert pay_out["status"] == "pending" and pay_out["nextAction"] == {"type": "confirm_card"}
    assert pay_out["clientSecret"].startswith("pi_") and pay_out["amount"]["amount"] == "1500.00"
    early = api(COMPLETE, {"id": pay_out["id"]})["data"]["groupBuyPledgeComplete"]
    assert early["pledge"] is None and early["payment"]["status"] == "pending"
    intent_id = Payment.objects.get(pk=pay_out["id"]).stripe_payment_intent
    stripe_authenticate(localstripe_url, intent_id)
    done = api(COMPLETE, {"id": pay_out["id"]})["data"]["groupBuyPledgeComplete"]
    assert (
        done["errors"] == []
        and done["pledge"]["quantity"] == 10
        and done["payment"]["status"] == "authorised"
    )
    again = api(COMPLETE, {"id": pay_out["id"]})["data"]["groupBuyPledgeComplete"]
    assert again["pledge"]["id"] == done["pledge"]["id"]


def test_graphql_refused_completion_is_committed(
    stripe_settings, localstripe_url, gql, farmer_a, household_a, item, campaign, expire
):
    api = gql(farmer_a)
    variables = {
        "item": str(item.pk),
        "household": str(household_a.pk),
        "token": stripe_card_token(CARD_3DS),
        "key": "g-2",
    }
    payment_id = api(START, variables)["data"]["groupBuyPledgeCreate"]["payment"]["id"]
    payment = Payment.objects.get(pk=payment_id)
    stripe_authenticate(localstripe_url, payment.stripe_payment_intent)
    expire(campaign)
    out = api(COMPLETE, {"id": payment_id})["data"]["groupBuyPledgeComplete"]
    assert out["pledge"] is None and out["errors"][0]["code"] == "INVALID_STATE"
    assert out["payment"]["status"] == "cancelled"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED


def test_pages_offer_online_payment_to_farmers_only(
    stripe_settings, localstripe_url, farmer_a, staff_a, campaign
):
    page = f"/p/group-buy/c/{campaign.pk}/"
    farmer, staff = Client(), Client()
    assert farmer.login(request=HttpRequest(), username="farmer_a", password=PASSWORD)
    assert staff.login(request=HttpRequest(), username="staff_a", password=PASSWORD)
    assert "card-element" not in farmer.get(page).content.decode()  # no publishable key yet
    stripe_settings.STRIPE_PUBLISHABLE_KEY = "pk_test_local"
    stripe_settings.STRIPE_JS_URL = f"{localstripe_url}/js.stripe.com/v3/"
    stripe_settings.CONTENT_SECURITY_POLICY = content_security_policy(stripe_settings.STRIPE_JS_URL)
    html = farmer.get(page).content.decode()
    assert 'id="card-element"' in html and f'src="{localstripe_url}/js.stripe.com/v3/"' in html
    assert 'value="stripe"' in html
    html = staff.get(page).content.decode()
    assert "card-element" not in html and "js.stripe.com" not in html and 'value="stripe"' not in html
    assert 'value="cash"' in html


def test_pledge_form_with_3ds_card_through_the_payment_page(
    stripe_settings, localstripe_url, farmer_a, household_a, item, campaign
):
    stripe_settings.STRIPE_PUBLISHABLE_KEY = "pk_test_local"
    c = Client()
    assert c.login(request=HttpRequest(), username="farmer_a", password=PASSWORD)
    form = {
        "household": household_a.pk,
        "item": item.pk,
        "quantity": "10",
        "payment_method": "stripe",
        "online_type": "card",
        "stripe_token": stripe_card_token(CARD_3DS),
        "idempotency_key": "form-3ds",
    }
    r = c.post(f"/p/group-buy/c/{campaign.pk}/pledge/", form)
    assert r.status_code == 302 and r["Location"] == "/p/group-buy/pay/form-3ds/"
    html = c.get("/p/group-buy/pay/form-3ds/").content.decode()
    payment = Payment.objects.get(idempotency_key=f"gb:{services.scoped_key(farmer_a, 'form-3ds')}")
    assert f'data-client-secret="{payment.stripe_payment_intent}_secret_' in html
    stripe_authenticate(localstripe_url, payment.stripe_payment_intent)
    r = c.get("/p/group-buy/pay/form-3ds/")
    assert r.status_code == 302 and r["Location"] == f"/p/group-buy/c/{campaign.pk}/"
    assert Pledge.objects.get().payment_id == payment.pk
