"""``marketplace.core.db.lock_row`` and ``add_to``: the fixed statements of the pledge hot path —
a row lock that holds until the transaction ends, and counters the database adds to."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from marketplace.core.db import add_to, lock_row
from marketplace.stations.models import Household
from tests.testkit import run_parallel


@pytest.mark.django_db
def test_add_to_is_one_update_and_lock_row_says_whether_the_row_exists(household_a):
    Household.objects.filter(pk=household_a.pk).update(credit_limit=10)
    with CaptureQueriesContext(connection) as ctx:
        assert add_to(Household, household_a.pk, credit_limit=5) == 1
    assert len(ctx.captured_queries) == 1 and ctx.captured_queries[0]["sql"].startswith("UPDATE")
    household_a.refresh_from_db()
    assert household_a.credit_limit == 15
    assert add_to(Household, 0, credit_limit=5) == 0
    with transaction.atomic():
        assert lock_row(Household, household_a.pk)
        assert not lock_row(Household, 0)


@pytest.mark.django_db(transaction=True)
def test_concurrent_adds_are_all_counted(household_a):
    Household.objects.filter(pk=household_a.pk).update(credit_limit=0)

    def add() -> int:
        with transaction.atomic():
            return add_to(Household, household_a.pk, credit_limit=1)

    assert run_parallel(add, [()] * 6) == [1] * 6
    household_a.refresh_from_db()
    assert household_a.credit_limit == 6


@pytest.mark.django_db(transaction=True)
def test_lock_row_holds_until_the_transaction_ends(household_a):
    assert connection.vendor == "postgresql"

    def try_lock() -> str:
        try:
            with transaction.atomic():
                Household.objects.select_for_update(nowait=True).get(pk=household_a.pk)
            return "locked it"
        except DatabaseError:
            return "refused"

    with transaction.atomic():
        lock_row(Household, household_a.pk)
        assert run_parallel(try_lock, [()]) == ["refused"]
    assert run_parallel(try_lock, [()]) == ["locked it"]
