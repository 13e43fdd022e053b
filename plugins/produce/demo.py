"""Demo data for the produce marketplace (called by the core's seed_demo; safe to run again): two
cooperatives with lots, an open round, a city buyer, and a canteen with a standing order."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from marketplace.accounts.models import Role, User
from marketplace.apps.partner.models import PartnerKind, VerificationStatus

from .models import Lot, Round, RoundStatus, StandingOrder

LOTS = [
    # partner index, code, crop, variety, grade, village, lat, lon, kg, [(unit, pack, price, units, breaks)]
    (0, "SY2026-RICE-01", "rice", "稻花香", "特级", "齐家镇齐家村", "43.4710", "125.7390", "2000",
     [("bag", "10", "128.00", 80, [(10, "118.00")]), ("bag", "5", "66.00", 100, [])]),
    (0, "SY2026-MLT-01", "millet", "黄金苗", "一级", "太平镇太平村", "43.5960", "125.5430", "600",
     [("box", "5", "55.00", 60, [])]),
    (1, "SY2026-CORN-01", "corn", "黏玉米", "一级", "奢岭街道奢岭村", "43.6390", "125.5480", "900",
     [("box", "3", "49.00", 120, [(20, "44.00")])]),
]  # fmt: skip


def _user(username: str, role: str, name: str, password: str, phone: str | None = None) -> User:
    user, created = User.objects.get_or_create(
        username=username, defaults={"role": role, "display_name": name, "phone": phone}
    )
    if created:
        user.set_password(password)
        user.save()
    return user


def seed_demo(demo: Any) -> None:
    from . import services

    coops = [
        c
        for c in demo.cooperatives
        if c.kind == PartnerKind.COOPERATIVE and c.verification_status == VerificationStatus.APPROVED
    ][:2]
    if len(coops) < 2:
        return
    pw = demo.password
    coop_user = _user("coop01", Role.COOPERATIVE, "合作社 理事长", pw)
    coops[0].users.add(coop_user)
    coop2 = _user("coop02", Role.COOPERATIVE, "合作社二 理事长", pw)
    coops[1].users.add(coop2)
    buyer = _user("buyer01", Role.CITY_BUYER, "长春市民 王女士", pw)
    canteen = _user("canteen01", Role.CITY_BUYER, "长春某中学食堂", pw, "13900000002")
    from marketplace.stations.models import Household

    members = list(Household.objects.filter(station__code__isnull=False).order_by("pk")[:6])
    from .models import CooperativeMember, MembershipStatus

    # Memberships the farmers' stations confirmed (in the product: asked on the cooperative's members
    # page, confirmed by the station's information officer).
    for idx, group in ((0, members[:3]), (1, members[3:6])):
        for h in group:
            CooperativeMember.objects.get_or_create(
                partner=coops[idx], household=h,
                defaults={"station_id": h.station_id, "name": h.name, "phone": h.phone or "",
                          "status": MembershipStatus.CONFIRMED},
            )  # fmt: skip
    harvest = min(timezone.localdate() - timedelta(days=20), date(timezone.localdate().year, 10, 8))
    for idx, code, crop, variety, grade, village, lat, lon, kg, units in LOTS:
        if Lot.objects.filter(code=code).exists():
            continue
        user = coop_user if idx == 0 else coop2
        services.create_lot(
            user,
            coops[idx],
            services.LotInput(
                code=code, crop=crop, variety=variety, grade=grade, harvest_date=harvest, origin_village=village,
                latitude=lat, longitude=lon, quantity_kg=kg,
                sale_units=[{"unit": u, "pack_kg": p, "price": pr, "units": n, "breaks": b} for u, p, pr, n, b in units],
                certifications=[{"kind": "green", "number": f"LB-{code}", "expires_on": date(harvest.year + 2, 6, 30)}],
                household_ids=[h.pk for h in (members[:3] if idx == 0 else members[3:6])],
            ),
        )  # fmt: skip
    for i, coop in enumerate(coops):
        user = coop_user if i == 0 else coop2
        if Round.objects.filter(partner=coop, status=RoundStatus.OPEN, cutoff_at__gt=timezone.now()).exists():
            continue
        cutoff = timezone.make_aware(datetime.combine(timezone.localdate() + timedelta(days=3), time(18)))
        day = (cutoff + timedelta(days=1)).date()
        services.open_round(
            user, coop, f"{coop.name[:8]} 本周鲜品", cutoff,
            list(Lot.objects.filter(partner=coop).values_list("pk", flat=True)),
            [{"kind": "delivery", "day": day, "start": "09:00", "end": "12:00"},
             {"kind": "pickup", "day": day, "start": "14:00", "end": "18:00", "place_name": "朝阳区红旗街社区自提点",
              "place_address": "长春市朝阳区红旗街1号", "latitude": "43.8560", "longitude": "125.2920"}],
        )  # fmt: skip
    if not StandingOrder.objects.filter(buyer=canteen).exists():
        # The canteen's card is saved when it first signs up for a standing order (Stripe.js);
        # in the demo the order exists without a card and is charged once one is added.
        StandingOrder.objects.create(
            buyer=canteen, partner=coops[0], crop="rice", pack_kg=Decimal("10"), units=20, paused=True,
            address={"province": "吉林省", "city": "长春市", "district": "朝阳区", "street": "西朝阳路 88 号",
                     "contact_name": "食堂 刘师傅", "contact_phone": "13900000002", "latitude": "43.8330",
                     "longitude": "125.2880", "invoice_title": "长春某中学", "invoice_tax_id": "12220100MB0000000X"},
            stripe_customer="", stripe_card="",
        )  # fmt: skip
    demo.logins.setdefault("城市采购商 city buyer", buyer.username)
    demo.logins["食堂 canteen"] = canteen.username
    demo.logins["合作社二 cooperative 2"] = coop2.username
