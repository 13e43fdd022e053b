"""The group-buy part of the demo season (``seed_demo`` → ``GroupOrdersConfig.demo_data``).

Deterministic and idempotent: campaigns are found by title and partner, so running the demo again
adds nothing. Opens the story for every role:

* an **open** campaign with price tiers and pledges from several stations (station staff pledge,
  the operator can close it by hand);
* a **pending** campaign waiting in the operator's review queue;
* a **closed** (succeeded) campaign whose consolidated purchase orders are ready to ship
  (the supplier marks station deliveries shipped, the dispatcher plans them).

Everything goes through the services the pages use (create, review, pledge, close).
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from oscar.core.loading import get_model

from marketplace.payments.models import PaymentMethod
from marketplace.stations.models import Household

from . import closing, services
from .models import Campaign

OPEN_TITLE = "2027春耕 复合肥15-15-15 团购"
PENDING_TITLE = "2027春耕 玉米专用肥 团购"
CLOSED_TITLE = "2026秋 尿素46% 冬储团购"


def _items(
    partner: Any, upcs: tuple[str, ...], tiers: tuple[tuple[int, str], ...]
) -> list[services.ItemSpec]:
    StockRecord = get_model("partner", "StockRecord")
    specs = []
    for upc in upcs:
        record = StockRecord.objects.filter(partner=partner, product__upc=upc).first()
        if record is None:
            continue
        base = record.price
        specs.append(
            services.ItemSpec(
                record.product_id,
                base,
                [(q, (base * Decimal(f)).quantize(Decimal("0.01"))) for q, f in tiers],
            )
        )
    return specs


def _campaign(
    operator: Any, partner: Any, title: str, upcs: tuple[str, ...], *, approve: bool, days: int, **extra: Any
):
    existing = Campaign.objects.filter(partner=partner, title=title).first()
    if existing is not None:
        return existing, False
    items = _items(partner, upcs, ((200, "0.95"), (600, "0.90")))
    if not items:
        return None, False
    today = timezone.localdate()
    campaign = services.create_campaign(
        operator,
        partner=partner,
        title=title,
        description=extra.pop("description", ""),
        cutoff_at=timezone.now() + timedelta(days=days),
        delivery_from=today + timedelta(days=days + 2),
        delivery_until=today + timedelta(days=days + 9),
        min_total_quantity=extra.pop("min_total_quantity", 300),
        max_total_quantity=extra.pop("max_total_quantity", 2000),
        per_household_limit=extra.pop("per_household_limit", 60),
        commission_rate=Decimal("3"),
        items=items,
        **extra,
    )
    if approve:
        services.review_campaign(operator, campaign, decision="approve")
    return campaign, True


def _pledge(
    operator: Any, campaign: Campaign, stations: list[Any], households_per_station: int, seed: int
) -> None:
    rng = random.Random(seed)
    item = campaign.items.select_related("campaign", "product").first()
    for station in stations:
        for household in Household.objects.filter(station=station, is_active=True).order_by("pk")[
            :households_per_station
        ]:
            quantity = rng.choice([10, 15, 20, 25, 30])
            on_credit = household.credit_limit >= quantity * item.base_price
            services.place_pledge(
                operator,
                item,
                household,
                quantity,
                PaymentMethod.CREDIT if on_credit else PaymentMethod.CASH,
                idempotency_key=f"demo:{campaign.pk}:{household.pk}",
            )


def seed(demo: Any) -> None:
    operator = demo.users.get("operator")
    if operator is None or len(demo.suppliers) < 2:
        return
    stations = demo.stations
    # Open campaign, with pledges from the first stations (progress towards the second tier).
    campaign, created = _campaign(
        operator,
        demo.suppliers[0],
        OPEN_TITLE,
        ("FERT-05",),
        approve=True,
        days=10,
        description="硫酸钾型复合肥，40kg/袋；按全县认购总量阶梯降价。",
    )
    if created:
        _pledge(operator, campaign, stations[:8], 3, demo.seed)
    # Pending campaign in the review queue.
    _campaign(operator, demo.suppliers[1], PENDING_TITLE, ("FERT-06", "FERT-07"), approve=False, days=14)
    # Closed campaign: pledged, closed, purchase orders ready to ship.
    campaign, created = _campaign(
        operator, demo.suppliers[0], CLOSED_TITLE, ("FERT-01",), approve=True, days=3, min_total_quantity=100
    )
    if created:
        _pledge(operator, campaign, stations[:6], 2, demo.seed + 1)
        closing.close_campaign(campaign.pk, force=True)
