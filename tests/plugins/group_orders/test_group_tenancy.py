"""Tenant refusals of issue 11.5: an idempotency key belongs to the user who sent it, and suppliers
never see the farmers and stations on the orders of their campaigns (pages, GraphQL, documents)."""

from __future__ import annotations

import pytest
from oscar.core.loading import get_model

from plugins.group_orders import documents, services
from plugins.group_orders.closing import close_campaign
from plugins.group_orders.models import Pledge, PurchaseOrder

pytestmark = pytest.mark.django_db

Order = get_model("order", "Order")

CREATE = """mutation($item: ID!, $household: ID!, $key: String){
  groupBuyPledgeCreate(itemId: $item, householdId: $household, quantity: 7, paymentMethod: "cash",
                       idempotencyKey: $key){
    errors { field code message } pledge { id quantity }
  }
}"""


def test_reusing_another_stations_idempotency_key_never_returns_its_pledge(
    gql, staff_a, staff_b, item, household_a, household_b, households_a
):
    theirs = services.place_pledge(staff_a, item, household_a, 10, "cash", idempotency_key="key-of-A")
    # GraphQL path: station B's client sends station A's key: it gets a pledge of its own, not A's.
    data = gql(staff_b)(CREATE, {"item": item.pk, "household": household_b.pk, "key": "key-of-A"})
    payload = data["data"]["groupBuyPledgeCreate"]
    assert payload["errors"] == [] and int(payload["pledge"]["id"]) != theirs.pk
    mine = Pledge.objects.get(pk=payload["pledge"]["id"])
    assert (mine.household_id, mine.quantity, mine.payment.household_id) == (
        household_b.pk,
        7,
        household_b.pk,
    )
    # Service path: the same key from B, for another of A's households' items, is still B's own.
    assert (
        services.place_pledge(staff_b, item, household_b, 7, "cash", idempotency_key="key-of-A").pk == mine.pk
    )
    # A's key is A's: repeating it returns A's pledge (idempotent), B's request did not touch it.
    assert (
        services.place_pledge(staff_a, item, household_a, 10, "cash", idempotency_key="key-of-A").pk
        == theirs.pk
    )
    theirs.refresh_from_db()
    assert (theirs.household_id, theirs.quantity, theirs.status) == (household_a.pk, 10, "active")
    assert Pledge.objects.count() == 2


def test_overlong_idempotency_key_is_refused_by_field(staff_a, item, household_a):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as err:
        services.place_pledge(staff_a, item, household_a, 1, "cash", idempotency_key="k" * 101)
    assert "idempotencyKey" in err.value.error_dict


ORDERS = "{ orders { items { number householdName stationName lines { title } } } }"


def test_suppliers_never_see_farmers_or_stations_on_campaign_orders(
    client, gql, staff_a, supplier_user, operator, item, campaign, households_a, expire
):
    services.place_pledge(staff_a, item, households_a[0], 150, "cash")
    services.place_pledge(staff_a, item, households_a[1], 60, "cash")
    expire(campaign)
    close_campaign(campaign.pk)
    order = Order.objects.get(household=households_a[0])
    name, station = households_a[0].name, households_a[0].station.name
    # GraphQL: the supplier sees its orders (what to supply) but no farmer and no station.
    items = gql(supplier_user)(ORDERS)["data"]["orders"]["items"]
    assert len(items) == 2 and all(i["lines"] for i in items)
    assert {(i["householdName"], i["stationName"]) for i in items} == {(None, None)}
    staff_items = gql(staff_a)(ORDERS)["data"]["orders"]["items"]
    assert {i["householdName"] for i in staff_items} == {households_a[0].name, households_a[1].name}
    # Pages: order list, order detail, home.
    client.force_login(supplier_user)
    for url in ("/orders/", f"/orders/{order.number}/", "/"):
        page = client.get(url)
        assert page.status_code == 200, url
        html = page.content.decode()
        assert name not in html and households_a[1].name not in html, url
    detail = client.get(f"/orders/{order.number}/").content.decode()
    assert order.number in detail and station not in detail
    # Station staff still see who the order is for.
    client.force_login(staff_a)
    assert name in client.get(f"/orders/{order.number}/").content.decode()
    # Documents: the supplier's consolidated purchase order names stations (delivery addresses) but
    # no household; the pick list and receipts (with names and codes) are not the supplier's.
    po = PurchaseOrder.objects.get(campaign=campaign)
    html = documents.html("purchase_order", documents.purchase_order_context(po))
    assert name not in html and households_a[1].name not in html
    client.force_login(supplier_user)
    pdf = client.get(f"/p/group-buy/po/{po.pk}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    station_id = households_a[0].station_id
    assert client.get(f"/p/group-buy/c/{campaign.pk}/station/{station_id}/picklist.pdf").status_code == 404
    page = client.get(f"/p/group-buy/c/{campaign.pk}/").content.decode()
    assert name not in page and households_a[1].name not in page


def test_farmer_pickup_qr_is_a_real_svg_image_and_pick_list_prints_no_codes(
    client, farmer_a, staff_a, item, campaign, household_a, households_a, expire
):
    from urllib.parse import unquote
    from xml.etree import ElementTree

    from plugins.group_orders.models import Pickup

    services.place_pledge(staff_a, item, household_a, 150, "cash")
    services.place_pledge(staff_a, item, households_a[0], 60, "cash")
    expire(campaign)
    close_campaign(campaign.pk)
    pickup = Pickup.objects.get(household=household_a)
    client.force_login(farmer_a)
    html = client.get(f"/p/group-buy/pickup/{pickup.pk}/").content.decode()
    src = html.split('alt="取货二维码"')[0].rsplit('<img src="', 1)[1].split('"')[0]
    assert src.startswith("data:image/svg+xml")
    svg = ElementTree.fromstring(unquote(src.split(",", 1)[1]).replace("&#x27;", "'"))
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"  # an image, not inline-HTML markup
    context = documents.pick_list_context(
        campaign, household_a.station, services.station_pledges(staff_a, campaign, household_a.station)
    )
    printed = documents.html("pick_list", context)
    assert household_a.name in printed and households_a[0].name in printed
    for code in Pickup.objects.values_list("code", flat=True):
        assert code not in printed
