"""Closing a campaign at its cutoff: set-based, chunked, idempotent and crash-safe.

The close walks persisted phases (``Campaign.close_phase``). Each chunk of stations is one
transaction that also writes a ``CloseStep`` row; a re-run skips finished chunks, and a crash
inside a chunk rolls that chunk back. Outside effects are idempotent on their own: Stripe captures
and cancels are checked against the PaymentIntent's state before acting (and carry idempotency
keys), SMS rows carry dedupe keys.

success: pricing → settle → purchase_orders → finish → done
failure: pricing → release → finish → done

A ``settle`` chunk does everything for its stations in one transaction — Oscar orders and pickup
codes, settling cash and credit (and capturing Stripe) at the final price, and the SMS rows — so each
pledge's rows are read and written while their pages are hot, with one commit per chunk.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Least
from django.utils import timezone
from oscar.core.loading import get_model

from marketplace.core import sms
from marketplace.core.models import Notification
from marketplace.payments import services as payments
from marketplace.payments.models import (
    REAL_NAME_RETENTION,
    Payment,
    PaymentMethod,
    PaymentStatus,
    RealNameRecord,
    Refund,
    RefundStatus,
)

from . import messages, sql
from .models import (
    Campaign,
    CampaignItem,
    CampaignStatus,
    CloseStep,
    DeliveryLine,
    Pickup,
    Pledge,
    PledgeStatus,
    PurchaseOrder,
    StationDelivery,
)
from .services import price_at

logger = logging.getLogger("plugins.group_orders.close")

CHUNK_STATIONS = 250
# Chunks of a phase closed at once, each on its own database connection (settings.
# GROUP_ORDERS_CLOSE_WORKERS). The work is CPU inside PostgreSQL (index and foreign-key upkeep), so
# one connection per database core: on a 2-core host 216,000 pledges close in ≈ 50 s with 2 and ≈ 85 s
# with 1; 3 gained nothing there (docs/group-orders.md).
WORKERS = 2
NOTIFY_TASK_SIZE = 10_000  # notification ids per delivery task in the sweep
ORDER_STATUS = sql.ORDER_STATUS  # one status for orders from both paths


class CloseInterrupted(Exception):
    """Raised by ``max_steps`` to stop a close half-way (used to prove crash safety)."""


class _Close:
    def __init__(
        self,
        campaign: Campaign,
        max_steps: int | None,
        chunk_stations: int = CHUNK_STATIONS,
        use_sql: bool | None = None,
        workers: int | None = None,
    ) -> None:
        from django.db import connection

        self.campaign = campaign
        self.use_sql = connection.vendor == "postgresql" if use_sql is None else use_sql
        self.chunk_stations = chunk_stations
        self.max_steps = max_steps
        self.steps = 0
        self._items: dict[int, CampaignItem] | None = None
        self.started_at = timezone.now()
        self.workers = (
            workers if workers is not None else getattr(settings, "GROUP_ORDERS_CLOSE_WORKERS", WORKERS)
        )
        self._lock = threading.Lock()

    # -- helpers -------------------------------------------------------------------------------
    def items(self) -> dict[int, CampaignItem]:
        if self._items is None:
            self._items = {
                i.pk: i
                for i in CampaignItem.objects.filter(campaign=self.campaign).select_related(
                    "product", "stockrecord__partner"
                )
            }
        return self._items

    def station_chunks(self, statuses: tuple[str, ...]) -> Iterator[list[int]]:
        ids = list(
            Pledge.objects.filter(campaign=self.campaign, status__in=statuses)
            .order_by("station_id")
            .values_list("station_id", flat=True)
            .distinct()
        )
        for i in range(0, len(ids), self.chunk_stations):
            yield ids[i : i + self.chunk_stations]

    def run_chunk(self, step: str, work: Any) -> None:
        """One chunk = one transaction that also records its ``CloseStep``. The step row is inserted
        FIRST: its unique key is the chunk's lock (a concurrent closer inserting the same step waits
        for this transaction, then finds the row and skips), so chunks of one phase can run in
        parallel without serialising on the campaign row."""
        with transaction.atomic():
            try:
                with transaction.atomic():
                    CloseStep.objects.create(campaign=self.campaign, step=step)
            except IntegrityError:
                return  # finished earlier (or just now, by another closer)
            work()
            with self._lock:
                self.steps += 1
                interrupted = self.max_steps is not None and self.steps > self.max_steps
            if interrupted:
                raise CloseInterrupted(step)  # rolls this chunk back, like a crash before commit

    def run_chunks(self, name: str, chunks: Iterator[list[int]], fn: Any) -> None:
        """Run a phase's chunks, on ``self.workers`` database connections at once when that is safe:
        on PostgreSQL, outside a caller's transaction (other connections would not see its rows) and
        not when stopping after ``max_steps`` (crash tests want a deterministic order)."""
        from django.db import connection

        jobs = [(f"{name}:{c[0]}-{c[-1]}", c) for c in chunks]
        workers = min(self.workers, len(jobs))
        errors: list[BaseException] = []
        if (
            workers <= 1
            or connection.vendor != "postgresql"
            or connection.in_atomic_block
            or self.max_steps is not None
        ):
            for step, chunk in jobs:
                try:
                    self.run_chunk(step, lambda chunk=chunk: fn(chunk))
                except CloseInterrupted:
                    raise
                except Exception as exc:  # one failing chunk does not hold up the others
                    logger.exception(
                        "campaign %s: chunk %s failed; a later run retries it", self.campaign.pk, step
                    )
                    errors.append(exc)
            if errors:
                raise errors[0]
            return
        self.items()  # load the shared cache before the threads read it
        pending = iter(jobs)

        def worker() -> None:
            from django.db import connection as own

            try:
                while True:
                    with self._lock:
                        job = next(pending, None)
                    if job is None:
                        return
                    step, chunk = job
                    try:
                        self.run_chunk(step, lambda chunk=chunk: fn(chunk))
                    except Exception as exc:  # re-raised in the caller once every chunk was tried
                        logger.exception(
                            "campaign %s: chunk %s failed; a later run retries it", self.campaign.pk, step
                        )
                        errors.append(exc)
            finally:
                own.close()

        threads = [threading.Thread(target=worker, name=f"close-{name}-{i}") for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def set_phase(self, phase: str, **fields: Any) -> None:
        Campaign.objects.filter(pk=self.campaign.pk).update(close_phase=phase, **fields)
        self.campaign.close_phase = phase
        for k, v in fields.items():
            setattr(self.campaign, k, v)

    # -- phases ----------------------------------------------------------------------------------
    def pricing(self) -> None:
        with transaction.atomic():
            campaign = Campaign.objects.select_for_update().get(pk=self.campaign.pk)
            if campaign.close_phase != "pricing":
                self.campaign = campaign
                return
            totals = dict(
                Pledge.objects.filter(campaign=campaign, status=PledgeStatus.ACTIVE)
                .values("item_id")
                .annotate(q=Sum("quantity"))
                .values_list("item_id", "q")
            )
            total = sum(totals.values())
            succeeded = total >= campaign.min_total_quantity
            for item in CampaignItem.objects.filter(campaign=campaign).prefetch_related("tiers"):
                _, price = price_at(item, total)  # one final tier for everyone: the best price reached
                item.total_quantity = totals.get(item.pk, 0)
                item.final_unit_price = price
                item.save(update_fields=["total_quantity", "final_unit_price"])
                # Pledges get the final price chunk by chunk, together with their order (one rewrite).
            campaign.total_quantity = total
            campaign.succeeded = succeeded
            campaign.close_phase = "settle" if succeeded else "release"
            campaign.save(update_fields=["total_quantity", "succeeded", "close_phase"])
            self.campaign = campaign

    def settle(self) -> None:
        self.run_chunks(
            "settle", self.station_chunks((PledgeStatus.ACTIVE, PledgeStatus.CONFIRMED)), self._settle_chunk
        )
        self.set_phase("purchase_orders")

    def _settle_chunk(self, station_ids: list[int]) -> None:
        self._settle_online(station_ids)
        order_ids = self._orders_chunk(station_ids)
        self._capture_offline(station_ids)
        self._notify_chunk(station_ids, order_ids)
        queue_announcement(self.campaign.pk, f"settle:{station_ids[0]}-{station_ids[-1]}", order_ids)

    def _settle_online(self, station_ids: list[int]) -> None:
        """Each online pledge's payment settles on its own, BEFORE any order exists: the capture is
        reconciled with the PaymentIntent's real state at Stripe (a capture that went through earlier
        is recorded, never repeated). A pledge whose authorisation can no longer be captured (expired
        after ~7 days, cancelled) is marked unpaid — no order, no pickup; household and station are
        told and the station may take cash instead — and the close goes on. A transient Stripe
        error rolls this chunk back and a later run retries it (other chunks are not held up)."""
        items = self.items()
        unpaid: list[Pledge] = []
        for pledge in (
            Pledge.objects.filter(
                campaign=self.campaign,
                station_id__in=station_ids,
                status=PledgeStatus.ACTIVE,
                payment_method=PaymentMethod.STRIPE,
            )
            .select_related("payment")
            .order_by("pk")
        ):
            final = payments.money(
                pledge.quantity * min(items[pledge.item_id].final_unit_price, pledge.unit_price_at_pledge)
            )
            try:
                payments.capture(pledge.payment, final)
            except payments.NotCapturable as exc:
                logger.warning(
                    "campaign %s: pledge %s not settled (%s)", self.campaign.pk, pledge.pk, exc.state
                )
                payments.mark_unpaid(pledge.payment, f"GB{self.campaign.pk}: {exc.state}")
                unpaid.append(pledge)
        if unpaid:
            Pledge.objects.filter(pk__in=[p.pk for p in unpaid]).update(status=PledgeStatus.UNPAID)
            self._notify_unpaid(unpaid)

    def _orders_chunk(self, station_ids: list[int]) -> list[int]:
        """Create the chunk's orders, lines and pickups; returns the new order ids."""
        items = self.items()
        restricted = [pk for pk, i in items.items() if getattr(i.product, "restricted_use", False)]
        if restricted:
            self._real_name_records(
                list(
                    Pledge.objects.filter(
                        campaign=self.campaign,
                        station_id__in=station_ids,
                        status=PledgeStatus.ACTIVE,
                        item_id__in=restricted,
                    ).values_list("pk", "household_id", "station_id", "item_id", "quantity")
                )
            )
        if self.use_sql:
            return [row[0] for row in sql.orders_chunk(self.campaign.pk, station_ids)]
        for item in items.values():
            Pledge.objects.filter(
                campaign=self.campaign, station_id__in=station_ids, item=item, status=PledgeStatus.ACTIVE
            ).update(  # never above the price the pledge was authorised at (see sql.PRICE)
                final_unit_price=Least(F("unit_price_at_pledge"), Value(item.final_unit_price)),
                final_amount=F("quantity") * Least(F("unit_price_at_pledge"), Value(item.final_unit_price)),
            )
        Order = get_model("order", "Order")
        Line = get_model("order", "Line")
        LinePrice = get_model("order", "LinePrice")
        items = self.items()
        campaign = self.campaign
        rows = list(
            Pledge.objects.filter(campaign=campaign, station_id__in=station_ids, status=PledgeStatus.ACTIVE)
            .order_by("station_id", "household_id", "item_id")
            .values_list(
                "pk",
                "household_id",
                "station_id",
                "item_id",
                "quantity",
                "final_unit_price",
                "final_amount",
                "placed_by_id",
            )
        )
        if not rows:
            return []
        per_household: dict[int, list[tuple]] = defaultdict(list)
        for row in rows:
            per_household[row[1]].append(row)
        now = timezone.now()
        orders = []
        for household_id, pledges in per_household.items():
            total = sum((p[6] for p in pledges), Decimal("0"))
            orders.append(
                Order(
                    number=f"GB{campaign.pk}-{household_id}",
                    site_id=settings.SITE_ID,
                    currency=settings.OSCAR_DEFAULT_CURRENCY,
                    total_incl_tax=total,
                    total_excl_tax=total,
                    shipping_incl_tax=0,
                    shipping_excl_tax=0,
                    shipping_method="站点自提",
                    shipping_code="station-pickup",
                    status=ORDER_STATUS,
                    guest_email="",
                    date_placed=now,
                    station_id=pledges[0][2],
                    household_id=household_id,
                    placed_by_id=pledges[0][7],
                )
            )
        Order.objects.bulk_create(orders, batch_size=2000)
        order_of = {o.household_id: o for o in orders}
        lines = []
        for row in rows:
            item = items[row[3]]
            record = item.stockrecord
            base = item.base_price * row[4]
            lines.append(
                Line(
                    order=order_of[row[1]],
                    partner_id=record.partner_id,
                    partner_name=record.partner.name,
                    partner_sku=record.partner_sku,
                    partner_line_reference=f"pledge:{row[0]}",
                    partner_line_notes="",
                    stockrecord_id=record.pk,
                    product_id=item.product_id,
                    title=item.product.title,
                    upc=item.product.upc,
                    quantity=row[4],
                    line_price_incl_tax=row[6],
                    line_price_excl_tax=row[6],
                    line_price_before_discounts_incl_tax=base,
                    line_price_before_discounts_excl_tax=base,
                    unit_price_incl_tax=row[5],
                    unit_price_excl_tax=row[5],
                    status=ORDER_STATUS,
                    num_allocated=0,
                )
            )
        Line.objects.bulk_create(lines, batch_size=2000)
        LinePrice.objects.bulk_create(
            [
                LinePrice(
                    order=line.order,
                    line=line,
                    quantity=line.quantity,
                    price_incl_tax=line.unit_price_incl_tax,
                    price_excl_tax=line.unit_price_excl_tax,
                    shipping_incl_tax=0,
                    shipping_excl_tax=0,
                )
                for line in lines
            ],
            batch_size=2000,
        )
        # Pickup codes: 6 random digits, unique per station within the campaign.
        rng = random.SystemRandom()
        per_station: dict[int, list[Order]] = defaultdict(list)
        for order in orders:
            per_station[order.station_id].append(order)
        pickups = []
        for station_id, station_orders in per_station.items():
            codes = rng.sample(range(1_000_000), len(station_orders))
            for order, code in zip(station_orders, codes, strict=True):
                pickups.append(
                    Pickup(
                        campaign_id=campaign.pk,
                        household_id=order.household_id,
                        station_id=station_id,
                        order=order,
                        code=f"{code:06d}",
                    )
                )
        Pickup.objects.bulk_create(pickups, batch_size=2000)
        Pledge.objects.filter(pk__in=[r[0] for r in rows]).update(status=PledgeStatus.CONFIRMED)
        return [o.pk for o in orders]

    def _real_name_records(self, rows: list[tuple]) -> None:
        from marketplace.stations.models import Household

        items = self.items()
        households = Household.objects.in_bulk([r[1] for r in rows])
        now = timezone.now()
        RealNameRecord.objects.bulk_create(
            [
                RealNameRecord(
                    idempotency_key=f"pledge:{r[0]}:real-name",
                    household_id=r[1],
                    station_id=r[2],
                    buyer_name=households[r[1]].name,
                    id_number=households[r[1]].id_number,
                    product_id=items[r[3]].product_id,
                    product_title=items[r[3]].product.title,
                    registration_no=str(getattr(items[r[3]].product.attr, "registration_no", "") or ""),
                    quantity=r[4],
                    reference=f"GB{self.campaign.pk}",
                    created_at=now,
                    retain_until=now + REAL_NAME_RETENTION,
                )
                for r in rows
            ],
            ignore_conflicts=True,
        )

    def _capture_offline(self, station_ids: list[int]) -> None:
        """Cash and credit of the chunk's confirmed pledges, settled set-based at the final amount."""
        if self.use_sql:
            sql.capture_offline_chunk(self.campaign.pk, station_ids)
        else:
            self._capture_offline_orm(station_ids)

    def _capture_offline_orm(self, station_ids: list[int]) -> None:
        pledges = Pledge.objects.filter(
            campaign=self.campaign,
            station_id__in=station_ids,
            status=PledgeStatus.CONFIRMED,
            payment__status=PaymentStatus.AUTHORISED,
            payment_method__in=(PaymentMethod.CASH, PaymentMethod.CREDIT),
        )
        offline = list(
            pledges.exclude(payment_method=PaymentMethod.STRIPE).values_list(
                "payment_id",
                "payment__method",
                "payment__amount_authorised",
                "final_amount",
                "payment__household_id",
                "payment__station_id",
                "payment__idempotency_key",
            )
        )
        moves: list[payments.Move] = []
        change: list[Refund] = []
        for payment_id, method, authorised, final, household_id, station_id, key in offline:
            amount = min(final, authorised)
            stub = Payment(
                pk=payment_id,
                method=method,
                household_id=household_id,
                station_id=station_id,
                reference=f"GB{self.campaign.pk}",
            )
            moves.extend(payments.capture_moves(stub, amount))
            if method == PaymentMethod.CASH and authorised > amount:
                change.append(
                    Refund(
                        payment_id=payment_id,
                        amount=authorised - amount,
                        reason="团购差价退还",
                        status=RefundStatus.PENDING,
                        idempotency_key=f"{key}:change",
                    )
                )
        payments.post_many(moves)
        Refund.objects.bulk_create(change, ignore_conflicts=True, batch_size=2000)
        ids = [row[0] for row in offline]
        final = Pledge.objects.filter(payment_id=OuterRef("pk")).values("final_amount")[:1]
        Payment.objects.filter(pk__in=ids, status=PaymentStatus.AUTHORISED).update(
            status=PaymentStatus.CAPTURED, amount_captured=Least(Subquery(final), F("amount_authorised"))
        )
        Payment.objects.filter(pk__in=ids, method=PaymentMethod.CASH).update(
            amount_refunded=F("amount_authorised") - F("amount_captured")
        )

    def purchase_orders(self) -> None:
        self.run_chunk("purchase_orders", self._purchase_orders)
        self.set_phase("finish")

    def _purchase_orders(self) -> None:
        items = self.items()
        rows = list(
            Pledge.objects.filter(campaign=self.campaign, status=PledgeStatus.CONFIRMED)
            .values("item_id", "station_id")
            .annotate(q=Sum("quantity"), a=Sum("final_amount"))
            .order_by("item_id", "station_id")
        )
        groups: dict[tuple[int, int | None], list[dict]] = defaultdict(list)
        for row in rows:
            record = items[row["item_id"]].stockrecord
            groups[(record.partner_id, getattr(record, "warehouse_id", None))].append(row)
        pos = [
            PurchaseOrder(
                campaign=self.campaign,
                partner_id=partner_id,
                warehouse_id=warehouse_id,
                number=f"PO{self.campaign.pk}-{partner_id}-{warehouse_id or 0}",
                total_quantity=sum(r["q"] for r in group),
                total_amount=sum((r["a"] for r in group), Decimal("0")),
            )
            for (partner_id, warehouse_id), group in groups.items()
        ]
        PurchaseOrder.objects.bulk_create(pos)
        deliveries: dict[tuple[int, int], StationDelivery] = {}
        lines = []
        for po, ((_pk, _wh), group) in zip(pos, groups.items(), strict=True):
            for row in group:
                delivery = deliveries.get((po.pk, row["station_id"]))
                if delivery is None:
                    delivery = StationDelivery(
                        purchase_order=po, campaign=self.campaign, station_id=row["station_id"]
                    )
                    deliveries[(po.pk, row["station_id"])] = delivery
                lines.append((delivery, row))
        StationDelivery.objects.bulk_create(list(deliveries.values()), batch_size=2000)
        DeliveryLine.objects.bulk_create(
            [
                DeliveryLine(delivery=d, item_id=r["item_id"], expected=r["q"], amount=r["a"])
                for d, r in lines
            ],
            batch_size=2000,
        )

    def release(self) -> None:
        self.run_chunks(
            "release", self.station_chunks((PledgeStatus.ACTIVE, PledgeStatus.FAILED)), self._release_chunk
        )
        self.set_phase("finish")

    def _release_chunk(self, station_ids: list[int]) -> None:
        pledges = Pledge.objects.filter(
            campaign=self.campaign, station_id__in=station_ids, status=PledgeStatus.ACTIVE
        )
        cash = list(
            pledges.filter(
                payment_method=PaymentMethod.CASH, payment__status=PaymentStatus.AUTHORISED
            ).values_list("payment_id", "payment__amount_authorised", "payment__idempotency_key")
        )
        Refund.objects.bulk_create(
            [
                Refund(
                    payment_id=pid,
                    amount=amount,
                    reason="未成团退款",
                    status=RefundStatus.PENDING,
                    idempotency_key=f"{key}:void-refund",
                )
                for pid, amount, key in cash
            ],
            ignore_conflicts=True,
            batch_size=2000,
        )
        Payment.objects.filter(pk__in=[c[0] for c in cash]).update(
            status=PaymentStatus.CANCELLED, amount_refunded=F("amount_authorised")
        )
        Payment.objects.filter(
            pk__in=pledges.filter(payment_method=PaymentMethod.CREDIT).values("payment_id"),
            status=PaymentStatus.AUTHORISED,
        ).update(status=PaymentStatus.CANCELLED)
        for pledge in pledges.filter(payment_method=PaymentMethod.STRIPE).select_related("payment"):
            payments.void(pledge.payment, "未成团")
        pledges.update(status=PledgeStatus.FAILED)
        self._notify_chunk(station_ids)

    def finish(self) -> None:
        # order_placed for orders of chunks whose announcement never ran (process died after the
        # chunk's commit); the announcement step row makes a repeat a no-op.
        for step in CloseStep.objects.filter(campaign=self.campaign, step__startswith="settle:").values_list(
            "step", flat=True
        ):
            if not CloseStep.objects.filter(campaign=self.campaign, step=f"announce:{step}").exists():
                first, last = (int(x) for x in step.split(":", 1)[1].split("-"))
                order_ids = list(
                    Pickup.objects.filter(
                        campaign=self.campaign, station_id__gte=first, station_id__lte=last
                    ).values_list("order_id", flat=True)
                )
                queue_announcement(self.campaign.pk, step, order_ids)
        # Sweep: rows recorded by an earlier, interrupted run whose delivery task may never have been
        # queued (the process died between the chunk's commit and the enqueue). Rows of this run were
        # queued by their chunk. Delivery skips rows already sent, so an extra task is harmless.
        stale = list(
            Notification.objects.filter(
                dedupe_key__startswith=f"gb:{self.campaign.pk}:closed:",
                status=Notification.Status.QUEUED,
                created_at__lt=self.started_at,
            ).values_list("pk", flat=True)
        )
        for i in range(0, len(stale), NOTIFY_TASK_SIZE):
            sms.queue_delivery(stale[i : i + NOTIFY_TASK_SIZE])
        self.set_phase(
            "done",
            status=CampaignStatus.SUCCEEDED if self.campaign.succeeded else CampaignStatus.FAILED,
            closed_at=timezone.now(),
        )

    def _notify_chunk(self, station_ids: list[int], order_ids: list[int] | None = None) -> None:
        """Record the chunk's SMS rows in one bulk insert and queue ONE delivery task for them (after
        commit; with a broker the close does not wait for the SMS gateway). On success the household
        messages are those of ``order_ids``, the orders this chunk just created."""
        if self.use_sql:
            c = self.campaign
            sms.queue_delivery(sql.notify_chunk(c.pk, c.title, c.succeeded, station_ids, order_ids or []))
            return
        self._notify_chunk_orm(station_ids)

    def _notify_chunk_orm(self, station_ids: list[int]) -> None:
        from marketplace.stations.models import Station

        c = self.campaign
        notes: list[Notification] = []
        if c.succeeded:
            for household_id, phone, code, total, station_name in Pickup.objects.filter(
                campaign=c, station_id__in=station_ids
            ).values_list(
                "household_id", "household__phone", "code", "order__total_incl_tax", "station__name"
            ):
                if phone:
                    text = messages.render(
                        messages.SUCCEEDED_HOUSEHOLD,
                        total=total,
                        code=code,
                        station=station_name,
                        title=c.title,
                    )
                    notes.append(_note(phone, text, f"gb:{c.pk}:closed:household:{household_id}"))
            station_text = messages.render(messages.SUCCEEDED_STATION, title=c.title)
        else:
            for household_id, phone in (
                Pledge.objects.filter(campaign=c, station_id__in=station_ids, status=PledgeStatus.FAILED)
                .values_list("household_id", "household__phone")
                .distinct()
            ):
                if phone:
                    text = messages.render(messages.FAILED_HOUSEHOLD, title=c.title)
                    notes.append(_note(phone, text, f"gb:{c.pk}:closed:household:{household_id}"))
            station_text = messages.render(messages.FAILED_STATION, title=c.title)
        for station_id, phone in Station.objects.filter(pk__in=station_ids).values_list("pk", "phone"):
            if phone:
                notes.append(_note(phone, station_text, f"gb:{c.pk}:closed:station:{station_id}"))
        _record_notes(notes)

    def _notify_unpaid(self, pledges: list[Pledge]) -> None:
        """Household and station of each pledge whose online payment could not be settled."""
        from marketplace.stations.models import Household

        c = self.campaign
        households = Household.objects.select_related("station").in_bulk({p.household_id for p in pledges})
        notes: list[Notification] = []
        for pledge in pledges:
            household = households[pledge.household_id]
            station = household.station
            if household.phone:
                text = messages.render(messages.UNPAID_HOUSEHOLD, station=station.name, title=c.title)
                notes.append(_note(household.phone, text, f"gb:{c.pk}:closed:unpaid:{pledge.pk}"))
            if station.phone:
                text = messages.render(messages.UNPAID_STATION, household=household.name, title=c.title)
                notes.append(_note(station.phone, text, f"gb:{c.pk}:closed:unpaid-station:{pledge.pk}"))
        _record_notes(notes)


