"""Across plugins, with every plugin installed (the default settings): a closed group buy's purchase
orders become delivery stops planned by delivery_routing, and a fertilizer bag plan built on a
campaign offer is handed back to the group buy as pledges. The plugins never import each other;
this test drives each through its own services and checks they meet via marketplace.core.extensions."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from oscar.core.loading import get_model
from testkit import make_fertilizer, make_station

from marketplace.core import extensions
from marketplace.stations.models import Household
from plugins.delivery_routing import services as routing
from plugins.delivery_routing.models import DeliveryPlan, Depot, Vehicle
from plugins.fertilizer import services as fert
from plugins.fertilizer.models import FarmField, PlanStatus, SoilTest
from plugins.group_orders import services as group
from plugins.group_orders.closing import close_campaign
from plugins.group_orders.models import Campaign, CampaignStatus, Pledge, StationDelivery

pytestmark = pytest.mark.django_db

StockRecord = get_model("partner", "StockRecord")


def open_campaign(supplier_user, operator, supplier, products, *, base="150.00", **extra):
    campaign = group.create_campaign(
        supplier_user,
        partner=supplier,
        title=extra.pop("title", "春耕团购"),
        cutoff_at=timezone.now() + timedelta(days=3),
        delivery_from=timezone.localdate() + timedelta(days=5),
        delivery_until=timezone.localdate() + timedelta(days=10),
        min_total_quantity=extra.pop("min_total", 10),
        items=[group.ItemSpec(p.pk, Decimal(base)) for p in products],
        **extra,
    )
    return group.review_campaign(operator, campaign, True)


def households(station, n):
    return [
        Household.objects.create(
            station=station, village=station.village, name=f"{station.code}-{i}", phone=f"138{station.pk % 10000:04d}{i:04d}"
        )
        for i in range(n)
    ]  # fmt: skip


@pytest.fixture
def geo_stations(county, station_a, station_b):
    """Three stations 8–20 km from the warehouse (testkit puts them all on one point)."""
    station_c = make_station(county, "ST-C", "南岗")
    coords = [("43.450000", "125.600000"), ("43.600000", "125.760000"), ("43.400000", "125.720000")]
    for station, (lat, lon) in zip((station_a, station_b, station_c), coords, strict=True):
        station.latitude, station.longitude = Decimal(lat), Decimal(lon)
        station.opens_at, station.closes_at = time(8, 0), time(17, 0)
        station.save()
    return station_a, station_b, station_c


def test_closed_campaign_is_planned_into_feasible_routes(
    operator, supplier, supplier_user, product_classes, wh, geo_stations
):
    npk = make_fertilizer(product_classes, supplier, "NPK-R", "复合肥 15-15-15 40kg", stock=100000)
    StockRecord.objects.filter(product=npk).update(warehouse=wh)
    campaign = open_campaign(supplier_user, operator, supplier, [npk])
    item = campaign.items.get()
    for station, bags in zip(geo_stations, (12, 20, 7), strict=True):
        for household in households(station, 2):
            group.place_pledge(operator, item, household, bags, "cash")
    Campaign.objects.filter(pk=campaign.pk).update(cutoff_at=timezone.now() - timedelta(minutes=1))
    assert close_campaign(campaign.pk).status == CampaignStatus.SUCCEEDED

    loads = [r for r in extensions.delivery_requests() if r.source == "group-buy"]
    po_stations = set(StationDelivery.objects.filter(campaign=campaign).values_list("station_id", flat=True))
    assert {r.destination_id for r in loads} == po_stations == {s.pk for s in geo_stations}
    assert sorted(r.weight_kg for r in loads) == [
        Decimal(7 * 2 * 40),
        Decimal(12 * 2 * 40),
        Decimal(20 * 2 * 40),
    ]

    depot = Depot.objects.create(
        name=wh.name, partner=supplier, warehouse=wh, external_ref=f"warehouse:{wh.pk}",
        latitude=wh.latitude, longitude=wh.longitude,
    )  # fmt: skip
    for plate in ("吉A11111", "吉A22222"):
        Vehicle.objects.create(name=plate, plate=plate, home_depot=depot, capacity_kg=2000)
    plan = routing.create_plan(operator, campaign.delivery_from, time_limit_s=0.5)
    plan = routing.plan_deliveries(plan)
    assert plan.status == DeliveryPlan.Status.DRAFT, plan.problems  # solved and passed the checker
    stops = list(plan.stops.all())
    assert {s.station_id for s in stops} == po_stations
    assert {s.ref for s in stops} == {r.ref for r in loads}
    assert all(s.route_id is not None and s.eta_s is not None for s in stops)
    assert all(s.depot_id == depot.pk and s.source == "group-buy" for s in stops)
    for s in stops:
        assert s.window_start_s <= s.eta_s <= s.window_end_s


# --- fertilizer bag plan → group buy pledges -------------------------------------------------------

#: (sku, title, N, P2O5, K2O, price) — 40 kg bags
CATALOGUE = [
    ("UREA", "尿素", (46, 0, 0), "105.00"),
    ("DAP", "磷酸二铵", (18, 46, 0), "185.00"),
    ("K2SO4", "硫酸钾", (0, 0, 50), "210.00"),
    ("S151515", "硫基复合肥", (15, 15, 15), "150.00"),
]


@pytest.fixture
def field_a(household_a):
    field = FarmField.objects.create(
        household=household_a, name="东大地", area_mu=Decimal("15"), crop="spring_maize_ne",
        zone="semi_humid", yield_1=Decimal("650"), yield_2=Decimal("700"), yield_3=Decimal("680"),
    )  # fmt: skip
    SoilTest.objects.create(
        field=field, lab="双阳区土肥站", sample_date="2026-04-10", ph=Decimal("6.4"),
        organic_matter_g_kg=Decimal("24.5"), alkali_n_mg_kg=Decimal("125"), olsen_p_mg_kg=Decimal("18"),
        available_k_mg_kg=Decimal("140"),
    )  # fmt: skip
    return field


@pytest.fixture
def stocked(product_classes, supplier):
    return {
        sku: make_fertilizer(product_classes, supplier, sku, title, npk, price, stock=1000)
        for sku, title, npk, price in CATALOGUE
    }


def _pay_all(user, plan, method):
    """The hand-over's payment choice: ``method`` for every group-buy line (stock is paid at checkout)."""
    return {h.key: method for h in fert.handover_lines(user, plan) if h.source != "stock"}


