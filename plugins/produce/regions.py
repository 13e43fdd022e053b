"""Where city buyers can receive produce: province → city → district, with a district centre used as
the delivery stop until the planner geocodes street addresses. Jilin province (the service area)."""

from __future__ import annotations

from decimal import Decimal

#: province → city → district → (latitude, longitude) of the district government seat.
REGIONS: dict[str, dict[str, dict[str, tuple[str, str]]]] = {
    "吉林省": {
        "长春市": {
            "南关区": ("43.8640", "125.3500"),
            "宽城区": ("43.9430", "125.3260"),
            "朝阳区": ("43.8330", "125.2880"),
            "二道区": ("43.8650", "125.3740"),
            "绿园区": ("43.8800", "125.2560"),
            "双阳区": ("43.5250", "125.6640"),
            "九台区": ("44.1510", "125.8390"),
        },
        "吉林市": {
            "船营区": ("43.8340", "126.5410"),
            "昌邑区": ("43.8820", "126.5740"),
            "龙潭区": ("43.9100", "126.5620"),
            "丰满区": ("43.8210", "126.5620"),
        },
    }
}


def locate(province: str, city: str, district: str) -> tuple[Decimal, Decimal] | None:
    point = REGIONS.get(province, {}).get(city, {}).get(district)
    return (Decimal(point[0]), Decimal(point[1])) if point else None