def queue_announcement(campaign_id: int, step: str, order_ids: list[int]) -> None:
    """After the chunk commits, ONE task sends Oscar's ``order_placed`` for the chunk's new orders
    (off the close's path when a broker is configured)."""
    if not order_ids:
        return
    from .tasks import announce_orders

    ids = list(order_ids)
    transaction.on_commit(lambda: announce_orders.delay(campaign_id, step, ids))


def announce_orders(campaign_id: int, step: str, order_ids: list[int]) -> int:
    """Send Oscar's ``order_placed`` once for each order of a settled chunk, as Oscar's own
    ``OrderCreator`` does for a checkout (receivers: Oscar's analytics, plugins' order hooks). The
    ``announce:<step>`` row, inserted in the same transaction as the receivers' writes, makes a
    repeated or concurrent task a no-op: each order is announced exactly once."""
    from oscar.apps.order.signals import order_placed

    Order = get_model("order", "Order")
    with transaction.atomic():
        # One announcement of a campaign at a time: receivers such as Oscar's analytics create
        # per-product counters and are not safe against a concurrent first insert.
        Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        try:
            with transaction.atomic():
                CloseStep.objects.create(campaign_id=campaign_id, step=f"announce:{step}")
        except IntegrityError:
            return 0
        count = 0
        for order in Order.objects.filter(pk__in=order_ids).prefetch_related("lines").order_by("pk"):
            order_placed.send(sender=_Close, order=order, user=order.user)
            count += 1
    return count


