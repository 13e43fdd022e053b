"""The plugin meets the core only through extension points: offers, menu, beat schedule, schema."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import RequestFactory

from marketplace.celery import beat_schedule
from marketplace.core.extensions import menu_entries, purchasable_offers
from plugins.group_orders import services

pytestmark = pytest.mark.django_db


def test_open_campaign_is_a_purchasable_offer(station_a, station_far, campaign, item, staff_a, households_a):
    offers = [o for o in purchasable_offers(station_a) if o.source == "group-buy"]
    assert [(o.product_id, o.unit_price, o.source_ref) for o in offers] == [
        (item.product_id, Decimal("150.00"), str(campaign.pk))
    ]
    services.place_pledge(staff_a, item, households_a[0], 200, "cash")
    offers = [o for o in purchasable_offers(station_a, [item.product_id]) if o.source == "group-buy"]
    assert offers[0].unit_price == Decimal("140.00")
    assert [o for o in purchasable_offers(station_a, [999999]) if o.source == "group-buy"] == []


def test_campaign_limited_to_county_is_not_offered_elsewhere(
    station_a, station_far, campaign_factory, fertilizer
):
    campaign_factory([fertilizer], title="双阳专场", county_ids=[station_a.county_id])
    assert [o for o in purchasable_offers(station_far) if o.source == "group-buy"] == []
    assert len([o for o in purchasable_offers(station_a) if o.source == "group-buy"]) == 1


def test_menu_and_beat_schedule(staff_a, farmer_a):
    request = RequestFactory().get("/")
    request.user = staff_a
    labels = {e.label for e in menu_entries(request)}
    assert {"团购", "取货核销", "现金日结"} <= labels
    request.user = farmer_a
    labels = {e.label for e in menu_entries(request)}
    assert "团购" in labels and "取货核销" not in labels
    schedule = beat_schedule()
    assert (
        schedule["group-buy.close-due-campaigns"]["task"] == "plugins.group_orders.tasks.close_due_campaigns"
    )
    assert "group-buy.expire-uncollected" in schedule


def test_campaign_query_refused_outside_scope(
    gql, staff_a, station_far, campaign_factory, fertilizer, supplier_user
):
    far_only = campaign_factory([fertilizer], title="远方专场", station_ids=[station_far.pk])
    query = "query($id: ID!){ groupBuyCampaign(id: $id){ id title } }"
    assert gql(staff_a)(query, {"id": far_only.pk})["data"]["groupBuyCampaign"] is None
    assert gql(supplier_user)(query, {"id": far_only.pk})["data"]["groupBuyCampaign"]["title"] == "远方专场"
    assert gql()(query, {"id": far_only.pk})["data"]["groupBuyCampaign"] is None
