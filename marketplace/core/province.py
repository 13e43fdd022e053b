"""Province-scale synthetic data for benchmarks: 48 Jilin counties, 7,200 stations, N farmers each.

Uses bulk inserts; 7,200 stations × 30 households takes well under a minute on PostgreSQL.
Station codes start with "PV" so the data never collides with the demo county.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from marketplace.stations.models import County, Household, Station, Township, Village

# (city, county, code, lat, lon): real county names, approximate centres.
JILIN_COUNTIES: list[tuple[str, str, str, float, float]] = (
    [
        ("长春市", n, f"2201{i:02d}", 43.88 + dy, 125.32 + dx)
        for i, (n, dy, dx) in enumerate(
            [
                ("九台区", 0.27, 0.5),
                ("农安县", 0.55, -0.15),
                ("榆树市", 0.95, 0.25),
                ("德惠市", 0.65, 0.4),
                ("公主岭市", -0.38, -0.9),
                ("双阳区", -0.36, 0.34),
                ("绿园区", 0.02, -0.1),
                ("宽城区", 0.08, 0.0),
            ],
            start=81,
        )
    ]
    + [
        ("吉林市", n, f"2202{i:02d}", 43.84 + dy, 126.55 + dx)
        for i, (n, dy, dx) in enumerate(
            [
                ("永吉县", -0.1, -0.15),
                ("蛟河市", -0.1, 0.8),
                ("桦甸市", -0.9, 0.35),
                ("舒兰市", 0.55, 0.4),
                ("磐石市", -0.9, -0.5),
                ("丰满区", -0.2, 0.1),
                ("龙潭区", 0.1, 0.1),
            ],
            start=81,
        )
    ]
    + [
        ("四平市", n, f"2203{i:02d}", 43.17 + dy, 124.35 + dx)
        for i, (n, dy, dx) in enumerate(
            [("梨树县", 0.15, -0.3), ("伊通县", 0.17, 0.8), ("双辽市", 0.5, -0.85), ("铁东区", 0.0, 0.1)],
            start=81,
        )
    ]
    + [
        ("辽源市", n, f"2204{i:02d}", 42.89 + dy, 125.14 + dx)
        for i, (n, dy, dx) in enumerate(
            [("东丰县", -0.2, 0.4), ("东辽县", 0.1, -0.2), ("龙山区", 0.0, 0.0)], start=81
        )
    ]
    + [
        ("通化市", n, f"2205{i:02d}", 41.73 + dy, 125.94 + dx)
        for i, (n, dy, dx) in enumerate(
            [
                ("通化县", -0.05, -0.3),
                ("辉南县", 0.5, 0.3),
                ("柳河县", 0.35, -0.2),
                ("梅河口市", 0.8, -0.3),
                ("集安市", -0.6, 0.25),
            ],
            start=81,
        )
    ]
    + [
        ("白山市", n, f"2206{i:02d}", 41.94 + dy, 126.42 + dx)
        for i, (n, dy, dx) in enumerate(
            [("抚松县", 0.3, 1.0), ("靖宇县", 0.4, 0.35), ("长白县", -0.5, 1.7), ("临江市", -0.1, 0.5)],
            start=81,
        )
    ]
    + [
        ("松原市", n, f"2207{i:02d}", 45.14 + dy, 124.83 + dx)
        for i, (n, dy, dx) in enumerate(
            [
                ("前郭县", 0.0, -0.3),
                ("长岭县", -0.88, -0.8),
                ("乾安县", -0.2, -0.9),
                ("扶余市", 0.0, 1.3),
                ("宁江区", 0.1, 0.1),
            ],
            start=81,
        )
    ]
    + [
        ("白城市", n, f"2208{i:02d}", 45.62 + dy, 122.84 + dx)
        for i, (n, dy, dx) in enumerate(
            [("镇赉县", 0.2, 0.3), ("通榆县", -0.8, 0.3), ("洮南市", -0.1, -0.6), ("大安市", -0.1, 1.2)],
            start=81,
        )
    ]
    + [
        ("延边州", n, f"2224{i:02d}", 42.9 + dy, 129.5 + dx)
        for i, (n, dy, dx) in enumerate(
            [
                ("延吉市", 0.0, 0.0),
                ("图们市", 0.05, 0.35),
                ("敦化市", 0.47, -1.3),
                ("珲春市", -0.04, 0.85),
                ("龙井市", -0.13, 0.0),
                ("和龙市", -0.36, -0.5),
                ("汪清县", 0.4, 0.3),
                ("安图县", 0.0, -0.6),
            ],
            start=1,
        )
    ]
)

STATION_PREFIX = "PV"
BATCH = 5000


@dataclass
class ProvinceSummary:
    counties: int
    stations: int
    households: int


@transaction.atomic
def generate_province(stations: int = 7200, farmers_per_station: int = 30, seed: int = 1) -> ProvinceSummary:
    if Station.objects.filter(code__startswith=STATION_PREFIX).exists():
        raise ValueError("province data already present; run with --reset first")
    rng = random.Random(seed)
    counties = []
    for city, name, code, lat, lon in JILIN_COUNTIES:
        county, _ = County.objects.get_or_create(code=code, defaults={"name": name, "city": city})
        counties.append((county, lat, lon))

    per_county = -(-stations // len(counties))
    townships: list[Township] = []
    for county, _lat, _lon in counties:
        for t in range(-(-per_county // 12)):
            townships.append(Township(county=county, name=f"{county.name}第{t + 1}乡镇"))
    Township.objects.bulk_create(townships, ignore_conflicts=True, batch_size=BATCH)
    township_ids = {
        (t.county_id, t.name): t.pk for t in Township.objects.filter(county__in=[c for c, _, _ in counties])
    }

    villages = []
    station_specs = []
    for n in range(stations):
        county, lat, lon = counties[n % len(counties)]
        k = n // len(counties)
        township_id = township_ids[(county.pk, f"{county.name}第{k // 12 + 1}乡镇")]
        vname = f"PV{n + 1:05d}村"
        villages.append(Village(township_id=township_id, name=vname))
        station_specs.append(
            (county, township_id, vname, lat + rng.uniform(-0.3, 0.3), lon + rng.uniform(-0.35, 0.35))
        )
    Village.objects.bulk_create(villages, batch_size=BATCH)
    village_ids = dict(
        Village.objects.filter(name__startswith="PV", township_id__in=set(township_ids.values())).values_list(
            "name", "pk"
        )
    )
    station_objs = [
        Station(
            code=f"{STATION_PREFIX}{n + 1:05d}",
            name=f"{vname[:-1]}村益农信息社",
            village_id=village_ids[vname],
            county_id=county.pk,
            latitude=Decimal(f"{lat:.6f}"),
            longitude=Decimal(f"{lon:.6f}"),
        )
        for n, (county, _t, vname, lat, lon) in enumerate(station_specs)
    ]
    Station.objects.bulk_create(station_objs, batch_size=BATCH)  # bulk_create skips save(): county set above
    rows = Station.objects.filter(code__startswith=STATION_PREFIX).values_list("pk", "village_id")
    households = []
    total = 0
    for station_id, village_id in rows.iterator(chunk_size=BATCH):
        for f in range(farmers_per_station):
            households.append(
                Household(
                    station_id=station_id,
                    village_id=village_id,
                    name=f"农户{station_id}-{f + 1}",
                    phone=f"15{station_id % 10}{station_id:05d}{f:03d}"[:11],
                    farm_area_mu=Decimal(rng.choice([10, 15, 20, 30, 40, 60])),
                    credit_limit=Decimal("3000.00") if f % 4 == 0 else Decimal("0"),
                )
            )
        if len(households) >= BATCH:
            Household.objects.bulk_create(households, batch_size=BATCH)
            total += len(households)
            households = []
    Household.objects.bulk_create(households, batch_size=BATCH)
    total += len(households)
    return ProvinceSummary(counties=len(counties), stations=len(station_objs), households=total)


@transaction.atomic
def reset_province() -> None:
    stations = Station.objects.filter(code__startswith=STATION_PREFIX)
    Household.objects.filter(station__in=stations).delete()
    village_ids = list(stations.values_list("village_id", flat=True))
    stations.delete()
    Village.objects.filter(pk__in=village_ids).delete()
