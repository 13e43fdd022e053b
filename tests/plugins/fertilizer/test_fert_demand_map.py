"""County demand view at province scale: stations as unlabelled dots, one numbered circle per
township with a legend and totals; pledges (through the demand_figures extension point) and core
orders beside the recommendations."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from testkit import CJK, english_client, make_group_buy, ui_outside_data

from marketplace.stations.models import Household, Station, Township, Village
from plugins.fertilizer import services
from plugins.group_orders import services as group_buys
from plugins.group_orders.closing import close_campaign
from plugins.group_orders.models import Campaign

pytestmark = pytest.mark.django_db


def svg_of(html: str) -> str:
    return re.search(r'<svg[^>]*class="fert-map".*?</svg>', html, re.S).group(0)


@pytest.fixture
def sixty_stations(county):
    """60 stations in 8 townships, spread over ~40 km like a real county."""
    stations = []
    for i in range(60):
        township, _ = Township.objects.get_or_create(county=county, name=f"第{i % 8}乡")
        village = Village.objects.create(township=township, name=f"村{i:02d}")
        stations.append(
            Station.objects.create(
                code=f"ST-{i:03d}",
                name=f"村{i:02d}益农信息社",
                village=village,
                latitude=Decimal("43.3") + Decimal(i % 8) * Decimal("0.05") + Decimal(i) * Decimal("0.001"),
                longitude=Decimal("125.4") + Decimal(i // 8) * Decimal("0.06"),
            )
        )
    return stations


def test_sixty_stations_make_eight_numbered_township_circles(
    client, agronomist, county, station_a, sixty_stations
):
    client.force_login(agronomist)
    html = client.get(reverse("fertilizer:demand", args=[county.pk])).content.decode()
    svg = svg_of(html)
    assert svg.count('class="station"') == 61  # every station is a dot …
    assert len(re.findall(r"<text", svg)) == svg.count('class="township"')  # … only townships are labelled
    assert svg.count('class="township"') <= 9
    assert "益农信息社" not in svg.replace("<title>", "").split("</title>")[0]
    legend = re.search(r'<table data-testid="townships">.*?</table>', html, re.S).group(0)
    assert "第0乡" in legend and "合计" in legend and "<th>61</th>" in legend  # total stations


def test_pledges_and_orders_beside_recommendations(
    client,
    agronomist,
    county,
    staff_a,
    household_a,
    fert_catalogue,
    field_a,
    soil_a,
    supplier,
    supplier_user,
    operator,
):
    services.create_plan(staff_a, services.create_recommendation(staff_a, field_a))
    product = next(iter(fert_catalogue.values()))
    closed = make_group_buy(
        supplier_user, operator, supplier, [product], title="已成团", min_total_quantity=5
    )
    group_buys.place_pledge(staff_a, closed.items.get(), household_a, 12, "cash")
    Campaign.objects.filter(pk=closed.pk).update(cutoff_at=timezone.now() - timedelta(minutes=1))
    close_campaign(closed.pk)  # 12 bags become a core order of station A
    open_one = make_group_buy(supplier_user, operator, supplier, [product], title="进行中")
    other = Household.objects.create(
        station=household_a.station, village=household_a.village, name="赵玉兰", phone="13611112222"
    )
    group_buys.place_pledge(staff_a, open_one.items.get(), other, 5, "cash")

    d = services.county_demand(agronomist, county)
    rows, clusters = services.county_commitments(agronomist, county, d)
    row = next(r for r in rows if r.title == product.title)
    assert row.pledged == 5 and row.ordered == 12
    assert sum(c.pledged for c in clusters) == 5 and sum(c.ordered for c in clusters) == 12
    assert any(r.recommended_bags > 0 for r in rows)

    client.force_login(agronomist)
    html = client.get(reverse("fertilizer:demand", args=[county.pk])).content.decode()
    table = re.search(r'<table data-testid="commitments">.*?</table>', html, re.S).group(0)
    assert product.title in table and "<td>5</td><td>12</td>" in table

    english = english_client(agronomist)
    page = english.get(reverse("fertilizer:demand", args=[county.pk])).content.decode()
    data = [product.title, *[r.title for r in rows], *[c.name for c in clusters], county.name, str(county)]
    data += [s["name"] for s in d.stations] + [agronomist.get_full_name() or agronomist.username]
    left = ui_outside_data(page, data)
    assert "Recommended" in page and not CJK.search(left), CJK.findall(left)


def test_suppliers_see_no_station_or_pledge_detail(
    client, supplier_user, county, station_a, staff_a, fert_catalogue, field_a, soil_a
):
    services.create_plan(staff_a, services.create_recommendation(staff_a, field_a))
    d = services.county_demand(supplier_user, county)
    assert services.county_commitments(supplier_user, county, d) == ([], [])
    client.force_login(supplier_user)
    html = client.get(reverse("fertilizer:demand", args=[county.pk])).content.decode()
    assert 'data-testid="commitments"' not in html and 'data-testid="townships"' not in html
