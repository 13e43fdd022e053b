"""All-or-nothing imports of survey sheets and grain price lists, with row and column errors.

Rows are read by the core table reader; every row is validated by the same services the pages and
GraphQL use; nothing is written unless every row is valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from marketplace.apps.catalogue.importer import iter_rows

from . import access, services
from .models import AnswerMethod, PriceSource

MAX_ROWS = 20000
MAX_BYTES = 5 * 1024 * 1024
SURVEY_HEADERS = ["农户编号", "户主姓名", "作物", "面积(亩)", "计划化肥(公斤)", "计划种子(公斤)"]
SURVEY_ALIASES = {
    "household": ("农户编号", "household_id", "household"),
    "crop": ("作物", "crop"),
    "area_mu": ("面积(亩)", "面积", "area_mu", "area"),
    "fertilizer_kg": ("计划化肥(公斤)", "化肥(公斤)", "fertilizer_kg"),
    "seed_kg": ("计划种子(公斤)", "种子(公斤)", "seed_kg"),
}
PRICE_HEADERS = ["日期", "品名", "单位", "价格", "备注"]
PRICE_ALIASES = {
    "observed_on": ("日期", "date", "observed_on"),
    "commodity": ("品名", "commodity"),
    "unit": ("单位", "unit"),
    "price": ("价格", "price"),
    "note": ("备注", "note"),
}


@dataclass
class RowError:
    row: int
    column: str
    message: str


@dataclass
class ImportResult:
    created: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def safe_cell(value: Any) -> str:
    """A cell for a sheet people open in Excel: never starts a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _get(row: dict[str, Any], aliases: tuple[str, ...]) -> Any:
    for name in aliases:
        if name in row:
            return row[name]
    return None


def _column(aliases: dict[str, tuple[str, ...]], key: str) -> str:
    return aliases[key][0]


def _rows(upload: Any, aliases: dict[str, tuple[str, ...]], required: tuple[str, ...], result: ImportResult):
    if upload is None:
        result.errors.append(RowError(0, "", _("请选择文件")))
        return []
    if upload.size > MAX_BYTES:
        result.errors.append(RowError(0, "", _("文件不能超过 5 MB")))
        return []
    try:
        rows = []
        for number, row in iter_rows(upload, upload.name):
            if len(rows) >= MAX_ROWS:
                result.errors.append(RowError(number, "", _("一次最多导入 %(n)d 行") % {"n": MAX_ROWS}))
                return []
            rows.append((number, {str(k).strip(): v for k, v in row.items()}))
    except ValidationError as exc:
        result.errors.append(RowError(0, "", "；".join(exc.messages)))
        return []
    if rows:
        present = set(rows[0][1])
        for key in required:
            if not any(a in present for a in aliases[key]):
                result.errors.append(RowError(1, _column(aliases, key), _("缺少此列")))
    if not rows and not result.errors:
        result.errors.append(RowError(0, "", _("文件中没有数据行")))
    return rows if not result.errors else []


def _field_errors(exc: ValidationError, number: int, columns: dict[str, str]) -> list[RowError]:
    out = []
    if hasattr(exc, "error_dict"):
        for key, errs in exc.error_dict.items():
            name = key.split(".")[-1]
            for e in errs:
                out.extend(RowError(number, columns.get(name, ""), m) for m in e.messages)
    else:
        out.extend(RowError(number, "", m) for m in exc.messages)
    return out


def import_survey_answers(user: Any, survey: Any, upload: Any) -> ImportResult:
    """Rows of (household number, crop, area, fertilizer, seed); one household may have several
    rows (one per crop). Each household's rows replace its answers; all or nothing."""
    result = ImportResult()
    rows = _rows(upload, SURVEY_ALIASES, ("household", "crop", "area_mu"), result)
    if not rows:
        return result
    columns = {k: _column(SURVEY_ALIASES, k) for k in SURVEY_ALIASES}
    households = {h.pk: h for h in access.answerable_households(user).select_related("station")}
    grouped: dict[int, list[tuple[int, services.AnswerRow]]] = {}
    for number, row in rows:
        raw = str(_get(row, SURVEY_ALIASES["household"]) or "").strip()
        household = households.get(int(raw)) if raw.isdigit() else None
        if household is None:
            result.errors.append(RowError(number, columns["household"], _("不是本站登记的农户编号")))
            continue
        grouped.setdefault(household.pk, []).append(
            (
                number,
                services.AnswerRow(
                    crop=str(_get(row, SURVEY_ALIASES["crop"]) or "").strip(),
                    area_mu=_get(row, SURVEY_ALIASES["area_mu"]),
                    fertilizer_kg=_get(row, SURVEY_ALIASES["fertilizer_kg"]) or 0,
                    seed_kg=_get(row, SURVEY_ALIASES["seed_kg"]) or 0,
                ),
            )
        )
    if result.errors:
        return result
    try:
        with transaction.atomic():
            for household_id, entries in grouped.items():
                for number, answer in entries:
                    try:
                        services.save_answers(
                            user, survey, households[household_id], [answer], AnswerMethod.IMPORT
                        )
                    except ValidationError as exc:
                        result.errors.extend(_field_errors(exc, number, columns))
                    else:
                        result.created += 1
            if result.errors:
                raise _Rollback
    except _Rollback:
        result.created = 0
    return result


def import_grain_prices(user: Any, county: Any, upload: Any) -> ImportResult:
    result = ImportResult()
    rows = _rows(upload, PRICE_ALIASES, ("observed_on", "commodity", "unit", "price"), result)
    if not rows:
        return result
    columns = {k: _column(PRICE_ALIASES, k) for k in PRICE_ALIASES}
    try:
        with transaction.atomic():
            for number, row in rows:
                raw_date = _get(row, PRICE_ALIASES["observed_on"])
                observed = (
                    raw_date if isinstance(raw_date, date) else parse_date(str(raw_date or "").strip()[:10])
                )
                if observed is None:
                    result.errors.append(
                        RowError(number, columns["observed_on"], _("日期格式应为 2027-03-01"))
                    )
                    continue
                if hasattr(observed, "date"):
                    observed = observed.date()
                try:
                    services.record_grain_price(
                        user,
                        county,
                        _get(row, PRICE_ALIASES["commodity"]),
                        _get(row, PRICE_ALIASES["unit"]),
                        _get(row, PRICE_ALIASES["price"]),
                        observed,
                        _get(row, PRICE_ALIASES["note"]) or "",
                        source=PriceSource.IMPORT,
                    )
                except ValidationError as exc:
                    result.errors.extend(_field_errors(exc, number, columns))
                else:
                    result.created += 1
            if result.errors:
                raise _Rollback
    except _Rollback:
        result.created = 0
    return result


class _Rollback(Exception):
    """Raised inside the import transaction to undo every row when one is invalid."""
