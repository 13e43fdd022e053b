"""Station and household services: the business logic views, GraphQL and imports share."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext

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


@transaction.atomic
def set_credit_limit(actor: Any, household: Household, limit: Decimal) -> Household:
    """Approve a household's credit (赊销) limit: the station manager or an operator."""
    permissions.require(
        permissions.can_approve_credit(actor, household.station), gettext("只有站长或平台运营可以审批赊销额度")
    )
    if limit < 0:
        raise ValidationError({"credit_limit": ValidationError(gettext("额度不能为负"), code="invalid")})
    household.credit_limit = limit
    household.save(update_fields=["credit_limit"])
    return household
