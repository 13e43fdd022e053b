"""GraphQL: queries, mutations with typed errors, tenancy refusals, bounded query counts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from testkit import make_user

from marketplace.accounts.models import Role
from marketplace.stations.models import CountyAssignment, Household
from plugins.fertilizer import services
from plugins.fertilizer.models import FarmField, SoilTest

FIELDS = """query($h: ID) { fertFields(householdId: $h) { totalCount items { id name areaMu areaHa householdName
  soilTests { id alkaliNMgKg grades } currentRecommendation { id method totalKgMu { N P2O5 K2O }
  parameterSet { version } plan { status cost { amount } lines { bags title } } } } } }"""

FIELD_CREATE = """mutation($h: ID!, $input: FertFieldInput!) { fieldCreate(householdId: $h, input: $input) {
  errors { field code message } field { id name areaHa crop zone recentYieldsKgMu } } }"""

REC_CREATE = """mutation($f: ID!) { recommendationCreate(fieldId: $f) { errors { field code message }
  recommendation { id method reasons { code message } totalKgMu { N P2O5 K2O } basalKgMu { N } parameterSet { version } }
  plan { id status cost { amount currency } savingCost { amount } savingKg { N } usualLabel lines { phase bags grade source } } } }"""

ORDER = """mutation($p: ID!) { planAddToOrder(planId: $p) { errors { code message } plan { status } accepted { productId bags acceptedBy ref } } }"""

DEMAND = """query($c: ID!) { countyDemand(countyId: $c) { aggregatedOnly totals { title bags tonnes } rows { stationName bags }
  stations { name areaMu tonnes nutrientsKg { N } } } }"""


def test_field_create_and_tenancy(gql, staff_a, staff_b, farmer_a, household_a):
    data = gql(staff_a)(
        FIELD_CREATE,
        {"h": household_a.pk, "input": {"name": "南坡", "areaMu": "30", "yield1": "620", "zone": "cool"}},
    )
    out = data["data"]["fieldCreate"]
    assert out["errors"] == []
    assert (
        out["field"]["areaHa"] == "2.000"
        and out["field"]["zone"] == "cool"
        and out["field"]["recentYieldsKgMu"] == [620.0]
    )
    # station B staff cannot create for station A's household; farmer cannot for another household
    refused = gql(staff_b)(FIELD_CREATE, {"h": household_a.pk, "input": {"name": "x", "areaMu": "1"}})
    assert refused["data"]["fieldCreate"]["errors"][0]["code"] == "NOT_FOUND"
    bad = gql(farmer_a)(FIELD_CREATE, {"h": household_a.pk, "input": {"name": "y", "areaMu": "0"}})
    assert bad["data"]["fieldCreate"]["errors"][0]["field"] == "areaMu"
    upd = gql(staff_b)(
        """mutation($id: ID!) { fieldUpdate(id: $id, input: {name: "z"}) { errors { code } } }""",
        {"id": out["field"]["id"]},
    )
    assert upd["data"]["fieldUpdate"]["errors"][0]["code"] == "NOT_FOUND"


def test_field_visibility_by_role(
    gql, staff_a, staff_b, farmer_a, agronomist, supplier_user, field_a, field_b, other_county
):
    names = lambda user: {f["name"] for f in gql(user)(FIELDS)["data"]["fertFields"]["items"]}  # noqa: E731
    assert names(staff_a) == {"东大地"}
    assert names(staff_b) == {"西洼地"}
    assert names(farmer_a) == {"东大地"}
    assert names(agronomist) == {"东大地", "西洼地"}
    assert names(supplier_user) == set()
    far_agro = make_user("agro2", Role.AGRONOMIST)
    CountyAssignment.objects.create(county=other_county, user=far_agro)
    assert names(far_agro) == set()
    assert (
        gql(staff_b)("query($id: ID!) { fertField(id: $id) { id } }", {"id": field_a.pk})["data"]["fertField"]
        is None
    )
    soil = gql(staff_b)("query($f: ID) { soilTests(fieldId: $f) { totalCount } }", {"f": field_a.pk})
    assert soil["data"]["soilTests"]["totalCount"] == 0


def test_soil_test_create_and_import(gql, agronomist, farmer_a, field_a):
    m = """mutation($f: ID!, $i: SoilTestInput!) { soilTestCreate(fieldId: $f, input: $i) { errors { field code } soilTest { grades } } }"""
    inp = {
        "lab": "站",
        "sampleDate": "2026-04-01",
        "ph": "6.5",
        "organicMatterGKg": "25",
        "alkaliNMgKg": "125",
        "olsenPMgKg": "18",
        "availableKMgKg": "140",
    }
    ok = gql(agronomist)(m, {"f": field_a.pk, "i": inp})["data"]["soilTestCreate"]
    assert ok["errors"] == [] and ok["soilTest"]["grades"] == {
        "N": 2,
        "P2O5": 3,
        "K2O": 3,
        "organic_matter": 3,
    }
    refused = gql(farmer_a)(m, {"f": field_a.pk, "i": {**inp, "sampleDate": "2026-04-02"}})["data"][
        "soilTestCreate"
    ]
    assert refused["errors"][0]["code"] == "PERMISSION_DENIED"  # farmers do not enter soil tests (declared permission)
    imp = """mutation($csv: String) { soilTestImport(csv: $csv) { imported errors { field code message } rowErrors { row column code } } }"""
    header = "地块编号,检测机构,采样日期,pH,有机质,碱解氮,有效磷,速效钾\n"
    bad = gql(agronomist)(
        imp,
        {
            "csv": header
            + f"{field_a.pk},站,2026-04-01,6.5,25,125,18,140\n{field_a.pk},站,2026-04-03,6.5,25,125,18,\n"
        },
    )
    out = bad["data"]["soilTestImport"]
    assert out["imported"] == 0
    assert {(r["row"], r["column"], r["code"]) for r in out["rowErrors"]} == {
        (2, "采样日期", "duplicate"),
        (3, "速效钾", "required"),
    }
    assert {e["code"] for e in out["errors"]} == {"UNIQUE", "REQUIRED"} and out["errors"][0][
        "field"
    ].startswith("row")
    good = gql(agronomist)(imp, {"csv": header + f"{field_a.pk},站,2026-04-05,6.5,25,125,18,140\n"})
    assert good["data"]["soilTestImport"]["imported"] == 1
    assert (
        gql(farmer_a)(imp, {"csv": header})["data"]["soilTestImport"]["errors"][0]["code"]
        == "PERMISSION_DENIED"
    )


def test_parameter_sets(gql, agronomist, staff_a):
    m = """mutation($i: FertParameterSetInput!) { parameterSetUpdate(crop: "spring_maize_ne", zone: "semi_arid", input: $i, note: "试验") {
      errors { field code } parameterSet { version data } } }"""
    out = gql(agronomist)(m, {"i": {"nBasalFraction": 0.35, "plan": {"tolerance": {"N": 0.2}}}})["data"][
        "parameterSetUpdate"
    ]
    assert out["errors"] == [] and out["parameterSet"]["version"] == 2
    assert out["parameterSet"]["data"]["n_basal_fraction"] == 0.35
    bad = gql(agronomist)(m, {"i": {"nBasalFraction": 2}})["data"]["parameterSetUpdate"]
    assert bad["errors"] == [{"field": "nBasalFraction", "code": "INVALID"}]
    denied = gql(staff_a)(m, {"i": {"nBasalFraction": 0.3}})["data"]["parameterSetUpdate"]
    assert denied["errors"][0]["code"] == "PERMISSION_DENIED"
    q = """{ parameterSets(crop: "spring_maize_ne", allVersions: true) { version zone } latest: parameterSets(crop: "spring_maize_ne") { version } }"""
    data = gql(staff_a)(q)["data"]
    assert [v["version"] for v in data["parameterSets"]] == [2, 1] and data["latest"] == [{"version": 2}]


def test_recommendation_plan_and_order(gql, staff_a, staff_b, farmer_a, fert_catalogue, field_a, soil_a):
    denied = gql(staff_b)(REC_CREATE, {"f": field_a.pk})["data"]["recommendationCreate"]
    assert denied["errors"][0]["code"] == "NOT_FOUND"
    out = gql(staff_a)(REC_CREATE, {"f": field_a.pk})["data"]["recommendationCreate"]
    assert out["errors"] == []
    rec, plan = out["recommendation"], out["plan"]
    assert rec["method"] == "zone_graded" and rec["parameterSet"]["version"] == 1
    assert rec["reasons"][0]["code"] == "soil_test_zone_graded"
    assert plan["status"] == "proposed" and plan["cost"]["currency"] == "CNY"
    assert {line["phase"] for line in plan["lines"]} == {"basal", "topdress"}
    assert plan["usualLabel"].startswith("习惯施肥") and plan["savingCost"] is not None
    assert (
        gql(staff_b)(ORDER, {"p": plan["id"]})["data"]["planAddToOrder"]["errors"][0]["code"] == "NOT_FOUND"
    )
    done = gql(staff_a)(ORDER, {"p": plan["id"]})["data"]["planAddToOrder"]
    assert done["errors"] == [] and done["plan"]["status"] == "ordered"
    assert {a["acceptedBy"] for a in done["accepted"]} == {"stock"}
    again = gql(staff_a)(ORDER, {"p": plan["id"]})["data"]["planAddToOrder"]
    assert again["errors"][0]["code"] == "INVALID_STATE" and again["accepted"] == []
    # the farmer reads his advice
    mine = gql(farmer_a)(FIELDS)["data"]["fertFields"]["items"][0]
    assert mine["currentRecommendation"]["plan"]["status"] == "ordered"


def test_county_demand_views(
    gql, agronomist, staff_a, supplier_user, operator, fert_catalogue, field_a, soil_a, county, other_county
):
    services.create_plan(staff_a, services.create_recommendation(staff_a, field_a))
    full = gql(agronomist)(DEMAND, {"c": county.pk})["data"]["countyDemand"]
    assert full["aggregatedOnly"] is False and full["rows"] and full["stations"][0]["name"].startswith("东岗")
    assert Decimal(full["stations"][0]["areaMu"]) == Decimal("15")
    sup = gql(supplier_user)(DEMAND, {"c": county.pk})["data"]["countyDemand"]
    assert sup["aggregatedOnly"] is True and sup["rows"] == [] and sup["stations"] == []
    assert sorted(t["title"] for t in sup["totals"]) == sorted(t["title"] for t in full["totals"])
    assert gql(staff_a)(DEMAND, {"c": county.pk})["data"]["countyDemand"] is None
    assert gql(agronomist)(DEMAND, {"c": other_county.pk})["data"]["countyDemand"] is None
    assert gql(operator)(DEMAND, {"c": county.pk})["data"]["countyDemand"]["rows"] == full["rows"]


def _more_fields(household, n, start=0):
    for i in range(start, start + n):
        f = FarmField.objects.create(
            household=household, name=f"地{i}", area_mu=Decimal("10"), yield_1=Decimal("600")
        )
        SoilTest.objects.create(
            field=f,
            lab="站",
            sample_date="2026-04-01",
            ph=6,
            organic_matter_g_kg=20,
            alkali_n_mg_kg=110,
            olsen_p_mg_kg=15,
            available_k_mg_kg=120,
        )


def test_list_query_count_is_bounded(gql, staff_a, household_a, fert_catalogue):
    client = gql(staff_a)
    client("{ __typename }")  # the token's first use records last_used_at (then at most once a minute)

    def count(n_more):
        _more_fields(household_a, n_more, start=FarmField.objects.count())
        for f in FarmField.objects.filter(recommendations__isnull=True):
            services.create_plan(staff_a, services.create_recommendation(staff_a, f))
        with CaptureQueriesContext(connection) as ctx:
            data = client(FIELDS, {"h": household_a.pk})
        assert "errors" not in data, data
        return len(ctx.captured_queries), data["data"]["fertFields"]["totalCount"]

    q2, n2 = count(2)
    q8, n8 = count(6)
    assert (n2, n8) == (2, 8)
    assert q2 == q8, (q2, q8)
    recs = (
        """{ recommendations { totalCount items { id plan { lines { bags } } parameterSet { version } } } }"""
    )
    with CaptureQueriesContext(connection) as ctx:
        client(recs)
    small = len(ctx.captured_queries)
    _more_fields(household_a, 4, start=100)
    for f in FarmField.objects.filter(recommendations__isnull=True):
        services.create_plan(staff_a, services.create_recommendation(staff_a, f))
    with CaptureQueriesContext(connection) as ctx:
        data = client(recs)
    assert data["data"]["recommendations"]["totalCount"] == 12
    assert len(ctx.captured_queries) == small


@pytest.fixture
def household_c(station_a):
    return Household.objects.create(station=station_a, village=station_a.village, name="王")
