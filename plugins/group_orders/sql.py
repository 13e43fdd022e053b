"""PostgreSQL set-based statements for the hot phases of a campaign close (orders, capture, notify).

Each function does one chunk of stations with a handful of INSERT … SELECT / UPDATE … FROM
statements instead of instantiating hundreds of thousands of model objects. The closing module uses
them on PostgreSQL and falls back to the ORM elsewhere (SQLite embedded default); both produce the
same rows (tests run both).
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from marketplace.apps.order.statuses import ORDERED

from . import messages

ORDER_STATUS = ORDERED  # Oscar's initial status in OSCAR_ORDER_STATUS_PIPELINE
#: What a pledge pays per unit: the campaign's final tier price, but never more than the price the
#: pledge was authorised at (cancellations after it can push the final tier back up).
PRICE = "LEAST(i.final_unit_price, p.unit_price_at_pledge)"


def _exec(sql: str, params: dict[str, Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


#: Limits a statement to the given pledges (``None``: every pledge of the chunk's stations).
_ONLY = "AND (%(pledges)s::bigint[] IS NULL OR p.id = ANY(%(pledges)s::bigint[]))"


def orders_chunk(
    campaign_id: int, station_ids: list[int], pledge_ids: list[int] | None = None
) -> list[tuple[int, int, int]]:
    """Orders, lines, line prices and pickups for a chunk; returns (order id, household id, station id).
    ``pledge_ids`` limits it to those pledges (a station taking cash for a lapsed pledge)."""
    p = {
        "pledges": pledge_ids,
        "c": campaign_id,
        "prefix": f"GB{campaign_id}-",
        "stations": station_ids,
        "cur": settings.OSCAR_DEFAULT_CURRENCY,
        "status": ORDER_STATUS,
        "now": timezone.now(),
        "site": settings.SITE_ID,
    }
    orders = _exec(
        f"""
        INSERT INTO order_order (number, currency, total_incl_tax, total_excl_tax, shipping_incl_tax,
            shipping_excl_tax, shipping_method, shipping_code, status, guest_email, date_placed, site_id,
            analytics_tracked, household_id, placed_by_id, station_id)
        SELECT %(prefix)s || p.household_id, %(cur)s, SUM(p.quantity * {PRICE}), SUM(p.quantity * {PRICE}),
            0, 0, '站点自提', 'station-pickup', %(status)s, '', %(now)s,
            %(site)s, false, p.household_id, MIN(p.placed_by_id), MIN(p.station_id)
        FROM group_orders_pledge p JOIN group_orders_campaignitem i ON i.id = p.item_id
        WHERE p.campaign_id = %(c)s AND p.station_id = ANY(%(stations)s) AND p.status = 'active' {_ONLY}
        GROUP BY p.household_id
        RETURNING id, household_id, station_id
        """,
        p,
    )
    if not orders:
        return []
    p["orders"] = [o[0] for o in orders]
    _exec(
        f"""
        INSERT INTO order_line (order_id, partner_id, partner_name, partner_sku, partner_line_reference,
            partner_line_notes, stockrecord_id, product_id, title, upc, quantity, line_price_incl_tax,
            line_price_excl_tax, line_price_before_discounts_incl_tax, line_price_before_discounts_excl_tax,
            unit_price_incl_tax, unit_price_excl_tax, status, allocation_cancelled, num_allocated)
        SELECT o.id, sr.partner_id, pa.name, sr.partner_sku, 'pledge:' || p.id, '', sr.id, pr.id, pr.title,
            pr.upc, p.quantity, p.quantity * {PRICE}, p.quantity * {PRICE},
            i.base_price * p.quantity, i.base_price * p.quantity, {PRICE}, {PRICE},
            %(status)s, false, 0
        FROM group_orders_pledge p
        JOIN order_order o ON o.number = %(prefix)s || p.household_id
        JOIN group_orders_campaignitem i ON i.id = p.item_id
        JOIN partner_stockrecord sr ON sr.id = i.stockrecord_id
        JOIN partner_partner pa ON pa.id = sr.partner_id
        JOIN catalogue_product pr ON pr.id = i.product_id
        WHERE p.campaign_id = %(c)s AND p.station_id = ANY(%(stations)s) AND p.status = 'active' {_ONLY}
        ORDER BY o.id, p.item_id
        """,
        p,
    )
    _exec(
        """
        INSERT INTO order_lineprice (order_id, line_id, quantity, price_incl_tax, price_excl_tax,
            shipping_incl_tax, shipping_excl_tax)
        SELECT l.order_id, l.id, l.quantity, l.unit_price_incl_tax, l.unit_price_excl_tax, 0, 0
        FROM order_line l WHERE l.order_id = ANY(%(orders)s)
        """,
        p,
    )
    rng = random.SystemRandom()
    per_station: dict[int, list[tuple]] = defaultdict(list)
    for order in orders:
        per_station[order[2]].append(order)
    h, s, o, codes = [], [], [], []
    for station_id, rows in per_station.items():
        for row, code in zip(rows, rng.sample(range(1_000_000), len(rows)), strict=True):
            o.append(row[0])
            h.append(row[1])
            s.append(station_id)
            codes.append(f"{code:06d}")
    p.update(h=h, s=s, o=o, codes=codes)
    _exec(
        """
        INSERT INTO group_orders_pickup (campaign_id, household_id, station_id, order_id, code, status)
        SELECT %(c)s, t.h, t.s, t.o, t.code, 'awaiting'
        FROM unnest(%(h)s::bigint[], %(s)s::bigint[], %(o)s::bigint[], %(codes)s::text[]) AS t(h, s, o, code)
        """,
        p,
    )
    _exec(
        f"""
        UPDATE group_orders_pledge p SET status = 'confirmed', final_unit_price = {PRICE},
            final_amount = p.quantity * {PRICE}
        FROM group_orders_campaignitem i
        WHERE i.id = p.item_id AND p.campaign_id = %(c)s AND p.station_id = ANY(%(stations)s)
          AND p.status = 'active' {_ONLY}
        """,
        p,
    )
    return orders


_OFFLINE = f"""
    FROM group_orders_pledge p JOIN payments_payment pm ON pm.id = p.payment_id
    WHERE p.campaign_id = %(c)s AND p.station_id = ANY(%(stations)s) AND p.status = 'confirmed'
      AND pm.status = 'authorised' AND pm.method IN ('cash', 'credit') {_ONLY}
