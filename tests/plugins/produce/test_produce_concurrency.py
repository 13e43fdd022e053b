"""The last units are never oversold: buyers paying at the same time (real threads, PostgreSQL
connections, localstripe) for the last 20 units sell exactly 20; every other buyer gets a clear
message and their card authorisation is voided (nothing charged). All 100 start together; at most
``PARALLEL`` hold a database connection at once (the shared test server's connection limit)."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from produce_kit import ADDRESS, delivery_slot, stock_of, unit_of
from testkit import CARD_PLAIN, make_user, stripe_card_token

from marketplace.payments import gateway
from plugins.produce import services
from plugins.produce.models import Checkout, ProduceOrder

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.stripe]

BUYERS = 100
PARALLEL = 16


def test_hundred_buyers_for_the_last_twenty_units(stripe_settings, rnd, lot):
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL (row locks)")
    buyers = [make_user(f"139{i:08d}", "city_buyer", phone=f"139{i:08d}") for i in range(BUYERS)]
    tokens = [stripe_card_token(CARD_PLAIN) for _ in buyers]
    unit, slot = unit_of(lot), delivery_slot(rnd)
    barrier = threading.Barrier(BUYERS)
    gate = threading.BoundedSemaphore(PARALLEL)
    results: list = [None] * BUYERS

    def worker(i: int) -> None:
        try:
            barrier.wait()
            with gate:
                results[i] = services.start_checkout(
                    buyers[i], rnd, {unit.pk: 1}, slot.pk, ADDRESS, "card", f"race-{i}", token=tokens[i]
                )
        except Exception as exc:  # collected and checked below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(BUYERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sold = [r for r in results if isinstance(r, services.CheckoutResult) and r.order]
    refused = [r for r in results if isinstance(r, ValidationError)]
    others = [r for r in results if not isinstance(r, (ValidationError, services.CheckoutResult))]
    assert others == []
    assert len(sold) == 20 and len(refused) == BUYERS - 20
    # Refused before paying (the stock was already gone) or after authorising (lost the race at the
    # row lock): the same code and a message naming the product.
    assert all(next(iter(e.error_dict.values()))[0].code == "out_of_stock" for e in refused)
    assert all("稻花香" in e.messages[0] for e in refused)
    record = stock_of(lot)
    assert (record.num_in_stock, record.num_allocated) == (20, 20)
    assert ProduceOrder.objects.count() == 20
    for checkout in Checkout.objects.filter(state="refused"):
        assert (
            gateway.retrieve(checkout.payment.stripe_payment_intent).status == "canceled"
        )  # authorisation voided
    assert Checkout.objects.exclude(state__in=["placed", "refused"]).count() == 0
    assert Checkout.objects.filter(state="placed").count() == 20
    for po in ProduceOrder.objects.all():
        assert gateway.retrieve(po.payment.stripe_payment_intent).status == "requires_capture"
