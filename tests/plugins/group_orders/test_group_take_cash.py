"""Issue 11: a pledge whose card authorisation lapsed at the close (``unpaid``) — the station takes
cash instead. The pledge gets its order, pickup code and ledger entries from the close's own cash
steps; a double click books once; another station, a pledge that is not unpaid and a campaign that
did not succeed are refused. Pages (zh-Hans and English) and GraphQL, against localstripe."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation
from oscar.core.loading import get_model
from testkit import logged_in

from marketplace.core.models import Notification
from marketplace.core.money import format_cny
from marketplace.payments import gateway
from marketplace.payments.models import LedgerEntry, Payment, PaymentMethod, PaymentStatus
from plugins.group_orders import closing, messages, services
from plugins.group_orders.closing import close_campaign
from plugins.group_orders.models import (
    Campaign,
    CampaignStatus,
    DeliveryLine,
    Pickup,
    Pledge,
    PledgeStatus,
    PurchaseOrder,
)
from tests.testkit import CJK, data_strings, english_client, ui_outside_data

pytestmark = [pytest.mark.django_db, pytest.mark.stripe]

Order = get_model("order", "Order")
TAKE_CASH = """mutation($id: ID!){ groupBuyPledgeTakeCash(id: $id){
  pledge { id status paymentMethod finalAmount { amount } } pickup { id orderNumber status }
  errors { field code message } } }"""


def login(user) -> Client:
    return logged_in(user, with_password=True)


@pytest.fixture
def lapsed(stripe_settings, staff_a, item, campaign, households_a, expire):
    """A closed, successful campaign in which households_a[1]'s card authorisation had lapsed."""
    services.place_pledge(staff_a, item, households_a[0], 100, "stripe", stripe_payment_method="pm_card_visa")
    lost = services.place_pledge(
        staff_a, item, households_a[1], 50, "stripe", stripe_payment_method="pm_card_visa"
    )
    services.place_pledge(staff_a, item, households_a[2], 60, "cash")
    gateway.cancel(lost.payment.stripe_payment_intent, "test-expired")  # Stripe dropped it
    expire(campaign)
    return lost


def _close(campaign, use_sql):
    done = close_campaign(campaign.pk, use_sql=use_sql)
    assert done.status == CampaignStatus.SUCCEEDED
    return done


@pytest.mark.parametrize("use_sql", [True, False], ids=["postgres-set-based", "orm"])
def test_staff_takes_cash_for_a_lapsed_pledge_once(
    lapsed, staff_a, station_a, campaign, households_a, use_sql
):
    _close(campaign, use_sql)
    lapsed.refresh_from_db()
    assert lapsed.status == PledgeStatus.UNPAID
    old_payment = lapsed.payment_id
    po_before = PurchaseOrder.objects.get(campaign=campaign).total_quantity
    c = login(staff_a)
    # The station sees it on its home page and on the campaign's pledges page, with the cash due.
    home = c.get("/").content.decode()
    assert "data-unpaid-panel" in home and households_a[1].name in home
    page = c.get(reverse("group-buy:station-pledges", args=[campaign.pk, station_a.pk])).content.decode()
    assert f'data-take-cash="{lapsed.pk}"' in page
    final_price = campaign.items.get().final_unit_price
    due = (final_price * 50).quantize(Decimal("0.01"))
    assert format_cny(due) in page

    url = reverse("group-buy:pledge-take-cash", args=[lapsed.pk])
    r = c.post(url, follow=True)
    assert r.status_code == 200
    lapsed.refresh_from_db()
    assert (lapsed.status, lapsed.payment_method, lapsed.final_amount) == (
        PledgeStatus.CONFIRMED,
        PaymentMethod.CASH,
        due,
    )
    cash = Payment.objects.get(pk=lapsed.payment_id)
    assert cash.pk != old_payment and cash.method == PaymentMethod.CASH
    assert (cash.status, cash.amount_captured) == (PaymentStatus.CAPTURED, due)
    # The same ledger entries the close books for a cash pledge: cash in, then the sale.
    kinds = sorted(LedgerEntry.objects.filter(payment=cash).values_list("kind", "amount"))
    assert kinds == [("cash_in", due), ("sale", due)]
    order = Order.objects.get(household=households_a[1])
    assert order.number == f"GB{campaign.pk}-{households_a[1].pk}" and order.total_incl_tax == due
    assert [(line.quantity, line.partner_line_reference) for line in order.lines.all()] == [
        (50, f"pledge:{lapsed.pk}")
    ]
    pickup = Pickup.objects.get(household=households_a[1], campaign=campaign)
    assert pickup.order_id == order.pk and len(pickup.code) == 6
    sms = Notification.objects.get(dedupe_key=f"gb:{campaign.pk}:closed:household:{households_a[1].pk}")
    assert pickup.code in sms.text and sms.recipient == households_a[1].phone
    # The supplier now ships it too.
    assert PurchaseOrder.objects.get(campaign=campaign).total_quantity == po_before + 50
    assert sum(
        DeliveryLine.objects.filter(delivery__station=station_a).values_list("expected", flat=True)
    ) == (po_before + 50)
    # A double click (and the GraphQL call after it) books nothing twice.
    counts = (LedgerEntry.objects.count(), Order.objects.count(), Payment.objects.count())
    assert c.post(url).status_code == 302
    assert closing.take_cash(staff_a, lapsed.pk).pk == pickup.pk
    assert (LedgerEntry.objects.count(), Order.objects.count(), Payment.objects.count()) == counts
    assert PurchaseOrder.objects.get(campaign=campaign).total_quantity == po_before + 50
    page = c.get(reverse("group-buy:station-pledges", args=[campaign.pk, station_a.pk])).content.decode()
    assert "data-take-cash" not in page


