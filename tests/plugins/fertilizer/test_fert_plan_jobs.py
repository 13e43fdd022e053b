"""Bag plans are worked out in the background (marketplace.core.jobs): the request only queues the
plan; the job reads the offers and solves, once; a job whose process died is resumed; a failed job
says so and can be recomputed; nobody orders a plan that is not worked out; only those who may see
the plan may poll it. Real database, real solver, the real Celery task (eager, no broker)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from testkit import logged_in

from marketplace.celery import beat_schedule
from plugins.fertilizer import services, tasks
from plugins.fertilizer.models import BagPlan, ParameterSetVersion, PlanStatus

pytestmark = pytest.mark.django_db

PLAN = (
    """query($id: ID!) { fertPlan(id: $id) { id status solving jobStatus cost { amount } lines { bags } } }"""
)
REC_CREATE = """mutation($f: ID!) { recommendationCreate(fieldId: $f) { errors { field code message }
  recommendation { id } plan { id status solving jobStatus lines { bags } } } }"""
ORDER = """mutation($p: ID!) { planAddToOrder(planId: $p) { errors { code message } plan { status } } }"""


def lines_of(plan: BagPlan) -> list[tuple[str, str, int]]:
    return sorted((x.phase, x.sku, x.bags) for x in plan.lines.all())


def queued_plan(settings, staff, rec, capture) -> BagPlan:
    """The request step as the embedded default runs it (the job waits for the commit)."""
    settings.JOBS_IN_THREAD = True
    with capture() as callbacks:
        plan = services.create_plan(staff, rec)
    assert len(callbacks) == 1  # the job starts after the commit, not inside the request
    return plan


def test_the_request_step_queues_the_plan_without_reading_offers_and_the_job_makes_the_same_plan(
    settings, fert_catalogue, staff_a, field_a, soil_a, django_capture_on_commit_callbacks
):
    rec = services.create_recommendation(staff_a, field_a)
    settings.JOBS_IN_THREAD = True
    with CaptureQueriesContext(connection) as ctx, django_capture_on_commit_callbacks() as callbacks:
        plan = services.create_plan(staff_a, rec)
    assert len(callbacks) == 1
    assert plan.status == PlanStatus.SOLVING and plan.job_status == "queued" and plan.job_active
    assert plan.is_current and not plan.lines.exists() and not plan.is_solved
    sql = " ".join(q["sql"] for q in ctx.captured_queries)
    assert "partner_stockrecord" not in sql and "productattributevalue" not in sql  # no offers read
    assert len(ctx.captured_queries) <= 12

    # What the worker runs: the Celery task, which claims the plan and solves it.
    assert tasks.solve_bag_plan.apply(args=(plan.pk,)).get() == PlanStatus.PROPOSED
    plan.refresh_from_db()
    assert plan.job_status == "done" and plan.job_attempts == 1 and not plan.job_active and plan.is_solved

    # The same plan as one worked out inside the request (the synchronous path of before).
    settings.JOBS_IN_THREAD = False
    inline = services.create_plan(staff_a, rec)
    assert inline.status == PlanStatus.PROPOSED and inline.job_status == "done"
    assert lines_of(plan) == lines_of(inline) and lines_of(plan)
    assert (plan.cost, plan.delivered_kg, plan.reasons, plan.tolerance) == (
        inline.cost,
        inline.delivered_kg,
        inline.reasons,
        inline.tolerance,
    )
    assert (plan.usual_label, plan.usual_cost, plan.saving_cost) == (
        inline.usual_label,
        inline.usual_cost,
        inline.saving_cost,
    )
    plan.refresh_from_db()
    assert not plan.is_current and inline.is_current  # the job never makes a superseded plan current


def test_a_redelivered_task_does_nothing(settings, fert_catalogue, staff_a, field_a, soil_a):
    plan = services.create_plan(staff_a, services.create_recommendation(staff_a, field_a))
    assert plan.status == PlanStatus.PROPOSED and plan.job_attempts == 1
    before = lines_of(plan)
    assert tasks.solve_bag_plan.apply(args=(plan.pk,)).get() == PlanStatus.PROPOSED
    plan.refresh_from_db()
    assert plan.job_attempts == 1 and lines_of(plan) == before and plan.lines.count() == len(before)
    assert tasks.solve_bag_plan.apply(args=(987654,)).get() == ""  # a plan gone meanwhile


def test_a_job_whose_process_died_is_resumed_by_the_periodic_task_then_given_up(
    settings, fert_catalogue, staff_a, field_a, soil_a, django_capture_on_commit_callbacks
):
    assert beat_schedule()["fertilizer.resume-stale-plans"]["task"] == "fertilizer.resume_stale_plans"
    plan = queued_plan(
        settings,
        staff_a,
        services.create_recommendation(staff_a, field_a),
        django_capture_on_commit_callbacks,
    )
    now = timezone.now()
    BagPlan.objects.filter(pk=plan.pk).update(
        job_status="running",
        job_started_at=now - timedelta(seconds=90),
        job_heartbeat_at=now - timedelta(seconds=60),
        job_attempts=1,
    )
    with django_capture_on_commit_callbacks() as callbacks:
        assert tasks.resume_stale_plans.apply().get() == [plan.pk]
    assert len(callbacks) == 1
    plan.refresh_from_db()
    assert plan.job_status == "queued" and plan.job_attempts == 1 and plan.status == PlanStatus.SOLVING
    note = services.plan_progress(plan)["note"]
    assert note == "上次计算的进程已中断，已自动重新开始（第 2 次）"
    # A live heartbeat is left alone.
    BagPlan.objects.filter(pk=plan.pk).update(job_status="running", job_heartbeat_at=timezone.now())
    assert services.resume_stale_plans() == []

    # Lost its process three times: given up, with a message and a way to recompute.
    BagPlan.objects.filter(pk=plan.pk).update(
        job_heartbeat_at=now - timedelta(seconds=60), job_attempts=services.MAX_PLAN_ATTEMPTS
    )
    assert services.resume_stale_plans() == []
    plan.refresh_from_db()
    assert plan.status == PlanStatus.FAILED and plan.job_status == "failed"
    assert plan.error == "计算进程多次中断，请重新计算或联系平台。"


def test_the_page_poll_resumes_a_job_queued_in_a_process_that_died(
    settings, fert_catalogue, staff_a, field_a, soil_a, django_capture_on_commit_callbacks
):
    rec = services.create_recommendation(staff_a, field_a)
    plan = queued_plan(settings, staff_a, rec, django_capture_on_commit_callbacks)
    BagPlan.objects.filter(pk=plan.pk).update(job_queued_at=timezone.now() - timedelta(minutes=5))
    client = logged_in(staff_a)
    with django_capture_on_commit_callbacks() as callbacks:
        status = client.get(reverse("fertilizer:plan-status", args=[plan.pk])).json()
    assert len(callbacks) == 1 and status["solving"] is True and status["job_status"] == "queued"
    assert tasks.solve_bag_plan.apply(args=(plan.pk,)).get() == PlanStatus.PROPOSED  # what it starts
    status = client.get(reverse("fertilizer:plan-status", args=[plan.pk])).json()
    assert status == {**status, "solving": False, "status": "proposed", "job_status": "done"}


def test_a_failed_job_says_so_and_can_be_recomputed(
    settings, fert_catalogue, staff_a, field_a, soil_a, django_capture_on_commit_callbacks
):
    rec = services.create_recommendation(staff_a, field_a)
    plan = queued_plan(settings, staff_a, rec, django_capture_on_commit_callbacks)
    good = rec.parameter_set.data
    ParameterSetVersion.objects.filter(pk=rec.parameter_set_id).update(data={"broken": True})
    assert tasks.solve_bag_plan.apply(args=(plan.pk,)).get() == PlanStatus.FAILED
    ParameterSetVersion.objects.filter(pk=rec.parameter_set_id).update(data=good)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.FAILED and plan.job_status == "failed" and not plan.lines.exists()
    assert plan.error == "计算配肥方案时出错，请重新计算或联系平台。"

    client = logged_in(staff_a)
    page = client.get(reverse("fertilizer:recommendation", args=[rec.pk])).content.decode()
    assert 'data-testid="plan-failed"' in page and plan.error in page
    assert 'data-testid="plan-retry"' in page and "重新计算" in page
    assert 'data-testid="add-to-order"' not in page and 'data-testid="plan-solving"' not in page

    settings.JOBS_IN_THREAD = False
    r = client.post(reverse("fertilizer:recommendation-replan", args=[rec.pk]), follow=True)
    assert 'data-testid="plan"' in r.content.decode()
    assert rec.plans.order_by("-pk").first().status == PlanStatus.PROPOSED


def test_the_page_shows_the_solving_state_then_the_plan(
    settings, fert_catalogue, staff_a, field_a, soil_a, django_capture_on_commit_callbacks
):
    settings.JOBS_IN_THREAD = True
    client = logged_in(staff_a)
    with django_capture_on_commit_callbacks() as callbacks:
        r = client.post(reverse("fertilizer:field-recommend", args=[field_a.pk]))
    assert r.status_code == 302 and len(callbacks) == 1
    plan = BagPlan.objects.get(recommendation__field=field_a, is_current=True)
    status_url = reverse("fertilizer:plan-status", args=[plan.pk])
    page = client.get(r.url).content.decode()
    assert "正在计算配肥方案…" in page and status_url in page and "fertilizer/plan-status.js" in page
    assert 'data-testid="plan"' not in page and 'data-testid="add-to-order"' not in page
    assert "按当前价格重新配肥" not in page  # no second job while this one is queued
    assert client.get(status_url).json()["solving"] is True

    tasks.solve_bag_plan.apply(args=(plan.pk,))
    assert client.get(status_url).json()["solving"] is False
    page = client.get(r.url).content.decode()
    assert 'data-testid="plan"' in page and 'data-testid="add-to-order"' in page
    assert "正在计算配肥方案…" not in page and "fertilizer/plan-status.js" not in page


def test_english_page_while_solving(
    settings, fert_catalogue, staff_a, field_a, soil_a, django_capture_on_commit_callbacks
):
    rec = services.create_recommendation(staff_a, field_a)
    queued_plan(settings, staff_a, rec, django_capture_on_commit_callbacks)
    client = logged_in(staff_a)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("fertilizer:recommendation", args=[rec.pk])).content.decode()
    assert "Working out the bag plan…" in page and "正在计算配肥方案" not in page


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_job_runs_in_a_thread_after_the_request(
    settings, fert_catalogue, staff_a, field_a, soil_a
):
    settings.JOBS_IN_THREAD = True
    rec = services.create_recommendation(staff_a, field_a)
    plan = services.create_plan(staff_a, rec)  # autocommit: the thread starts at once
    assert plan.status in (PlanStatus.SOLVING, PlanStatus.PROPOSED)
    worker = next(t for t in threading.enumerate() if t.name == f"bag-plan-{plan.pk}")
    worker.join(timeout=60)
    assert not worker.is_alive()
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PROPOSED and plan.job_status == "done" and plan.lines.exists()


def test_a_plan_not_worked_out_cannot_be_ordered(
    settings, gql, fert_catalogue, staff_a, field_a, soil_a, django_capture_on_commit_callbacks
):
    rec = services.create_recommendation(staff_a, field_a)
    plan = queued_plan(settings, staff_a, rec, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError) as exc:
        services.add_plan_to_order(staff_a, plan, {})
    assert exc.value.code == "invalid_state" and exc.value.messages == [
        "配肥方案还在计算中，请等计算完成后再下单"
    ]

    client = logged_in(staff_a)
    r = client.get(reverse("fertilizer:plan-order", args=[plan.pk]), follow=True)
    assert r.redirect_chain[-1][0] == reverse("fertilizer:recommendation", args=[rec.pk])
    assert "配肥方案还在计算中，请等计算完成后再下单" in r.content.decode()
    r = client.post(reverse("fertilizer:plan-order", args=[plan.pk]), follow=True)
    assert "配肥方案还在计算中" in r.content.decode()
    out = gql(staff_a)(ORDER, {"p": plan.pk})["data"]["planAddToOrder"]
    assert out["errors"] == [{"code": "INVALID_STATE", "message": "配肥方案还在计算中，请等计算完成后再下单"}]
    plan.refresh_from_db()
    assert plan.status == PlanStatus.SOLVING

    BagPlan.objects.filter(pk=plan.pk).update(status=PlanStatus.FAILED, job_status="failed")
    with pytest.raises(ValidationError, match="配肥方案计算失败，请重新计算后再下单"):
        services.add_plan_to_order(staff_a, plan, {})


def test_graphql_returns_the_queued_plan_and_it_can_be_polled_by_whoever_may_see_it(
    settings, gql, fert_catalogue, staff_a, staff_b, field_a, soil_a, django_capture_on_commit_callbacks
):
    settings.JOBS_IN_THREAD = True
    with django_capture_on_commit_callbacks() as callbacks:
        out = gql(staff_a)(REC_CREATE, {"f": field_a.pk})["data"]["recommendationCreate"]
    assert out["errors"] == [] and len(callbacks) == 1
    assert out["plan"] == {
        **out["plan"],
        "status": "solving",
        "solving": True,
        "jobStatus": "queued",
        "lines": [],
    }
    plan_id = out["plan"]["id"]
    polled = gql(staff_a)(PLAN, {"id": plan_id})["data"]["fertPlan"]
    assert polled["status"] == "solving" and polled["solving"] is True

    tasks.solve_bag_plan.apply(args=(int(plan_id),))
    polled = gql(staff_a)(PLAN, {"id": plan_id})["data"]["fertPlan"]
    assert polled["status"] == "proposed" and polled["solving"] is False and polled["jobStatus"] == "done"
    assert polled["lines"] and float(polled["cost"]["amount"]) > 0

    # Another station's staff: no such plan (query), 404 (page poll).
    assert gql(staff_b)(PLAN, {"id": plan_id})["data"]["fertPlan"] is None
    assert gql(staff_a)(PLAN, {"id": "abc"})["data"]["fertPlan"] is None
    assert logged_in(staff_b).get(reverse("fertilizer:plan-status", args=[plan_id])).status_code == 404
    assert gql(None)(PLAN, {"id": plan_id})["data"]["fertPlan"] is None


def test_seed_runs_the_job_inline_even_with_the_thread_on(
    settings, fert_catalogue, staff_a, field_a, soil_a, django_capture_on_commit_callbacks
):
    settings.JOBS_IN_THREAD = True
    rec = services.create_recommendation(staff_a, field_a)
    with django_capture_on_commit_callbacks() as callbacks:
        plan = services.create_plan(staff_a, rec, run_now=True)
    assert callbacks == [] and plan.status == PlanStatus.PROPOSED and plan.lines.exists()