"""


def capture_offline_chunk(
    campaign_id: int, station_ids: list[int], pledge_ids: list[int] | None = None
) -> None:
    """Settle the chunk's cash and credit payments at the final amount (≤ authorised): ledger entries,
    cash change refunds, payment rows — three statements, each idempotent on its own keys."""
    p = {"c": campaign_id, "stations": station_ids, "now": timezone.now(), "pledges": pledge_ids}
    _exec(
        f"""
        INSERT INTO payments_ledgerentry (idempotency_key, kind, debit_account, credit_account, amount,
            reference, memo, created_at, household_id, station_id, payment_id)
        SELECT 'payment:' || pm.id || ':capture',
            CASE pm.method WHEN 'cash' THEN 'sale' ELSE 'credit_sale' END,
            'household:' || pm.household_id || CASE pm.method WHEN 'cash' THEN ':deposit' ELSE ':receivable' END,
            'sales', LEAST(p.final_amount, pm.amount_authorised), pm.reference, '', %(now)s,
            pm.household_id, pm.station_id, pm.id
        {_OFFLINE} AND LEAST(p.final_amount, pm.amount_authorised) > 0
        ON CONFLICT (idempotency_key) DO NOTHING
        """,
        p,
    )
    _exec(
        f"""
        INSERT INTO payments_refund (payment_id, amount, reason, status, idempotency_key, stripe_refund_id,
            created_at)
        SELECT pm.id, pm.amount_authorised - p.final_amount, '团购差价退还', 'pending',
            pm.idempotency_key || ':change', '', %(now)s
        {_OFFLINE} AND pm.method = 'cash' AND pm.amount_authorised > p.final_amount
        ON CONFLICT (idempotency_key) DO NOTHING
        """,
        p,
    )
    _exec(
        f"""
        UPDATE payments_payment pm SET status = 'captured',
            amount_captured = LEAST(p.final_amount, pm.amount_authorised),
            amount_refunded = CASE WHEN pm.method = 'cash'
                THEN pm.amount_authorised - LEAST(p.final_amount, pm.amount_authorised)
                ELSE pm.amount_refunded END,
            updated_at = %(now)s
        FROM group_orders_pledge p
        WHERE p.payment_id = pm.id AND p.campaign_id = %(c)s AND p.station_id = ANY(%(stations)s)
          AND p.status = 'confirmed' AND pm.status = 'authorised' AND pm.method IN ('cash', 'credit')
          {_ONLY}
        """,
        p,
    )


def notify_chunk(
    campaign_id: int, title: str, succeeded: bool, station_ids: list[int], order_ids: list[int]
) -> list[int]:
    """Record the chunk's SMS rows — one per household with a phone, one per station — in ONE
    INSERT … SELECT; dedupe keys make a re-run a no-op. Returns the ids of the rows inserted now.

    On success the household rows come from ``order_ids`` (the orders the chunk just created), each
    found through the unique pickup-per-order index: exact lookups whatever the planner's statistics
    say about tables the close itself is filling."""
    if succeeded:
        households = """
        SELECT h.phone,
            replace(replace(replace(replace(%(household_text)s, '{total}', o.total_incl_tax::text),
                '{code}', k.code), '{station}', st.name), '{title}', %(title)s),
            %(key)s || 'household:' || k.household_id
        FROM unnest(%(orders)s::bigint[]) AS t(order_id)
        JOIN group_orders_pickup k ON k.order_id = t.order_id
        JOIN stations_household h ON h.id = k.household_id
        JOIN order_order o ON o.id = k.order_id
        JOIN stations_station st ON st.id = k.station_id
        WHERE k.campaign_id = %(c)s AND h.phone <> ''
        """
        household_text, station_text = messages.SUCCEEDED_HOUSEHOLD, messages.SUCCEEDED_STATION
    else:
        households = """
        SELECT h.phone, replace(%(household_text)s, '{title}', %(title)s), %(key)s || 'household:' || h.id
        FROM stations_household h
        WHERE h.phone <> '' AND h.id IN (
            SELECT p.household_id FROM group_orders_pledge p
            WHERE p.campaign_id = %(c)s AND p.station_id = ANY(%(stations)s) AND p.status = 'failed')
        """
        household_text, station_text = messages.FAILED_HOUSEHOLD, messages.FAILED_STATION
    rows = _exec(
        f"""
        INSERT INTO core_notification (channel, recipient, text, status, provider_id, error, dedupe_key,
            created_at)
        SELECT 'sms', m.phone, m.text, 'queued', '', '', m.key, %(now)s
        FROM ({households}
            UNION ALL
            SELECT st.phone, %(station_text)s, %(key)s || 'station:' || st.id
            FROM stations_station st WHERE st.id = ANY(%(stations)s) AND st.phone <> ''
        ) AS m(phone, text, key)
        ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING id
        """,
        {
            "c": campaign_id,
            "stations": station_ids,
            "orders": order_ids,
            "title": title,
            "household_text": household_text,
            "station_text": messages.render(station_text, title=title),
            "now": timezone.now(),
            "key": f"gb:{campaign_id}:closed:",
        },
    )
    return [r[0] for r in rows]
