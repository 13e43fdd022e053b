"""Stock allocation is Oscar's (StockRecord.allocate / consume_allocation / cancel_allocation) with the
sellable check; CheckConstraints make stock never go negative, even under concurrency."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from catalogue_helpers import make_fertilizer
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from oscar.apps.partner.exceptions import InvalidStockAdjustment

from marketplace.apps.partner import services
from marketplace.apps.partner.models import StockRecord


@pytest.fixture
def record(product_classes, supplier, wh):
    make_fertilizer(product_classes, supplier, "F1", "尿素 46%", npk=(46, 0, 0), stock=10, warehouse=wh)
    return StockRecord.objects.get(partner_sku="F1")


@pytest.mark.django_db
def test_allocate_cancel_consume(record):
    record.allocate(4)
    record.allocate(6)
    with pytest.raises(ValidationError) as exc:
        record.allocate(1)
    assert exc.value.message_dict == {"quantity": ["库存不足"]}
    record.cancel_allocation(2)
    record.consume_allocation(8)
    record.refresh_from_db()
    assert (record.num_in_stock, record.num_allocated) == (2, 0)
    with pytest.raises(InvalidStockAdjustment):
        record.consume_allocation(1)
    with pytest.raises(ValidationError):
        record.allocate(0)


@pytest.mark.django_db
def test_database_refuses_overallocation(record):
    with pytest.raises(IntegrityError), transaction.atomic():
        StockRecord.objects.filter(pk=record.pk).update(num_allocated=11)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockRecord.objects.filter(pk=record.pk).update(num_allocated=-1)


@pytest.mark.django_db
def test_set_stock_cannot_go_below_allocation_or_touch_other_supplier(
    record, supplier_user, other_supplier, operator
):
    record.allocate(5)
    with pytest.raises(ValidationError) as exc:
        services.set_stock(supplier_user, record, num_in_stock=4)
    assert "num_in_stock" in exc.value.message_dict
    services.set_stock(supplier_user, record, num_in_stock=7, price=Decimal("99.5"))
    record.refresh_from_db()
    assert (record.num_in_stock, record.price) == (7, Decimal("99.50"))
    foreign = StockRecord.objects.create(
        product=record.product, partner=other_supplier, partner_sku="X", price=Decimal("1"), num_in_stock=1
    )
    with pytest.raises(PermissionDenied):
        services.set_stock(supplier_user, foreign, num_in_stock=100)


@pytest.mark.django_db(transaction=True)
def test_concurrent_allocations_never_oversell(product_classes, supplier):
    make_fertilizer(product_classes, supplier, "F1", "尿素 46%", npk=(46, 0, 0), stock=25)
    pk = StockRecord.objects.get(partner_sku="F1").pk
    start = threading.Barrier(16)
    wins: list[int] = []
    losses: list[int] = []
    lock = threading.Lock()

    def buyer() -> None:
        try:
            start.wait()
            for _ in range(5):
                try:
                    with transaction.atomic():
                        StockRecord.objects.get(pk=pk).allocate(1)
                    with lock:
                        wins.append(1)
                except ValidationError:
                    with lock:
                        losses.append(1)
        finally:
            connection.close()

    threads = [threading.Thread(target=buyer) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    record = StockRecord.objects.get(pk=pk)
    assert len(wins) == 25
    assert len(losses) == 16 * 5 - 25
    assert record.num_allocated == 25
    assert record.num_in_stock == 25
