"""The close exists twice for speed — PostgreSQL set-based statements (216,000 pledges < 60 s) and
the ORM path (SQLite, the embedded default). This test runs BOTH on identical data and compares
every row they write, field by field: orders, lines, line prices, pickups, pledges, payments,
ledger entries, refunds, real-name records and SMS rows."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from oscar.core.loading import get_model

from marketplace.core.models import Notification
from marketplace.payments.models import LedgerEntry, Payment, RealNameRecord, Refund
from marketplace.stations.models import Household, StationPesticideLicence
from plugins.group_orders import services
from plugins.group_orders.closing import close_campaign
from plugins.group_orders.models import Campaign, CampaignItem, Pickup, Pledge

pytestmark = pytest.mark.django_db

#: The set-based statements are PostgreSQL's; on SQLite the ORM path is compared with itself.
PATHS = (True, False) if settings.DATABASES["default"]["ENGINE"].endswith("postgresql") else (False, False)

Order = get_model("order", "Order")
Line = get_model("order", "Line")
LinePrice = get_model("order", "LinePrice")

#: Columns that differ by construction: surrogate keys of rows each run creates, and clocks.
VOLATILE = {"id", "date_placed", "created_at", "updated_at", "retain_until", "sent_at", "done_at"}


def rows(qs: Any, key: str, **rename: str) -> dict[Any, dict[str, Any]]:
    out = {}
    for row in qs.values():
        for old, new in rename.items():
            row[new] = row.pop(old)
        out[row[key]] = {k: v for k, v in row.items() if k not in VOLATILE}
    return out


def snapshot(campaign: Campaign) -> dict[str, Any]:
    orders = Order.objects.filter(number__startswith=f"GB{campaign.pk}-")
    number = dict(orders.values_list("pk", "number"))
    codes = dict(Pickup.objects.filter(campaign=campaign).values_list("household_id", "code"))
    lines = Line.objects.filter(order__in=orders)
    ref = dict(lines.values_list("pk", "partner_line_reference"))
    snap = {
        "orders": rows(orders, "number"),
        "lines": rows(lines, "partner_line_reference"),
        "line_prices": rows(LinePrice.objects.filter(order__in=orders), "line_id"),
        "pickups": rows(Pickup.objects.filter(campaign=campaign), "household_id"),
        "pledges": rows(Pledge.objects.filter(campaign=campaign), "idempotency_key"),
        "items": rows(CampaignItem.objects.filter(campaign=campaign), "product_id"),
        "payments": rows(Payment.objects.all(), "idempotency_key"),
        "ledger": rows(LedgerEntry.objects.all(), "idempotency_key"),
        "refunds": rows(Refund.objects.all(), "idempotency_key"),
        "real_names": rows(RealNameRecord.objects.all(), "idempotency_key"),
        "sms": rows(Notification.objects.all(), "dedupe_key"),
    }
    # Re-key references to rows each run created anew onto natural keys; pickup codes are random.
    for line in snap["lines"].values():
        line["order_id"] = number[line["order_id"]]
    snap["line_prices"] = {
        ref[k]: {**v, "order_id": number[v["order_id"]], "line_id": ref[v["line_id"]]}
        for k, v in snap["line_prices"].items()
    }
    for pickup in snap["pickups"].values():
        assert len(pickup.pop("code")) == 6
        pickup["order_id"] = number[pickup["order_id"]]
    for note in snap["sms"].values():
        for code in codes.values():
            note["text"] = note["text"].replace(f"取货码 {code} ", "取货码 ###### ")
    return snap


def test_set_based_and_orm_close_write_identical_rows(
    staff_a, staff_b, item, campaign, make_households, station_a, station_b, restricted_pesticide, expire
):
    # A second product (restricted pesticide, needs licence and real name) in the same campaign.
    today = timezone.localdate()
    StationPesticideLicence.objects.create(
        station=station_a,
        number="JL-NY-9",
        restricted_scope=True,
        valid_from=today - timedelta(days=1),
        valid_until=today + timedelta(days=300),
    )
    pest = CampaignItem.objects.create(
        campaign=campaign,
        product=restricted_pesticide,
        stockrecord=restricted_pesticide.stockrecords.get(),
        base_price=Decimal("30.00"),
    )
    ha = make_households(station_a, 6, prefix="甲")
    hb = make_households(station_b, 4, prefix="乙", phone_base=13700000000)
    Household.objects.filter(pk__in=[h.pk for h in ha[:2]]).update(id_number="220112198001011234")
    Household.objects.filter(pk=hb[3].pk).update(phone="")  # no phone: no SMS row
    for h in ha:
        h.refresh_from_db()
    early = services.place_pledge(staff_a, item, ha[0], 150, "cash")
    services.place_pledge(staff_a, item, ha[1], 60, "cash")  # reaches tier 1 (¥140)
    services.place_pledge(staff_a, pest, ha[0], 3, "cash")
    services.place_pledge(staff_a, pest, ha[1], 2, "credit")
    for i, h in enumerate(ha[2:]):
        services.place_pledge(staff_a, item, h, 5 + i, "cash" if i % 2 else "credit")
    for i, h in enumerate(hb):
        services.place_pledge(staff_b, item, h, 7 + i, "credit" if i % 2 else "cash")
    services.cancel_pledge(staff_a, early)  # back below tier 1: later pledges keep their own price
    services.place_pledge(staff_a, item, ha[0], 20, "cash")
    expire(campaign)

    snaps = []
    for use_sql in PATHS:
        try:
            with transaction.atomic():
                close_campaign(campaign.pk, use_sql=use_sql, chunk_stations=1)
                snaps.append(snapshot(campaign))
                raise _RollBack
        except _RollBack:
            pass
    sql, orm = snaps
    assert sql["orders"] and sql["lines"] and sql["sms"] and sql["real_names"] and sql["refunds"]
    for table in sql:
        assert sql[table].keys() == orm[table].keys(), table
        for key, row in sql[table].items():
            for field, value in row.items():
                assert orm[table][key][field] == value, (table, key, field, value, orm[table][key][field])


class _RollBack(Exception):
    pass
