"""GraphQL for group buys: happy paths, typed errors, tenancy refusals, bounded query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from plugins.group_orders import services
from plugins.group_orders.models import Campaign, CampaignStatus, Pickup, Pledge, StationDelivery

pytestmark = pytest.mark.django_db

CAMPAIGNS = """query { groupBuyCampaigns { totalCount items { id title status supplierName
  progress { totalQuantity quantityToMinimum secondsLeft timeLeft items { tierIndex unitPrice { amount }
  quantityToNextTier tiers { minQuantity unitPrice { amount } } } } } } }"""
CREATE = """mutation($input: CampaignInput!){ groupBuyCampaignCreate(input: $input){
  campaign { id status } errors { field code message } } }"""
REVIEW = """mutation($id: ID!){ groupBuyCampaignReview(id: $id, approve: true){ campaign { status } errors { field code message } } }"""
PLEDGE = """mutation($item: ID!, $household: ID!, $qty: Int!, $method: String!, $pm: String){
  groupBuyPledgeCreate(itemId: $item, householdId: $household, quantity: $qty, paymentMethod: $method, stripePaymentMethod: $pm){
    pledge { id quantity status unitPriceAtPledge { amount } } progress { totalQuantity quantityToMinimum items { tierIndex } }
    errors { field code message } } }"""
PLEDGES = "query($c: ID){ groupBuyPledges(campaignId: $c){ totalCount items { householdName productTitle quantity } } }"
CLOSE = "mutation($id: ID!){ groupBuyCampaignClose(id: $id, force: true){ campaign { status } errors { code message } } }"
COLLECT = """mutation($code: String!){ groupBuyPickupCollect(code: $code){ collected pickup { status } errors { field code message } } }"""
RECEIVE = """mutation($id: ID!, $counts: [DeliveryCountInput!]!){ groupBuyDeliveryReceive(id: $id, counts: $counts){ status errors { code } } }"""
POS = "query($c: ID!){ groupBuyPurchaseOrders(campaignId: $c){ number totalQuantity stationCount supplierName } }"


def campaign_input(partner, product):
    cutoff = timezone.now() + timedelta(days=2)
    return {
        "partnerId": str(partner.pk),
        "title": "玉米种子团购",
        "cutoffAt": cutoff.isoformat(),
        "deliveryFrom": str((cutoff + timedelta(days=2)).date()),
        "deliveryUntil": str((cutoff + timedelta(days=6)).date()),
        "minTotalQuantity": 10,
        "commissionRate": "2.5",
        "items": [
            {
                "productId": str(product.pk),
                "basePrice": "100",
                "tiers": [{"minQuantity": 20, "unitPrice": "90"}],
            }
        ],
    }


def test_supplier_creates_operator_approves(
    gql, supplier_user, operator, supplier, other_supplier, fertilizer, staff_a
):
    payload = gql(supplier_user)(CREATE, {"input": campaign_input(supplier, fertilizer)})["data"][
        "groupBuyCampaignCreate"
    ]
    assert payload["errors"] == [] and payload["campaign"]["status"] == "pending"
    cid = payload["campaign"]["id"]
    # Not visible to stations while pending; the supplier cannot approve its own campaign.
    assert gql(staff_a)(CAMPAIGNS)["data"]["groupBuyCampaigns"]["totalCount"] == 0
    denied = gql(supplier_user)(REVIEW, {"id": cid})["data"]["groupBuyCampaignReview"]
    assert denied["errors"][0]["code"] == "PERMISSION_DENIED"
    assert (
        gql(operator)(REVIEW, {"id": cid})["data"]["groupBuyCampaignReview"]["campaign"]["status"] == "open"
    )
    assert gql(staff_a)(CAMPAIGNS)["data"]["groupBuyCampaigns"]["totalCount"] == 1
    # A supplier cannot create a campaign for another supplier.
    other = gql(supplier_user)(CREATE, {"input": campaign_input(other_supplier, fertilizer)})["data"][
        "groupBuyCampaignCreate"
    ]
    assert other["errors"][0]["code"] == "NOT_FOUND"


def test_campaign_validation_errors_are_typed(gql, supplier_user, supplier, fertilizer):
    bad = campaign_input(supplier, fertilizer)
    bad["minTotalQuantity"] = 0
    bad["items"][0]["tiers"] = [{"minQuantity": 20, "unitPrice": "120"}]
    errors = gql(supplier_user)(CREATE, {"input": bad})["data"]["groupBuyCampaignCreate"]["errors"]
    assert errors == [{"field": "minTotalQuantity", "code": "INVALID", "message": "成团最低总量须大于零"}]


def test_pledge_via_graphql_with_progress_and_refusals(
    gql, staff_a, staff_b, item, households_a, household_b
):
    ok = gql(staff_a)(
        PLEDGE, {"item": item.pk, "household": households_a[0].pk, "qty": 120, "method": "cash"}
    )
    payload = ok["data"]["groupBuyPledgeCreate"]
    assert payload["errors"] == []
    assert payload["progress"]["totalQuantity"] == 120 and payload["progress"]["quantityToMinimum"] == 0
    # Staff of station B cannot pledge for station A's farmer (NOT_FOUND: not in their scope).
    denied = gql(staff_b)(
        PLEDGE, {"item": item.pk, "household": households_a[1].pk, "qty": 1, "method": "cash"}
    )
    assert denied["data"]["groupBuyPledgeCreate"]["errors"][0]["code"] == "NOT_FOUND"
    limit = gql(staff_a)(
        PLEDGE, {"item": item.pk, "household": households_a[1].pk, "qty": 100, "method": "credit"}
    )
    err = limit["data"]["groupBuyPledgeCreate"]["errors"][0]
    assert (err["field"], err["code"]) == ("paymentMethod", "LIMIT_EXCEEDED")
    # Station B sees none of station A's pledges.
    assert gql(staff_b)(PLEDGES, {"c": item.campaign_id})["data"]["groupBuyPledges"]["totalCount"] == 0
    assert gql(staff_a)(PLEDGES, {"c": item.campaign_id})["data"]["groupBuyPledges"]["totalCount"] == 1


def test_farmer_pledges_for_self_online_only(gql, farmer_a, item, household_a, household_b):
    cash = gql(farmer_a)(PLEDGE, {"item": item.pk, "household": household_a.pk, "qty": 2, "method": "cash"})
    assert cash["data"]["groupBuyPledgeCreate"]["errors"][0]["field"] == "paymentMethod"
    other = gql(farmer_a)(
        PLEDGE, {"item": item.pk, "household": household_b.pk, "qty": 2, "method": "credit"}
    )
    assert other["data"]["groupBuyPledgeCreate"]["errors"][0]["code"] == "NOT_FOUND"


def test_close_collect_and_po_scoping(
    gql, operator, staff_a, staff_b, supplier_user, item, households_a, other_supplier
):
    services.place_pledge(staff_a, item, households_a[0], 120, "cash")
    assert gql(staff_a)(CLOSE, {"id": item.campaign_id})["data"]["groupBuyCampaignClose"]["errors"][0][
        "code"
    ] == ("PERMISSION_DENIED")
    assert gql(operator)(CLOSE, {"id": item.campaign_id})["data"]["groupBuyCampaignClose"]["campaign"][
        "status"
    ] == ("succeeded")
    pos = gql(supplier_user)(POS, {"c": item.campaign_id})["data"]["groupBuyPurchaseOrders"]
    assert pos[0]["totalQuantity"] == 120 and pos[0]["stationCount"] == 1
    from marketplace.accounts.models import Role, User

    rival = User.objects.create(username="rival", role=Role.SUPPLIER)
    other_supplier.users.add(rival)
    assert gql(rival)(POS, {"c": item.campaign_id})["data"]["groupBuyPurchaseOrders"] == []
    delivery = StationDelivery.objects.get()
    counts = [{"itemId": str(item.pk), "received": 120}]
    refused = gql(staff_b)(RECEIVE, {"id": delivery.pk, "counts": counts})["data"]["groupBuyDeliveryReceive"]
    assert refused["errors"][0]["code"] == "NOT_FOUND"
    assert gql(staff_a)(RECEIVE, {"id": delivery.pk, "counts": counts})["data"]["groupBuyDeliveryReceive"][
        "status"
    ] == ("received")
    code = Pickup.objects.get().code
    assert (
        gql(staff_b)(COLLECT, {"code": code})["data"]["groupBuyPickupCollect"]["errors"][0]["code"]
        == "NOT_FOUND"
    )
    done = gql(staff_a)(COLLECT, {"code": code})["data"]["groupBuyPickupCollect"]
    assert done["errors"] == [] and done["collected"] == 120 and done["pickup"]["status"] == "collected"


def test_campaign_list_query_count_is_bounded(
    gql, staff_a, supplier_user, operator, supplier, fertilizer, campaign_factory, households_a
):
    for i in range(2):
        campaign_factory([fertilizer], title=f"团购{i}")
    client = gql(staff_a)
    client(CAMPAIGNS)  # the token's first use records last_used_at (then at most once a minute)
    with CaptureQueriesContext(connection) as few:
        client(CAMPAIGNS)
    for i in range(2, 8):
        c = campaign_factory([fertilizer], title=f"团购{i}")
        services.place_pledge(staff_a, c.items.get(), households_a[i % 5], 1, "cash")
    with CaptureQueriesContext(connection) as many:
        data = client(CAMPAIGNS)["data"]["groupBuyCampaigns"]
    assert data["totalCount"] == 8
    assert len(many.captured_queries) == len(few.captured_queries)
    assert Campaign.objects.filter(status=CampaignStatus.OPEN).count() == 8
    assert Pledge.objects.count() == 6


def test_pledge_list_query_count_is_bounded(gql, staff_a, item, households_a):
    client = gql(staff_a)
    query = """query($c: ID){ groupBuyPledges(campaignId: $c){ totalCount items { householdName productTitle
      finalAmount { amount } unitPriceAtPledge { amount } } } }"""
    services.place_pledge(staff_a, item, households_a[0], 1, "cash")
    client("{ __typename }")  # the token's first use records last_used_at (then at most once a minute)
    with CaptureQueriesContext(connection) as one:
        client(query, {"c": item.campaign_id})
    for h in households_a[1:]:
        services.place_pledge(staff_a, item, h, 1, "cash")
    with CaptureQueriesContext(connection) as five:
        data = client(query, {"c": item.campaign_id})["data"]["groupBuyPledges"]
    assert data["totalCount"] == 5
    assert len(five.captured_queries) == len(one.captured_queries)


def test_supplier_sees_no_farmer_pledges(gql, supplier_user, staff_a, item, households_a):
    services.place_pledge(staff_a, item, households_a[0], 3, "cash")
    data = gql(supplier_user)(PLEDGES, {"c": item.campaign_id})["data"]["groupBuyPledges"]
    assert data["totalCount"] == 0
