"""Where city buyers can receive produce: province → city → district, with a district centre used as
the delivery stop until the planner geocodes street addresses. Jilin province (the service area)."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext_noop as N

#: province → city → district → (latitude, longitude) of the district government seat. The names
#: are the stored address values (Chinese); pages show them translated (``{% translate name %}``).
REGIONS: dict[str, dict[str, dict[str, tuple[str, str]]]] = {
    N("吉林省"): {
        N("长春市"): {
            N("南关区"): ("43.8640", "125.3500"),
            N("宽城区"): ("43.9430", "125.3260"),
            N("朝阳区"): ("43.8330", "125.2880"),
            N("二道区"): ("43.8650", "125.3740"),
            N("绿园区"): ("43.8800", "125.2560"),
            N("双阳区"): ("43.5250", "125.6640"),
            N("九台区"): ("44.1510", "125.8390"),
        },
        N("吉林市"): {
            N("船营区"): ("43.8340", "126.5410"),
            N("昌邑区"): ("43.8820", "126.5740"),
            N("龙潭区"): ("43.9100", "126.5620"),
            N("丰满区"): ("43.8210", "126.5620"),
        },
    }
}


def locate(province: str, city: str, district: str) -> tuple[Decimal, Decimal] | None:
    point = REGIONS.get(province, {}).get(city, {}).get(district)
    return (Decimal(point[0]), Decimal(point[1])) if point else None
