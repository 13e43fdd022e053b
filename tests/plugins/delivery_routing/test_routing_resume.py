"""A solve whose process died is resumed promptly and visibly: the running solve keeps a heartbeat;
one whose heartbeat stopped (a restart of the web process that solved in a thread, a killed
worker) or that was queued and never picked up is queued again by the periodic task and by the
plan page's status poll, the page says so, and a solve that keeps losing its process is given up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from routing_fixtures import DAY, FAST
from testkit import logged_in

from marketplace.celery import beat_schedule
from plugins.delivery_routing import services, tasks
from plugins.delivery_routing.models import DeliveryPlan

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    return logged_in(user)


def running(plan: DeliveryPlan, started_ago: timedelta, beat_ago: timedelta | None, attempts: int = 1):
    """The plan as a worker left it: running since ``started_ago``, last heartbeat ``beat_ago``."""
    now = timezone.now()
    DeliveryPlan.objects.filter(pk=plan.pk).update(
        status=DeliveryPlan.Status.SOLVING,
        job_status=DeliveryPlan.Job.RUNNING,
        job_queued_at=now - started_ago,
        job_started_at=now - started_ago,
        job_heartbeat_at=None if beat_ago is None else now - beat_ago,
        job_attempts=attempts,
    )
    plan.refresh_from_db()
    return plan


def test_the_status_poll_requeues_a_solve_whose_process_died_and_the_page_says_so(
    settings, operator, standard_loads, trucks, django_capture_on_commit_callbacks
):
    settings.ROUTING_SOLVE_IN_THREAD = True  # the embedded default: the solve ran in a thread
    plan = running(
        services.create_plan(operator, DAY, time_limit_s=FAST), timedelta(seconds=50), timedelta(seconds=40)
    )
    client = login(operator)
    with django_capture_on_commit_callbacks() as callbacks:
        status = client.get(f"/p/routing/plan/{plan.pk}/status.json").json()
    assert len(callbacks) == 1  # the solve is started again after the commit
    assert status["solving"] is True and status["job_status"] == "queued"
    assert status["note"] == "上次求解的进程已中断，已自动重新开始（第 2 次）"
    page = client.get(f"/p/routing/plan/{plan.pk}/").content.decode()
    assert 'data-testid="solve-resumed"' in page and "已自动重新开始（第 2 次）" in page

    # What the restarted worker runs: the task claims the plan once and solves it.
    assert tasks.solve_plan.apply(args=(plan.pk,)).get() == DeliveryPlan.Status.DRAFT
    plan.refresh_from_db()
    assert plan.job_status == DeliveryPlan.Job.DONE and plan.job_attempts == 2 and plan.routes.exists()
    assert tasks.solve_plan.apply(args=(plan.pk,)).get() == DeliveryPlan.Status.DRAFT  # no second solve
    plan.refresh_from_db()
    assert plan.job_attempts == 2


def test_a_live_solve_is_left_alone_however_long_it_runs(operator, standard_loads, trucks):
    """Long past its budget but with a fresh heartbeat: its process is alive, nothing is queued."""
    plan = running(
        services.create_plan(operator, DAY, time_limit_s=FAST), timedelta(minutes=20), timedelta(seconds=3)
    )
    assert services.resume_stale_solves() == []
    status = login(operator).get(f"/p/routing/plan/{plan.pk}/status.json").json()
    assert status["job_status"] == "running" and status["note"] == ""
    plan.refresh_from_db()
    assert plan.job_status == DeliveryPlan.Job.RUNNING and plan.job_attempts == 1
    # The same plan with a silent heartbeat is resumed (here at once: no thread in tests).
    running(plan, timedelta(minutes=20), timedelta(minutes=1))
    assert services.resume_stale_solves() == [plan.pk]
    plan.refresh_from_db()
    assert plan.status == DeliveryPlan.Status.DRAFT and plan.job_status == DeliveryPlan.Job.DONE


def test_the_periodic_task_requeues_a_solve_never_picked_up(settings, operator, standard_loads, trucks):
    schedule = beat_schedule()
    assert schedule["delivery-routing.resume-stale-solves"]["task"] == "delivery_routing.resume_stale_solves"
    plan = services.create_plan(operator, DAY, time_limit_s=FAST)
    DeliveryPlan.objects.filter(pk=plan.pk).update(
        status=DeliveryPlan.Status.SOLVING,
        job_status=DeliveryPlan.Job.QUEUED,
        job_queued_at=timezone.now() - timedelta(seconds=10),
    )
    assert tasks.resume_stale_solves.apply().get() == []  # just queued: its thread is about to claim it
    DeliveryPlan.objects.filter(pk=plan.pk).update(job_queued_at=timezone.now() - timedelta(minutes=2))
    assert tasks.resume_stale_solves.apply().get() == [plan.pk]
    plan.refresh_from_db()
    assert plan.status == DeliveryPlan.Status.DRAFT and plan.job_attempts == 1


def test_a_solve_that_keeps_losing_its_process_is_given_up(operator, standard_loads, trucks):
    plan = services.create_plan(operator, DAY, time_limit_s=FAST)
    running(plan, timedelta(minutes=5), timedelta(minutes=4), attempts=services.MAX_SOLVE_ATTEMPTS)
    assert services.resume_stale_solves() == []
    plan.refresh_from_db()
    assert plan.status == DeliveryPlan.Status.FAILED and plan.job_status == DeliveryPlan.Job.FAILED
    assert [p["code"] for p in plan.problems] == ["solver_interrupted"]
    page = login(operator).get(f"/p/routing/plan/{plan.pk}/").content.decode()
    assert "求解进程多次中断" in page and 'data-testid="solve-progress"' not in page
    # The dispatcher may ask again (a shorter budget); the count starts over.
    plan = services.request_solve(plan, operator, time_limit_s=FAST)
    assert plan.status == DeliveryPlan.Status.DRAFT and plan.job_attempts == 1


@pytest.mark.django_db(transaction=True)
def test_the_running_solve_beats(settings, operator, standard_loads, trucks):
    """The heartbeat thread writes from its own connection while the solve runs."""
    settings.ROUTING_HEARTBEAT_SECONDS = 0.05
    plan = services.create_plan(operator, DAY, time_limit_s=FAST)
    DeliveryPlan.objects.filter(pk=plan.pk).update(
        status=DeliveryPlan.Status.SOLVING, job_status=DeliveryPlan.Job.QUEUED, job_queued_at=timezone.now()
    )
    assert services.run_solve_job(plan.pk) == DeliveryPlan.Status.DRAFT
    plan.refresh_from_db()
    assert plan.job_heartbeat_at is not None and plan.job_heartbeat_at > plan.job_started_at