def test_refusals_other_station_not_unpaid_failed_campaign(
    lapsed, gql, staff_a, staff_b, supplier_user, campaign, households_a
):
    _close(campaign, None)
    # Another station's staff: not found, on the page and in GraphQL, and nothing booked.
    other = login(staff_b)
    assert other.post(reverse("group-buy:pledge-take-cash", args=[lapsed.pk])).status_code == 404
    payload = gql(staff_b)(TAKE_CASH, {"id": str(lapsed.pk)})["data"]["groupBuyPledgeTakeCash"]
    assert payload["errors"][0]["code"] == "NOT_FOUND" and payload["pickup"] is None
    with pytest.raises(Pledge.DoesNotExist):
        closing.take_cash(staff_b, lapsed.pk)
    assert Pledge.objects.get(pk=lapsed.pk).status == PledgeStatus.UNPAID
    # A pledge that is not unpaid (paid in cash, confirmed at the close).
    confirmed = Pledge.objects.get(household=households_a[2])
    payload = gql(staff_a)(TAKE_CASH, {"id": str(confirmed.pk)})["data"]["groupBuyPledgeTakeCash"]
    assert payload["errors"] == [
        {"field": "pledgeId", "code": "INVALID_STATE", "message": "只有支付失效的认购可以改收现金"}
    ]
    # A supplier may not call it at all (declared permission).
    payload = gql(supplier_user)(TAKE_CASH, {"id": str(lapsed.pk)})["data"]["groupBuyPledgeTakeCash"]
    assert payload["errors"][0]["code"] == "PERMISSION_DENIED"
    # A campaign that did not succeed.
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.FAILED, succeeded=False)
    payload = gql(staff_a)(TAKE_CASH, {"id": str(lapsed.pk)})["data"]["groupBuyPledgeTakeCash"]
    assert payload["errors"][0]["code"] == "INVALID_STATE"
    assert not Order.objects.filter(household=households_a[1]).exists()
    assert not LedgerEntry.objects.filter(household=households_a[1]).exists()


def test_graphql_takes_cash_and_repeats_are_idempotent(lapsed, gql, staff_a, campaign, households_a):
    _close(campaign, None)
    call = gql(staff_a)
    first = call(TAKE_CASH, {"id": str(lapsed.pk)})["data"]["groupBuyPledgeTakeCash"]
    assert first["errors"] == []
    assert (first["pledge"]["status"], first["pledge"]["paymentMethod"]) == ("confirmed", "cash")
    assert first["pickup"]["orderNumber"] == f"GB{campaign.pk}-{households_a[1].pk}"
    again = call(TAKE_CASH, {"id": str(lapsed.pk)})["data"]["groupBuyPledgeTakeCash"]
    assert again["errors"] == [] and again["pickup"]["id"] == first["pickup"]["id"]
    assert LedgerEntry.objects.filter(household=households_a[1], kind="sale").count() == 1


def test_unpaid_sms_tells_the_station_can_take_cash():
    household = messages.render(messages.UNPAID_HOUSEHOLD, station="一号站", title="复合肥")
    station = messages.render(messages.UNPAID_STATION, household="张三", title="复合肥")
    assert "一号站改付现金" in household and "取货码" in household
    assert "改收现金" in station and "张三" in station


def test_pledges_page_in_english(lapsed, staff_a, station_a, campaign, households_a):
    _close(campaign, None)
    c = english_client(staff_a)
    try:
        html = c.get(reverse("group-buy:station-pledges", args=[campaign.pk, station_a.pk])).content.decode()
    finally:
        translation.activate(settings.LANGUAGE_CODE)  # the request left English active in this thread
    assert "Take cash" in html
    data = data_strings(campaign, station_a, staff_a, *households_a, campaign.items.get().product)
    data.append(staff_a.get_full_name() or staff_a.username)
    assert not CJK.search(ui_outside_data(html, data)), CJK.findall(ui_outside_data(html, data))[:20]
