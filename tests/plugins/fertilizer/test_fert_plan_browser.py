"""Station staff ask for fertilizer advice in Debian's Chromium at 360 px, in Chinese then English:
the bag plan is worked out in the background, so the page first says so and then shows the plan by
itself (status poll), without a manual reload.

To see the solving state every time (the job on this small catalogue takes well under a second),
the test holds a real PostgreSQL lock on the plan-line table while the page loads: the job's
insert of the lines waits for it, reads do not. Releasing it lets the job finish."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from browserkit import fits, login
from django.db import connection, transaction

from plugins.fertilizer.models import BagPlan, BagPlanLine, PlanStatus

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@contextmanager
def plan_lines_held() -> Iterator[None]:
    """Hold back every job at its write of the plan lines until the block ends."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {BagPlanLine._meta.db_table} IN SHARE MODE")
        yield


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_see_the_plan_appear_after_the_solving_state(
    settings, live_server, page, staff_a, fert_catalogue, field_a, soil_a
):
    settings.JOBS_IN_THREAD = True  # the embedded default: the page does not wait for the solve
    login(page, live_server.url, staff_a.username)
    page.goto(f"{live_server.url}/p/fertilizer/fields/{field_a.pk}/")
    fits(page)

    with plan_lines_held():
        page.click("[data-testid=recommend]")
        page.wait_for_selector("[data-testid=plan-solving]")
        assert "正在计算配肥方案…" in page.inner_text("main")
        assert page.locator("[data-testid=plan]").count() == 0
        assert page.locator("[data-testid=add-to-order]").count() == 0
        fits(page)
    # The page polls status.json and shows the plan by itself.
    page.wait_for_selector("[data-testid=plan]", timeout=30_000)
    fits(page)
    assert page.locator("[data-testid=plan-solving]").count() == 0
    assert page.locator("[data-testid=add-to-order]").count() == 1
    first = BagPlan.objects.get(recommendation__field=field_a, is_current=True)
    assert first.status == PlanStatus.PROPOSED and first.job_status == "done"
    assert page.inner_text("[data-testid=cost]").startswith("¥")

    # In English: re-plan at today's prices, the same sequence.
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page.reload()
    with plan_lines_held():
        page.click("form[action$='/replan/'] button")
        page.wait_for_selector("[data-testid=plan-solving]")
        text = page.inner_text("main")
        assert "Working out the bag plan…" in text and "正在计算" not in text
        fits(page)
    page.wait_for_selector("[data-testid=plan]", timeout=30_000)
    fits(page)
    assert "Re-plan at today's prices" in page.inner_text("main")
    second = BagPlan.objects.get(recommendation__field=field_a, is_current=True)
    assert second.pk != first.pk and second.status == PlanStatus.PROPOSED
