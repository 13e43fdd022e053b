"""Household validation: the one set of rules the storefront form, GraphQL, imports and the admin
share (they all end in :meth:`Household.full_clean`, which calls these).

- 身份证号: an 18-character resident identity number (GB 11643-1999): 17 digits, a valid birth date
  and the ISO 7064 MOD 11-2 check character (0–9 or X) last.
- 耕地面积: more than zero mu.
- 手机号: at most one household per phone number at a station (a clear message, not the database
  constraint's name).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

#: GB 11643-1999 weights (2^(17-i) mod 11) and the check characters for sum mod 11 = 0 … 10.
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"


def id_check_char(first17: str) -> str:
    """The check character of the first 17 digits of a resident identity number."""
    return ID_CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def normalise_id_number(value: str) -> str:
    return (value or "").strip().upper()


def validate_resident_id(value: str) -> None:
    """Refuse anything but a well-formed 18-character resident ID with the right check character."""
    value = normalise_id_number(value)
    if not value:
        return
    if len(value) != 18 or not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise ValidationError(
            gettext("身份证号须为 18 位：前 17 位数字，最后一位为数字或 X"), code="invalid_id_number"
        )
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        born = None
    if born is None or born.year < 1900 or born > date.today():
        raise ValidationError(gettext("身份证号中的出生日期无效"), code="invalid_id_number")
    if id_check_char(value[:17]) != value[17]:
        raise ValidationError(gettext("身份证号校验位不正确，请核对后重新输入"), code="invalid_id_number")


def validate_farm_area(value: Any) -> None:
    if value is None or Decimal(value) <= 0:
        # not "invalid": a model field replaces a validator's message when the code is one of its own
        raise ValidationError(gettext("耕地面积须大于 0 亩"), code="not_positive")


def duplicate_phone_error(household: Any) -> ValidationError | None:
    """Another active or inactive household of the same station already uses this phone number."""
    if not household.phone or not household.station_id:
        return None
    from .models import Household

    other = (
        Household.objects.filter(station_id=household.station_id, phone=household.phone)
        .exclude(pk=household.pk)
        .only("name")
        .first()
    )
    if other is None:
        return None
    return ValidationError(
        gettext("该手机号已在本站登记（农户：%(name)s），一个手机号只能登记一户") % {"name": other.name},
        code="unique",
    )