def _record_notes(notes: list[Notification]) -> None:
    """Insert SMS rows (dedupe keys make a re-run a no-op) and queue their delivery after commit."""
    Notification.objects.bulk_create(notes, ignore_conflicts=True, batch_size=2000)
    ids = list(
        Notification.objects.filter(
            dedupe_key__in=[n.dedupe_key for n in notes], status=Notification.Status.QUEUED
        ).values_list("pk", flat=True)
    )
    sms.queue_delivery(ids)


def _note(phone: str, text: str, key: str) -> Notification:
    return Notification(channel=Notification.Channel.SMS, recipient=phone, text=text, dedupe_key=key)


PHASES = {
    "pricing": _Close.pricing,
    "settle": _Close.settle,
    "purchase_orders": _Close.purchase_orders,
    "release": _Close.release,
    "finish": _Close.finish,
}


def close_campaign(
    campaign_id: int,
    *,
    force: bool = False,
    max_steps: int | None = None,
    chunk_stations: int = CHUNK_STATIONS,
    use_sql: bool | None = None,
    workers: int | None = None,
) -> Campaign:
    """Close a campaign (at or after its cutoff, or now with ``force``). Safe to run again at any
    point: finished work is skipped, unfinished work is completed, nothing is duplicated.
    ``use_sql`` picks the PostgreSQL set-based statements (default on PostgreSQL) or the ORM path."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.close_phase == "done":
            return campaign
        if campaign.status == CampaignStatus.OPEN:
            if campaign.is_open() and not force:
                raise ValidationError("尚未到截单时间", code="invalid_state")
            campaign.status = CampaignStatus.CLOSING
            campaign.close_phase = "pricing"
            campaign.save(update_fields=["status", "close_phase"])
        elif campaign.status != CampaignStatus.CLOSING:
            raise ValidationError("该团购不能结算", code="invalid_state")
    run = _Close(campaign, max_steps, chunk_stations, use_sql, workers)
    timings: dict[str, float] = {}
    while run.campaign.close_phase != "done":
        phase = run.campaign.close_phase
        logger.info("campaign %s: %s", campaign_id, phase)
        started = time.perf_counter()
        PHASES[phase](run)
        timings[phase] = time.perf_counter() - started
    result = Campaign.objects.get(pk=campaign_id)
    result.close_timings = timings  # seconds per phase run now (benchmarks print them)
    return result


def close_due_campaigns() -> list[int]:
    """Periodic task body: close every open campaign past its cutoff, resume any unfinished close."""
    due = list(Campaign.objects.due_to_close().values_list("pk", flat=True)) + list(
        Campaign.objects.filter(status=CampaignStatus.CLOSING).values_list("pk", flat=True)
    )
    closed = []
    for pk in dict.fromkeys(due):
        try:
            close_campaign(pk)
            closed.append(pk)
        except Exception:
            logger.exception("closing campaign %s failed; the next run resumes it", pk)
    return closed
