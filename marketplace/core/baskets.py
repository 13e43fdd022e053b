"""Core fallback of :func:`marketplace.core.extensions.accept_plan_lines`: stock lines go into an
open Oscar basket.

The basket belongs to the household's own login when it has one, otherwise to the station staff
member acting for it (``user``). Lines reference the exact stock record the plan was priced on
(``PlanLine.source_ref`` is the StockRecord id for ``source == "stock"``).

A line is taken only while its stock record is still sellable and has the stock for it: the record is
locked (``SELECT … FOR UPDATE``) and the basket's quantity of it after adding must not exceed
``num_in_stock − num_allocated``. Lines that fail are not taken (the caller refuses or reports them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext
from oscar.core.loading import get_model

if TYPE_CHECKING:
    from marketplace.stations.models import Household, Station

    from .extensions import AcceptedLine, PlanLine


def add_stock_lines(
    station: Station, household: Household | None, lines: Sequence[PlanLine], user: Any = None
) -> list[AcceptedLine]:
    with transaction.atomic():
        return _add_stock_lines(station, household, lines, user)


def _add_stock_lines(
    station: Station, household: Household | None, lines: Sequence[PlanLine], user: Any = None
) -> list[AcceptedLine]:
    from marketplace.apps.catalogue.services import can_station_buy
    from marketplace.apps.partner.strategy import sellable_q

    from .extensions import AcceptedLine

    Basket = get_model("basket", "Basket")
    StockRecord = get_model("partner", "StockRecord")
    owner = household.user if household is not None and household.user_id else user
    if owner is None or not getattr(owner, "is_authenticated", False):
        return []
    basket = Basket.objects.filter(owner=owner, status=Basket.OPEN).order_by("pk").first()
    if basket is None:
        basket = Basket.objects.create(owner=owner, status=Basket.OPEN)
    ids = [int(line.source_ref) for line in lines if line.source_ref.isdigit()]
    records = {
        r.pk: r
        for r in StockRecord.objects.select_for_update(of=("self",))
        .filter(sellable_q(), pk__in=ids)
        .select_related("product__product_class")
        .order_by("pk")
    }
    in_basket: dict[int, int] = {}
    for record_id, quantity in basket.lines.filter(stockrecord_id__in=list(records)).values_list(
        "stockrecord_id", "quantity"
    ):
        in_basket[record_id] = in_basket.get(record_id, 0) + quantity
    out: list[AcceptedLine] = []
    for line in lines:
        record = records.get(int(line.source_ref)) if line.source_ref.isdigit() else None
        if record is None or record.product_id != line.product_id or line.quantity <= 0:
            continue
        if not can_station_buy(station, record.product).allowed:
            continue  # restricted pesticide and the station holds no licence for it
        if in_basket.get(record.pk, 0) + line.quantity > (record.net_stock_level or 0):
            continue  # sold out meanwhile (or the basket already holds the rest)
        in_basket[record.pk] = in_basket.get(record.pk, 0) + line.quantity
        ref = f"{record.product_id}_{record.pk}"
        basket_line, created = basket.lines.get_or_create(
            line_reference=ref,
            product_id=record.product_id,
            stockrecord=record,
            defaults={
                "quantity": line.quantity,
                "price_currency": record.price_currency or "CNY",
                "price_excl_tax": record.price,
                "price_incl_tax": record.price,
            },
        )
        if not created:
            basket_line.quantity += line.quantity
            basket_line.save(update_fields=["quantity", "date_updated"])
        out.append(AcceptedLine(line, "stock", f"basket:{basket.pk}", line.quantity, gettext("已加入购物篮")))
    return out