def _bag_plan(staff_a, field_a):
    rec = fert.create_recommendation(staff_a, field_a)
    return fert.create_plan(staff_a, rec)


def test_fertilizer_plan_from_campaign_offer_becomes_pledges(
    staff_a, operator, supplier, supplier_user, stocked, field_a, household_a
):
    urea = stocked["UREA"]
    campaign = open_campaign(supplier_user, operator, supplier, [urea], base="90.00", title="尿素团购")
    plan = _bag_plan(staff_a, field_a)
    urea_lines = [x for x in plan.lines.all() if x.product_id == urea.pk]
    assert urea_lines and all(
        x.source == "group-buy" and x.source_ref == str(campaign.pk) for x in urea_lines
    )
    with transaction.atomic():  # as the view does
        done, missing = fert.add_plan_to_order(staff_a, plan, _pay_all(staff_a, plan, "cash"))
    assert not missing
    pledge = Pledge.objects.get(campaign=campaign, household=household_a)
    assert pledge.quantity == sum(x.bags for x in urea_lines)
    assert pledge.unit_price_at_pledge == Decimal("90.00") and pledge.payment_method == "cash"
    for line in done:
        expected = ("group-buy", f"pledge:{pledge.pk}") if line.product_id == urea.pk else ("stock", None)
        assert line.accepted_by == expected[0]
        assert expected[1] is None or line.accepted_ref == expected[1]
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ORDERED


def test_refused_campaign_line_rolls_back_the_fertilizer_hand_over(
    staff_a, operator, supplier, supplier_user, stocked, field_a, household_a
):
    Basket = get_model("basket", "Basket")
    urea = stocked["UREA"]
    campaign = open_campaign(supplier_user, operator, supplier, [urea], base="90.00", title="限购尿素团购")
    plan = _bag_plan(staff_a, field_a)
    assert sum(x.bags for x in plan.lines.all() if x.source == "group-buy") > 1
    # The campaign is limited to one bag per household after the plan was made.
    Campaign.objects.filter(pk=campaign.pk).update(per_household_limit=1)
    with pytest.raises(ValidationError) as err, transaction.atomic():
        fert.add_plan_to_order(staff_a, plan, _pay_all(staff_a, plan, "cash"))
    assert "尿素" in err.value.messages[0] and err.value.code == "limit_exceeded"
    assert not Pledge.objects.filter(campaign=campaign).exists()
    assert not Basket.objects.filter(owner=staff_a, lines__isnull=False).exists()
    plan.refresh_from_db()
    assert plan.status != PlanStatus.ORDERED
    assert Campaign.objects.get(pk=campaign.pk).total_quantity == 0


