"""统一社会信用代码 (unified social credit code) validation per GB 32100-2015."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

#: The 31 characters GB 32100-2015 allows (no I, O, S, V, Z), in code-value order.
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_SHAPE = re.compile(r"^[1-9A-Y][1-9][0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")
REGISTRATION_AUTHORITIES = set("123456789ANY")


def check_character(first17: str) -> str:
    """The 18th (check) character for the first 17 characters."""
    total = sum(CHARSET.index(ch) * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def normalise(code: str) -> str:
    return (code or "").strip().upper()


def validate_credit_code(code: str) -> None:
    """Raise ValidationError (Chinese message) unless ``code`` is a valid 18-character code."""
    value = normalise(code)
    if len(value) != 18:
        raise ValidationError("统一社会信用代码须为18位", code="invalid")
    if not _SHAPE.match(value) or value[0] not in REGISTRATION_AUTHORITIES:
        raise ValidationError("统一社会信用代码格式不正确(含非法字符或登记机关/类别代码错误)", code="invalid")
    if check_character(value[:17]) != value[17]:
        raise ValidationError("统一社会信用代码校验位错误", code="invalid")


def make_credit_code(first17: str) -> str:
    """Complete 17 characters with the correct check character (demo data, tests)."""
    first17 = normalise(first17)
    return first17 + check_character(first17)
