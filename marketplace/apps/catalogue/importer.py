"""Bulk product + stock import from CSV or XLSX: streaming, all-or-nothing, idempotent by SKU.

* Rows are read one at a time (``csv`` over a text stream; openpyxl in ``read_only`` mode), so
  memory does not grow with the file; only the set of SKUs already seen is kept (duplicates).
* Everything runs in one transaction: if any row is bad, nothing is written and every bad row
  is reported with its row number (as Excel shows it, header = row 1), column and reason.
* Rows are keyed by the supplier's SKU; a row equal to what is stored writes nothing, so
  importing the same file twice changes nothing.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from oscar.core.loading import get_model

from marketplace.apps.partner.models import Partner, StockRecord, Warehouse
from marketplace.core import permissions

from .product_types import PRODUCT_TYPES
from .services import _apply, _category_for, _clean_product_input, _current_attributes

Product = get_model("catalogue", "Product")
ProductClass = get_model("catalogue", "ProductClass")

#: Column header → internal key. English codes and the Chinese headers of the template both work.
BASE_COLUMNS = {
    "sku": "sku",
    "SKU": "sku",
    "product_type": "product_type",
    "商品类型": "product_type",
    "title": "title",
    "商品名称": "title",
    "price": "price",
    "价格": "price",
    "num_in_stock": "num_in_stock",
    "库存": "num_in_stock",
    "warehouse": "warehouse",
    "仓库编号": "warehouse",
    "upc": "upc",
    "条码": "upc",
    "description": "description",
    "描述": "description",
}
TYPE_ALIASES = {spec.name: slug for slug, spec in PRODUCT_TYPES.items()}
REQUIRED_COLUMNS = ("sku", "product_type", "title", "price", "num_in_stock")
MAX_ERRORS = 5000


def attribute_columns() -> dict[str, str]:
    out: dict[str, str] = {}
    for spec in PRODUCT_TYPES.values():
        for attr in spec.attributes:
            out[attr.code] = attr.code
            out[attr.name] = attr.code
    return out


def template_headers() -> list[str]:
    """Header row of the downloadable template (Chinese base columns + attribute codes)."""
    codes: list[str] = []
    for spec in PRODUCT_TYPES.values():
        for attr in spec.attributes:
            if attr.code not in codes:
                codes.append(attr.code)
    return ["SKU", "商品类型", "商品名称", "价格", "库存", "仓库编号", "条码", "描述", *codes]


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"第 {self.row} 行 [{self.column}]: {self.message}"


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    committed: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


class ImportFailed(Exception):
    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.errors)} errors")
        self.report = report


# --- Reading ------------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


def iter_rows(
    path_or_file: str | Path | IO[bytes], filename: str = ""
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(row_number, {header: value})`` lazily from a CSV or XLSX file."""
    name = filename or str(getattr(path_or_file, "name", path_or_file))
    if name.lower().endswith((".xlsx", ".xlsm")):
        yield from _iter_xlsx(path_or_file)
    elif name.lower().endswith(".csv"):
        yield from _iter_csv(path_or_file)
    else:
        raise ValidationError({"file": ValidationError("仅支持 .csv 或 .xlsx 文件", code="invalid")})


