"""All-or-nothing imports of survey sheets and grain price lists, with row and column errors.

Rows are read by the core table reader; every row is validated by the same services the pages and
GraphQL use; nothing is written unless every row is valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from marketplace.core.tables import Column, MiB, Row, RowError, TableInvalid, TableSpec, read_table

from . import access, services
from .models import AnswerMethod, PriceSource

MAX_ROWS = 20000
MAX_BYTES = 5 * MiB
#: Declared columns (key, accepted headers; the first one is the template's). The reader matches
#: headers case-, space- and full-width-insensitively.
SURVEY_SPEC = TableSpec(
    (
        Column("household", ("农户编号", "household_id", "household", "农户ID"), required=True),
        Column("household_name", ("户主姓名", "户主", "household_name", "name")),  # for people; ignored
        Column("crop", ("作物", "crop", "作物名称"), required=True),
        Column(
            "area_mu", ("面积(亩)", "面积", "area_mu", "area", "种植面积(亩)"), required=True, units=("亩",)
        ),
        Column(
            "fertilizer_kg",
            ("计划化肥(公斤)", "化肥(公斤)", "fertilizer_kg", "计划化肥"),
            units=("公斤", "kg"),
        ),
        Column("seed_kg", ("计划种子(公斤)", "种子(公斤)", "seed_kg", "计划种子"), units=("公斤", "kg")),
    ),
    max_rows=MAX_ROWS,
    max_bytes=MAX_BYTES,
)
PRICE_SPEC = TableSpec(
    (
        Column("observed_on", ("日期", "date", "observed_on", "采价日期"), required=True),
        Column("commodity", ("品名", "commodity", "品种", "名称"), required=True),
        Column("unit", ("单位", "unit", "计价单位"), required=True),
        Column("price", ("价格", "price", "单价"), required=True),
        Column("note", ("备注", "note", "说明")),
    ),
    max_rows=MAX_ROWS,
    max_bytes=MAX_BYTES,
)
SURVEY_HEADERS = SURVEY_SPEC.template_headers()
PRICE_HEADERS = PRICE_SPEC.template_headers()


@dataclass
class ImportResult:
    created: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _rows(upload: Any, spec: TableSpec, result: ImportResult) -> tuple[list[Row], dict[str, str]]:
    """Every row of the upload (at most MAX_ROWS, validated all together by the caller) and the
    headers as written (key → header), or ``([], {})`` with ``result.errors`` filled in."""
    if upload is None:
        result.errors.append(RowError(0, "", _("请选择文件")))
        return [], {}
    rows: list[Row] = []
    columns: dict[str, str] = {}
    try:
        with read_table(upload, spec, upload.name) as table:
            for row in table:
                result.errors.extend(row.errors)
                rows.append(row)
            columns = table.columns
    except TableInvalid as exc:
        result.errors.extend(exc.row_errors)
    return (rows, columns) if not result.errors else ([], {})


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
    rows, columns = _rows(upload, SURVEY_SPEC, result)
    if not rows:
        return result
    households = {h.pk: h for h in access.answerable_households(user).select_related("station")}
    grouped: dict[int, list[tuple[int, services.AnswerRow]]] = {}
    for row in rows:
        number = row.number
        raw = row.get("household")
        household = households.get(int(raw)) if raw.isdigit() else None
        if household is None:
            result.errors.append(RowError(number, columns["household"], _("不是本站登记的农户编号")))
            continue
        grouped.setdefault(household.pk, []).append(
            (
                number,
                services.AnswerRow(
                    crop=row.get("crop"),
                    area_mu=row.get("area_mu") or None,
                    fertilizer_kg=row.get("fertilizer_kg") or 0,
                    seed_kg=row.get("seed_kg") or 0,
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
    rows, columns = _rows(upload, PRICE_SPEC, result)
    if not rows:
        return result
    try:
        with transaction.atomic():
            for row in rows:
                number = row.number
                try:
                    observed = parse_date(row.get("observed_on")[:10].replace("/", "-"))
                except ValueError:  # a date-shaped value that is not a date (2027-02-30)
                    observed = None
                if observed is None:
                    result.errors.append(
                        RowError(number, columns["observed_on"], _("日期格式应为 2027-03-01"))
                    )
                    continue
                try:
                    services.record_grain_price(
                        user,
                        county,
                        row.get("commodity"),
                        row.get("unit"),
                        row.get("price"),
                        observed,
                        row.get("note"),
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