# --- Hand-over payment choice: nothing is booked that nobody chose ---------------------------------


def _station_cash(household):
    from marketplace.payments import services as pay

    return pay.balance(pay.station_cash(household.station_id))


def test_hand_over_without_a_payment_choice_books_nothing(
    staff_a, operator, supplier, supplier_user, stocked, field_a, household_a
):
    urea = stocked["UREA"]
    open_campaign(supplier_user, operator, supplier, [urea], base="90.00", title="尿素团购")
    plan = _bag_plan(staff_a, field_a)
    for methods in ({}, _pay_all(staff_a, plan, "online"), _pay_all(staff_a, plan, "bogus")):
        with pytest.raises(ValidationError) as err, transaction.atomic():
            fert.add_plan_to_order(staff_a, plan, methods)
        assert urea.title in " ".join(err.value.messages)
    assert not Pledge.objects.exists() and _station_cash(household_a) == Decimal("0.00")
    plan.refresh_from_db()
    assert plan.status != PlanStatus.ORDERED


def test_cash_is_booked_only_when_chosen_and_credit_stays_within_the_limit(
    staff_a, operator, supplier, supplier_user, stocked, field_a, household_a
):
    from marketplace.payments import credit
    from marketplace.payments.models import Payment

    urea = stocked["UREA"]
    open_campaign(supplier_user, operator, supplier, [urea], base="90.00", title="尿素团购")
    plan = _bag_plan(staff_a, field_a)
    group_amount = sum(x.bags * x.unit_price for x in plan.lines.all() if x.source == "group-buy")
    # credit without an approved limit: refused by the one place credit is authorised, nothing booked
    with pytest.raises(ValidationError) as err, transaction.atomic():
        fert.add_plan_to_order(staff_a, plan, _pay_all(staff_a, plan, "credit"))
    assert "赊销" in err.value.messages[0] and not Payment.objects.exists()
    credit.set_credit_limit(staff_a, household_a, group_amount - 1)  # one yuan short
    with pytest.raises(ValidationError), transaction.atomic():
        fert.add_plan_to_order(staff_a, plan, _pay_all(staff_a, plan, "credit"))
    assert not Payment.objects.exists()
    credit.set_credit_limit(staff_a, household_a, group_amount)
    with transaction.atomic():
        fert.add_plan_to_order(staff_a, plan, _pay_all(staff_a, plan, "credit"))
    payment = Pledge.objects.get(household=household_a).payment
    assert payment.method == "credit" and payment.amount_authorised == group_amount
    assert _station_cash(household_a) == Decimal("0.00")  # no cash nobody collected
    household_a.refresh_from_db()
    assert credit.credit_account(household_a).available == Decimal("0.00")


def test_graphql_hand_over_books_the_chosen_method(
    gql, staff_a, operator, supplier, supplier_user, stocked, field_a, household_a
):
    urea = stocked["UREA"]
    open_campaign(supplier_user, operator, supplier, [urea], base="90.00", title="尿素团购")
    plan = _bag_plan(staff_a, field_a)
    order = """mutation($p: ID!, $m: [FertPlanLinePaymentInput!]) { planAddToOrder(planId: $p, paymentMethods: $m) {
      errors { field code message } plan { status } accepted { acceptedBy } } }"""
    out = gql(staff_a)(order, {"p": plan.pk})["data"]["planAddToOrder"]
    assert out["errors"][0]["field"] == "paymentMethods" and out["errors"][0]["code"] == "REQUIRED"
    assert not Pledge.objects.exists()
    choice = [{"lineId": str(key), "method": m} for key, m in _pay_all(staff_a, plan, "cash").items()]
    out = gql(staff_a)(order, {"p": plan.pk, "m": choice})["data"]["planAddToOrder"]
    assert out["errors"] == [] and out["plan"]["status"] == "ordered"
    payment = Pledge.objects.get(household=household_a).payment
    assert payment.method == "cash" and _station_cash(household_a) == payment.amount_authorised