def _iter_csv(path_or_file: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    if isinstance(path_or_file, str | Path):
        handle: Any = open(path_or_file, "rb")  # noqa: SIM115 - closed below
        close = True
    else:
        handle, close = path_or_file, False
    try:
        text = codecs.getreader("utf-8-sig")(handle, errors="strict")
        reader = csv.reader(text)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise ValidationError({"file": ValidationError("CSV 须为 UTF-8 编码", code="invalid")}) from exc
        try:
            for number, values in enumerate(reader, start=2):
                if not any(v.strip() for v in values):
                    continue
                yield number, dict(zip(header, values, strict=False))
        except UnicodeDecodeError as exc:
            raise ValidationError({"file": ValidationError("CSV 须为 UTF-8 编码", code="invalid")}) from exc
    finally:
        if close:
            handle.close()


def _iter_xlsx(path_or_file: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path_or_file, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for a broken file
        raise ValidationError({"file": ValidationError("无法读取 XLSX 文件", code="invalid")}) from exc
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        try:
            header = [str(h).strip() if h is not None else "" for h in next(rows)]
        except StopIteration:
            return
        for number, values in enumerate(rows, start=2):
            if not any(v not in (None, "") for v in values):
                continue
            yield number, {h: _cell(v) for h, v in zip(header, values, strict=False) if h}
    finally:
        workbook.close()


# --- Importing ----------------------------------------------------------------------------------


def _row_values(
    raw: dict[str, Any], attr_columns: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    base: dict[str, Any] = {}
    attrs: dict[str, Any] = {}
    column_of: dict[str, str] = {}
    for header, value in raw.items():
        if header in BASE_COLUMNS:
            key = BASE_COLUMNS[header]
            base[key] = value.strip() if isinstance(value, str) else value
            column_of[key] = header
        elif header in attr_columns:
            code = attr_columns[header]
            column_of[code] = header
            if value not in (None, ""):
                attrs[code] = value
    return base, attrs, column_of


def import_catalogue(
    actor: Any, partner: Partner, source: str | Path | IO[bytes], filename: str = "", dry_run: bool = False
) -> ImportReport:
    """Import ``source`` for ``partner``. Returns the report; on any error nothing is written."""
    permissions.require(permissions.can_manage_partner(actor, partner), "无权为该供应商导入商品")
    report = ImportReport()
    try:
        with transaction.atomic():
            _run(partner, source, filename, report)
            if report.errors or dry_run:
                raise ImportFailed(report)
    except ImportFailed:
        report.committed = False
        return report
    report.committed = True
    return report


def _run(partner: Partner, source: Any, filename: str, report: ImportReport) -> None:
    attr_columns = attribute_columns()
    warehouses = {w.code: w for w in Warehouse.objects.filter(partner=partner)}
    classes = {pc.slug: pc for pc in ProductClass.objects.all()}
    categories: dict[str, Any] = {}
    seen: set[str] = set()
    header_checked = False

    def error(row: int, column: str, message: str) -> None:
        if len(report.errors) < MAX_ERRORS:
            report.errors.append(RowError(row, column, message))

    for number, raw in iter_rows(source, filename):
        report.rows += 1
        base, attrs, column_of = _row_values(raw, attr_columns)
        if not header_checked:
            header_checked = True
            missing = [c for c in REQUIRED_COLUMNS if c not in column_of]
            if missing:
                error(1, ",".join(missing), "缺少必需的列")
                return
            unknown = [h for h in raw if h not in BASE_COLUMNS and h not in attr_columns]
            for header in unknown:
                error(1, header, "未知的列")
        sku = str(base.get("sku") or "").strip()
        if not sku:
            error(number, column_of["sku"], "SKU 为必填项")
            continue
        if sku in seen:
            error(number, column_of["sku"], f"SKU {sku} 在文件中重复")
            continue
        seen.add(sku)
        product_type = TYPE_ALIASES.get(str(base.get("product_type") or ""), base.get("product_type"))
        row_errors = 0
        try:
            price = Decimal(str(base.get("price"))).quantize(Decimal("0.01"))
            if price < 0:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            error(number, column_of["price"], "价格须为非负数字")
            row_errors += 1
        try:
            stock = int(str(base.get("num_in_stock")).strip())
            if stock < 0:
                raise ValueError
        except ValueError:
            error(number, column_of["num_in_stock"], "库存须为非负整数")
            row_errors += 1
        warehouse = None
        if base.get("warehouse"):
            warehouse = warehouses.get(str(base["warehouse"]))
            if warehouse is None:
                error(number, column_of["warehouse"], f"仓库编号 {base['warehouse']} 不存在")
                row_errors += 1
        record = (
            StockRecord.objects.select_related("product__product_class")
            .filter(partner=partner, partner_sku=sku)
            .first()
        )
        product = record.product if record else None
        if product is not None and product.owner_id not in (None, partner.pk):
            error(number, column_of["sku"], "该 SKU 对应的商品属于其他供应商")
            continue
        data = {"product_type": product_type, "title": base.get("title") or "", "attributes": attrs}
        for key in ("upc", "description"):
            if base.get(key) not in (None, ""):
                data[key] = str(base[key])
        try:
            cleaned = _clean_product_input(
                data, product if product and product.owner_id == partner.pk else None
            )
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                for message in messages:
                    error(number, column_of.get(key, key), message)
            continue
        if row_errors:
            continue
        if cleaned.get("upc"):
            clash = Product.objects.filter(upc=cleaned["upc"])
            if product is not None:
                clash = clash.exclude(pk=product.pk)
            if clash.exists():
                error(number, column_of.get("upc", "upc"), "商品条码已被其他商品使用")
                continue
        created = product is None
        if created:
            product = Product(
                product_class=classes[cleaned["product_type"]], structure=Product.STANDALONE, owner=partner
            )
        changed = False
        if product.owner_id == partner.pk:
            changed = _apply(product, cleaned)
            if changed or created:
                if created:
                    product.slug = slugify(product.title, allow_unicode=True)[:128] or "product"
                product.save()
            if created:
                slug = cleaned["product_type"]
                if slug not in categories:
                    categories[slug] = _category_for(classes[slug])
                product.categories.add(categories[slug])
        if record is None:
            StockRecord.objects.create(
                partner=partner,
                product=product,
                partner_sku=sku,
                price=price,
                price_currency="CNY",
                num_in_stock=stock,
                warehouse=warehouse,
            )
        else:
            new = (price, stock, warehouse.pk if warehouse else None)
            if (record.price, record.num_in_stock, record.warehouse_id) != new:
                if stock < (record.num_allocated or 0):
                    error(number, column_of["num_in_stock"], f"库存不能少于已占用数量 {record.num_allocated}")
                    continue
                record.price, record.num_in_stock, record.warehouse = price, stock, warehouse
                record.save()
                changed = True
        if created:
            report.created += 1
        elif changed:
            report.updated += 1
        else:
            report.unchanged += 1
    if not header_checked:
        error(1, "", "文件为空")


def csv_template() -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(template_headers())
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


__all__ = ["import_catalogue", "iter_rows", "ImportReport", "RowError", "csv_template", "_current_attributes"]
