"""Solving off the request path: a plan is queued as a Celery task (without a broker, in a thread
of the web process after the commit), the page shows queued/running and polls status.json, then
shows the result; budgets are capped per role in the page and in GraphQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from routing_fixtures import DAY, FAST
from testkit import logged_in

from plugins.delivery_routing import services
from plugins.delivery_routing.models import DeliveryPlan
from plugins.delivery_routing.tasks import solve_plan

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    return logged_in(user)


def test_page_returns_at_once_shows_progress_then_the_result(
    settings, operator, standard_loads, trucks, django_capture_on_commit_callbacks
):
    settings.ROUTING_SOLVE_IN_THREAD = True
    client = login(operator)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/p/routing/new/", {"date": DAY.isoformat(), "time_limit_seconds": "1"})
    plan = DeliveryPlan.objects.get()
    assert response.status_code == 302 and len(callbacks) == 1  # the solve starts after the commit
    assert plan.status == DeliveryPlan.Status.SOLVING and plan.job_status == DeliveryPlan.Job.QUEUED
    assert plan.time_limit_s == 1.0 and not plan.routes.exists()

    page = client.get(f"/p/routing/plan/{plan.pk}/").content.decode()
    assert 'data-testid="solve-progress"' in page and f"/p/routing/plan/{plan.pk}/status.json" in page
    assert "delivery_routing/routing.js" in page and "发布计划" not in page and "重新优化" not in page
    status = client.get(f"/p/routing/plan/{plan.pk}/status.json").json()
    assert status["solving"] is True and status["job_status"] == "queued" and status["budget_s"] == 1.0
    # A second request while it is queued is refused.
    client.post(f"/p/routing/plan/{plan.pk}/reoptimise/")
    plan.refresh_from_db()
    assert plan.job_status == DeliveryPlan.Job.QUEUED

    # What the background worker runs: the Celery task.
    assert solve_plan.apply(args=(plan.pk,)).get() == DeliveryPlan.Status.DRAFT
    status = client.get(f"/p/routing/plan/{plan.pk}/status.json").json()
    assert status["solving"] is False and status["status"] == "draft" and status["job_status"] == "done"
    page = client.get(f"/p/routing/plan/{plan.pk}/").content.decode()
    assert 'data-testid="solve-progress"' not in page and "发布计划" in page and 'class="route"' in page


def test_running_solve_reports_elapsed_time_and_a_dead_worker_can_be_retried(
    operator, standard_loads, trucks
):
    plan = services.create_plan(operator, DAY, time_limit_s=10)
    plan.status, plan.job_status = DeliveryPlan.Status.SOLVING, DeliveryPlan.Job.RUNNING
    plan.job_started_at = timezone.now() - timedelta(seconds=4)
    plan.save()
    status = login(operator).get(f"/p/routing/plan/{plan.pk}/status.json").json()
    assert (
        status["job_status"] == "running" and 4 <= status["elapsed_s"] < 10 and 40 <= status["percent"] < 100
    )
    with pytest.raises(services.ValidationError):
        services.request_solve(plan, operator)  # still running
    # A worker that died leaves the plan "running" far past its budget: it may be queued again.
    DeliveryPlan.objects.filter(pk=plan.pk).update(job_started_at=timezone.now() - timedelta(minutes=10))
    plan.refresh_from_db()
    assert services.request_solve(plan, operator, time_limit_s=FAST).status == DeliveryPlan.Status.DRAFT


def test_a_failed_solve_is_shown_as_failed(settings, operator, standard_loads, trucks):
    settings.ROUTING_MATRIX_PROVIDER, settings.ROUTING_MATRIX_URL = (
        "osrm",
        "http://127.0.0.1:9",
    )  # nothing listens
    plan = services.request_solve(services.create_plan(operator, DAY, time_limit_s=FAST), operator)
    assert plan.status == DeliveryPlan.Status.FAILED and plan.job_status == DeliveryPlan.Job.FAILED
    assert [p["code"] for p in plan.problems] == ["matrix_error"]
    page = login(operator).get(f"/p/routing/plan/{plan.pk}/").content.decode()
    assert "求解失败" in page and "路网距离服务不可用" in page and 'data-testid="solve-progress"' not in page


def test_solve_budget_is_capped_per_role(settings, gql, operator, supplier_user, standard_loads, trucks):
    settings.ROUTING_MAX_SOLVE_SECONDS_OPERATOR, settings.ROUTING_MAX_SOLVE_SECONDS_PARTNER = 120, 30
    create = """mutation($input: DeliveryPlanCreateInput!){ planCreate(input: $input){
      errors { field code message } plan { id status solveStatus timeLimitSeconds } } }"""
    day = DAY.isoformat()
    refused = gql(supplier_user)(create, {"input": {"date": day, "timeLimitSeconds": 600}})["data"][
        "planCreate"
    ]
    assert refused["plan"] is None
    assert refused["errors"] == [
        {"field": "timeLimitSeconds", "code": "INVALID", "message": "求解时限须大于 0 且不超过 30 秒"}
    ]
    assert not DeliveryPlan.objects.exists()
    assert gql(operator)(create, {"input": {"date": day, "timeLimitSeconds": 121}})["data"]["planCreate"][
        "errors"
    ]
    page = login(supplier_user).post(
        "/p/routing/new/", {"date": day, "time_limit_seconds": "31"}, follow=True
    )
    assert "不超过 30 秒" in page.content.decode() and not DeliveryPlan.objects.exists()

    ok = gql(supplier_user)(create, {"input": {"date": day, "timeLimitSeconds": FAST}})["data"]["planCreate"]
    assert ok["errors"] == [] and ok["plan"]["timeLimitSeconds"] == FAST
    assert ok["plan"]["status"] == "draft" and ok["plan"]["solveStatus"] == "done"  # eager: solved at once
    reopt = """mutation($id: ID!, $s: Float){ planReoptimise(id: $id, timeLimitSeconds: $s){
      errors { field code } plan { status solveStatus timeLimitSeconds } } }"""
    too_long = gql(supplier_user)(reopt, {"id": ok["plan"]["id"], "s": 31})["data"]["planReoptimise"]
    assert too_long["errors"] == [{"field": "timeLimitSeconds", "code": "INVALID"}]
    again = gql(supplier_user)(reopt, {"id": ok["plan"]["id"], "s": FAST})["data"]["planReoptimise"]
    assert again["errors"] == [] and again["plan"]["solveStatus"] == "done"


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_solve_runs_in_a_background_thread(settings, operator, standard_loads, trucks):
    settings.ROUTING_SOLVE_IN_THREAD = True
    plan = services.create_plan(operator, DAY, time_limit_s=FAST)
    plan = services.request_solve(plan, operator)  # autocommit: the thread starts at once
    worker = next(t for t in threading.enumerate() if t.name == f"route-solve-{plan.pk}")
    worker.join(timeout=60)
    assert not worker.is_alive()
    plan.refresh_from_db()
    assert plan.status == DeliveryPlan.Status.DRAFT and plan.job_status == DeliveryPlan.Job.DONE
    assert plan.routes.exists()
