"""Station and household services: the business logic views, GraphQL and imports share."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext, gettext_noop

from marketplace.core import permissions

from .models import Household, Station

HOUSEHOLD_FIELDS = ("name", "phone", "id_number", "farm_area_mu", "notes", "village_id")


def _clean_household_data(station: Station, data: dict[str, Any]) -> dict[str, Any]:
    unknown = set(data) - set(HOUSEHOLD_FIELDS) - {"credit_limit", "village"}
    if unknown:
        raise ValidationError({f: ValidationError(gettext("未知字段"), code="invalid") for f in unknown})
    cleaned = {k: v for k, v in data.items() if v is not None}
    if "name" in cleaned:
        cleaned["name"] = str(cleaned["name"]).strip()
    if "phone" in cleaned:
        cleaned["phone"] = str(cleaned["phone"]).strip()
    if "village_id" in cleaned:
        village_ok = station.village.township.county.townships.filter(
            villages__pk=cleaned["village_id"]
        ).exists()
        if not village_ok:
            raise ValidationError(
                {"village_id": ValidationError(gettext("村不在本站所在县"), code="invalid")}
            )
    return cleaned


@transaction.atomic
def register_household(actor: Any, station: Station, data: dict[str, Any]) -> Household:
    """Register a farmer household at a station. Only that station's staff (or an operator) may."""
    permissions.require(permissions.can_manage_station(actor, station), gettext("只能为本站点登记农户"))
    cleaned = _clean_household_data(station, data)
    if "credit_limit" in cleaned and Decimal(cleaned["credit_limit"]) != 0:
        raise ValidationError(
            {"credit_limit": ValidationError(gettext("赊销额度需单独审批"), code="invalid")}
        )
    cleaned.pop("credit_limit", None)
    cleaned.setdefault("village_id", station.village_id)
    household = Household(station=station, created_by=actor, **cleaned)
    household.full_clean()
    household.save()
    return household


@transaction.atomic
def update_household(actor: Any, household: Household, data: dict[str, Any]) -> Household:
    permissions.require(permissions.can_manage_household(actor, household), gettext("无权修改该农户"))
    cleaned = _clean_household_data(household.station, data)
    if "credit_limit" in cleaned:
        raise ValidationError(
            {"credit_limit": ValidationError(gettext("请使用赊销额度审批"), code="invalid")}
        )
    for key, value in cleaned.items():
        setattr(household, key, value)
    household.full_clean()
    household.save()
    return household


#: Orders of household lists: key → (label, ordering). The first is the default.
HOUSEHOLD_SORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "name": (gettext_noop("姓名"), ("name", "pk")),
    "village": (gettext_noop("村"), ("village__name", "name", "pk")),
    "area": (gettext_noop("面积从大到小"), ("-farm_area_mu", "name", "pk")),
    "newest": (gettext_noop("最近登记"), ("-created_at", "-pk")),
}


def search_households(qs: QuerySet[Household], q: str = "", sort: str = "") -> QuerySet[Household]:
    """Filter a household list (already scoped by permissions) by name, village or the last digits
    of the phone number, and order it. Used by every household list (storefront, fertilizer, GraphQL)."""
    q = (q or "").strip()[:64]
    if q:
        match = Q(name__icontains=q) | Q(village__name__icontains=q)
        if q.isdigit():
            match |= Q(phone__endswith=q)
        qs = qs.filter(match)
    _label, ordering = HOUSEHOLD_SORTS.get(sort, HOUSEHOLD_SORTS["name"])
    return qs.order_by(*ordering)
