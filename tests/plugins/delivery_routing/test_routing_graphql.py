"""GraphQL API: queries with bounded SQL counts, typed mutation errors, tenancy refusals."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from routing_fixtures import DAY, FAST

from marketplace.accounts.models import ApiToken
from plugins.delivery_routing import services
from plugins.delivery_routing.models import DeliveryPlan

pytestmark = pytest.mark.django_db

PLAN_FIELDS = """id status statusLabel cost distanceKm
  problems { stopId stopName code message }
  routes { number vehicle { name plate } depot { name } start end distanceKm routeSheetUrl
           visits { sequence kind place amountKg arrival serviceStart stop { id name eta lockedVehicle { id } } } }
  stops { id ref kind name weightKg windowStart windowEnd eta routeNumber depot { name } lockedVehicle { id } lines }"""

CREATE = (
    "mutation($input: DeliveryPlanCreateInput!){ planCreate(input: $input){ errors { field code message } plan { "
    + PLAN_FIELDS
    + " } } }"
)


def create(gql, user, **extra):
    variables = {"input": {"date": DAY.isoformat(), "timeLimitSeconds": FAST, **extra}}
    return gql(user)(CREATE, variables)["data"]["planCreate"]


def test_plan_create_and_queries(gql, operator, standard_loads, trucks):
    result = create(gql, operator, name="四月春耕")
    assert result["errors"] == []
    plan = result["plan"]
    assert plan["status"] == "draft" and plan["problems"] == []
    assert {s["ref"] for s in plan["stops"]} == {
        "routing_test_loads:po:1", "routing_test_loads:po:2", "routing_test_loads:produce:1"
    }
    assert all(s["eta"] for s in plan["stops"])
    kinds = [v["kind"] for r in plan["routes"] for v in r["visits"]]
    assert "pickup" in kinds and "dropoff" in kinds and "delivery" in kinds
    body = gql(operator)("{ deliveryPlans { totalCount items { id name status } } }")
    assert body["data"]["deliveryPlans"]["totalCount"] == 1
    assert body["data"]["deliveryPlans"]["items"][0]["name"] == "四月春耕"
    one = gql(operator)(f'{{ deliveryPlan(id: "{plan["id"]}"){{ mapSvg routes {{ number }} }} }}')
    assert one["data"]["deliveryPlan"]["mapSvg"].startswith("<svg")


def test_direct_stops_and_input_errors(gql, operator, trucks, depot, geo_stations):
    a, _ = geo_stations
    result = create(gql, operator, stops=[{"stationId": a.pk, "depotId": depot.pk, "weightKg": 400, "lines": ["磷酸二铵"]}])
    assert result["errors"] == [] and result["plan"]["stops"][0]["lines"] == ["磷酸二铵 ×1"]
    bad = create(gql, operator, vehicleIds=["999999"])
    assert bad["errors"][0]["field"] == "vehicleIds" and bad["errors"][0]["code"] == "NOT_FOUND"
    bad = create(gql, operator, timeLimitSeconds=-1)
    assert bad["errors"][0]["field"] == "timeLimitSeconds" and bad["errors"][0]["code"] == "INVALID"


def test_infeasible_request_is_returned_with_explanations(gql, operator, loads_plugin, warehouse, trucks, geo_stations):
    from datetime import time

    from routing_fixtures import po_load

    a, _ = geo_stations
    a.opens_at, a.closes_at = time(5, 0), time(5, 30)
    a.save()
    loads_plugin.append(po_load(warehouse, a, 500, "po:early"))
    result = create(gql, operator)
    assert result["errors"] == []
    plan = result["plan"]
    assert plan["status"] == "infeasible" and plan["routes"] == []
    problem = plan["problems"][0]
    assert problem["stopId"] == plan["stops"][0]["id"] and problem["stopName"] == a.name
    assert problem["code"] == "time_window_unreachable" and a.name in problem["message"]


LOCK = 'mutation($id: ID!, $locked: Boolean){ stopLock(stopId: $id, locked: $locked){ errors { field code message } stop { id lockedVehicle { id } } } }'
MOVE = 'mutation($id: ID!, $v: ID!){ stopMove(stopId: $id, vehicleId: $v){ errors { field code message } plan { status stops { id routeNumber lockedVehicle { id } } routes { number vehicle { name } } } } }'
REOPT = 'mutation($id: ID!){ planReoptimise(id: $id, timeLimitSeconds: 0.3){ errors { field code message } plan { status stops { id lockedVehicle { id } } } } }'
PUBLISH = 'mutation($id: ID!){ planPublish(id: $id){ errors { field code message } plan { status } } }'


def test_dispatcher_workflow(gql, operator, standard_loads, trucks, short_shift_truck, staff_a, geo_stations):
    plan = create(gql, operator)["plan"]
    stop = next(s for s in plan["stops"] if s["ref"] == "routing_test_loads:po:1")
    client = gql(operator)
    locked = client(LOCK, {"id": stop["id"], "locked": True})["data"]["stopLock"]
    assert locked["errors"] == [] and locked["stop"]["lockedVehicle"] is not None

    current = locked["stop"]["lockedVehicle"]["id"]
    other = next(str(t.pk) for t in trucks if str(t.pk) != current)
    moved = client(MOVE, {"id": stop["id"], "v": other})["data"]["stopMove"]
    assert moved["errors"] == [] and moved["plan"]["status"] == "draft"
    assert next(s for s in moved["plan"]["stops"] if s["id"] == stop["id"])["lockedVehicle"]["id"] == other

    refused = client(MOVE, {"id": stop["id"], "v": str(short_shift_truck.pk)})["data"]["stopMove"]
    assert refused["plan"] is None and refused["errors"]
    assert {e["code"] for e in refused["errors"]} == {"INFEASIBLE"}
    assert refused["errors"][0]["field"] == "vehicleId"
    # the refused move changed nothing
    again = client(REOPT, {"id": plan["id"]})["data"]["planReoptimise"]
    assert again["errors"] == [] and again["plan"]["status"] == "draft"
    assert next(s for s in again["plan"]["stops"] if s["id"] == stop["id"])["lockedVehicle"]["id"] == other

    published = client(PUBLISH, {"id": plan["id"]})["data"]["planPublish"]
    assert published == {"errors": [], "plan": {"status": "published"}}
    twice = client(PUBLISH, {"id": plan["id"]})["data"]["planPublish"]
    assert twice["errors"][0]["code"] == "INVALID_STATE"
    late = client(LOCK, {"id": stop["id"], "locked": False})["data"]["stopLock"]
    assert late["errors"][0]["code"] == "INVALID_STATE"

    mine = gql(staff_a)("{ stationDeliveries { name eta windowStart weightKg } }")["data"]["stationDeliveries"]
    assert [d["name"] for d in mine] == [geo_stations[0].name] and mine[0]["eta"]


def test_refusals_for_station_staff_and_other_suppliers(
    gql, operator, supplier_user, other_dispatcher, staff_a, standard_loads, trucks
):
    own = create(gql, supplier_user)
    assert own["errors"] == [] and own["plan"]["status"] == "draft"
    plan_id = own["plan"]["id"]
    stop_id = own["plan"]["stops"][0]["id"]
    vehicle_id = str(trucks[0].pk)
    for outsider in (staff_a, other_dispatcher):
        client = gql(outsider)
        assert client("{ deliveryPlans { totalCount items { id } } }")["data"]["deliveryPlans"]["totalCount"] == 0
        assert client(f'{{ deliveryPlan(id: "{plan_id}"){{ id }} }}')["data"]["deliveryPlan"] is None
        for query, variables, name in (
            (LOCK, {"id": stop_id, "locked": True}, "stopLock"),
            (MOVE, {"id": stop_id, "v": vehicle_id}, "stopMove"),
            (REOPT, {"id": plan_id}, "planReoptimise"),
            (PUBLISH, {"id": plan_id}, "planPublish"),
        ):
            errors = client(query, variables)["data"][name]["errors"]
            assert errors and errors[0]["code"] in ("PERMISSION_DENIED", "NOT_FOUND"), (outsider, name, errors)
    assert create(gql, staff_a)["errors"][0]["code"] == "PERMISSION_DENIED"
    assert gql(None)("{ deliveryPlans { totalCount } }")["data"]["deliveryPlans"]["totalCount"] == 0
    # the owner and operators see it; the plan is untouched
    assert gql(supplier_user)("{ deliveryPlans { totalCount } }")["data"]["deliveryPlans"]["totalCount"] == 1
    status = gql(operator)(f'{{ deliveryPlan(id: "{plan_id}"){{ status }} }}')["data"]["deliveryPlan"]["status"]
    assert status == "draft"
    assert DeliveryPlan.objects.get(pk=plan_id).stops.filter(locked_vehicle__isnull=False).count() == 0
    # station staff see no unpublished deliveries
    assert gql(staff_a)("{ stationDeliveries { id } }")["data"]["stationDeliveries"] == []


def _count(user, query: str) -> tuple[int, dict]:
    _, raw = ApiToken.issue(user)
    with CaptureQueriesContext(connection) as ctx:
        response = Client().post(
            "/graphql/", json.dumps({"query": query}), content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
    body = response.json()
    assert "errors" not in body, body
    return len(ctx.captured_queries), body["data"]


def test_delivery_plans_query_count_is_bounded(operator, standard_loads, trucks):
    query = "{ deliveryPlans(first: 50){ totalCount items { " + PLAN_FIELDS + " } } }"
    services.plan_deliveries(services.create_plan(operator, DAY, time_limit_s=FAST))
    small, data = _count(operator, query)
    assert data["deliveryPlans"]["totalCount"] == 1
    for _ in range(3):
        services.plan_deliveries(services.create_plan(operator, DAY, time_limit_s=FAST))
    large, data = _count(operator, query)
    assert data["deliveryPlans"]["totalCount"] == 4
    assert sum(len(p["routes"]) for p in data["deliveryPlans"]["items"]) >= 4
    assert large == small
