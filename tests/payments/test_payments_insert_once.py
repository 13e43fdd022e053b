"""``marketplace.core.db.insert_once``: the one-statement idempotent write behind ledger entries and
cash payments — one row per key, also when two requests with the same key race."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace.core.db import insert_once
from marketplace.payments import services as pay
from marketplace.payments.models import LedgerEntry, Payment
from tests.testkit import run_parallel


def _entry(key: str, amount: str = "12.30") -> LedgerEntry:
    return pay.Move(key, "cash_in", "station:1:cash", "household:1:deposit", Decimal(amount)).entry()


@pytest.mark.django_db
def test_second_insert_with_the_same_key_writes_nothing_and_keeps_the_first():
    first = _entry("k-once")
    assert insert_once(first, "idempotency_key") and first.pk is not None
    again = _entry("k-once", "99.00")
    with CaptureQueriesContext(connection) as ctx:
        assert not insert_once(again, "idempotency_key")
    assert len(ctx.captured_queries) == 1 and "ON CONFLICT" in ctx.captured_queries[0]["sql"]
    assert again.pk is None
    stored = LedgerEntry.objects.get(idempotency_key="k-once")
    assert stored.pk == first.pk and stored.amount == Decimal("12.30")


@pytest.mark.django_db
def test_post_returns_none_for_a_repeated_move():
    move = pay.Move("k-post", "cash_in", "station:1:cash", "household:1:deposit", Decimal("5"))
    assert pay.post(move) is not None
    assert pay.post(move) is None
    assert LedgerEntry.objects.filter(idempotency_key="k-post").count() == 1


@pytest.mark.django_db(transaction=True)
def test_racing_cash_payments_with_one_key_book_once(staff_a, household_a):
    results = run_parallel(
        pay.record_cash, [(staff_a, household_a, Decimal("80"), "GB9", "k-race")] * 4
    )
    assert all(isinstance(r, Payment) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert Payment.objects.filter(idempotency_key="k-race").count() == 1
    assert LedgerEntry.objects.filter(payment_id=results[0].pk).count() == 1
    assert pay.balance(pay.station_cash(household_a.station_id)) == Decimal("80.00")
