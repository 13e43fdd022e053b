"""Bulk product + stock import from CSV or XLSX: streaming, all-or-nothing, idempotent by SKU.

* Rows are read one at a time by the core table reader (``marketplace.core.tables``: CSV in
  UTF-8 or GB18030, XLSX through openpyxl ``read_only``; headers in Chinese or English), so memory
  does not grow with the file; only the set of SKUs already seen is kept (duplicates).
* Everything runs in one transaction: if any row is bad, nothing is written and every bad row
  is reported with its row number (as Excel shows it, header = row 1), column and reason.
* Rows are keyed by the supplier's SKU; a row equal to what is stored writes nothing, so
  importing the same file twice changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from oscar.checks import use_productcategory_materialised_view
from oscar.core.loading import get_model

from marketplace.apps.partner.models import Partner, StockRecord, Warehouse
from marketplace.core import permissions
from marketplace.core.money import cny
from marketplace.core.tables import Column, RowError, TableInvalid, TableSpec, read_table
from marketplace.search.sync import schedule_product_reindex

from .compliance import blocking_reason, enforce_licences, notify_blocked, partner_licences
from .product_types import PRODUCT_TYPES
from .search_fields import apply_search_fields
from .services import _category_for
from .validation import validate_product

Product = get_model("catalogue", "Product")
ProductClass = get_model("catalogue", "ProductClass")
ProductAttribute = get_model("catalogue", "ProductAttribute")
ProductAttributeValue = get_model("catalogue", "ProductAttributeValue")
ProductCategory = get_model("catalogue", "ProductCategory")

#: The base columns: key, then the headers accepted (the first is the template's). Attribute codes
#: and their Chinese names follow (``attribute_columns``). Case, spaces and full-width forms do not
#: matter (the core table reader normalises headers).
BASE_COLUMNS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("sku", ("SKU", "商品编号", "货号"), True),
    ("product_type", ("商品类型", "product_type", "类型"), True),
    ("title", ("商品名称", "title", "名称"), True),
    ("price", ("价格", "price", "单价"), True),
    ("num_in_stock", ("库存", "num_in_stock", "库存数量", "stock"), True),
    ("warehouse", ("仓库编号", "warehouse", "仓库"), False),
    ("upc", ("条码", "upc", "商品条码", "barcode"), False),
    ("description", ("描述", "description", "商品描述"), False),
)
BASE_KEYS = frozenset(key for key, _, _ in BASE_COLUMNS)
TYPE_ALIASES = {spec.name: slug for slug, spec in PRODUCT_TYPES.items()}
#: What one upload may hold (the import runs as a task above ``IMPORT_INLINE_MAX_BYTES``).
MAX_ROWS = 200_000
MAX_BYTES = 100 * 1024 * 1024
MAX_ERRORS = 5000
#: What the database can hold: a bad cell is reported with its row and column, never a 500.
MAX_PRICE = Decimal("1e10")  # StockRecord.price: 12 digits, 2 places
MAX_STOCK = 2**31 - 1  # an integer column
MAX_CELL_CHARS = 10_000


def _max_lengths() -> dict[str, int]:
    return {
        "sku": StockRecord._meta.get_field("partner_sku").max_length,
        "title": Product._meta.get_field("title").max_length,
        "upc": Product._meta.get_field("upc").max_length,
        "warehouse": Warehouse._meta.get_field("code").max_length,
        "product_type": 64,
    }


def attribute_columns() -> dict[str, tuple[str, ...]]:
    """Attribute code → the headers accepted for it (the code, then each product type's name)."""
    out: dict[str, tuple[str, ...]] = {}
    for spec in PRODUCT_TYPES.values():
        for attr in spec.attributes:
            names = out.get(attr.code, (attr.code,))
            out[attr.code] = names if attr.name in names else (*names, attr.name)
    return out


@cache
def import_spec() -> TableSpec:
    """The catalogue file's columns, for the reader and the downloadable template."""
    limits = _max_lengths()
    base = tuple(
        Column(key, headers, required=required, max_length=limits.get(key))
        for key, headers, required in BASE_COLUMNS
    )
    attrs = tuple(Column(code, headers) for code, headers in attribute_columns().items())
    return TableSpec(base + attrs, max_rows=MAX_ROWS, max_bytes=MAX_BYTES, max_cell_chars=MAX_CELL_CHARS)


def template_headers() -> list[str]:
    """Header row of the downloadable template (Chinese base columns + attribute codes)."""
    return import_spec().template_headers()


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    committed: bool = False
    #: New stock records blocked by the licence check (农药/种子经营许可证, 肥料登记证) at import.
    blocked: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


class ImportFailed(Exception):
    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.errors)} errors")
        self.report = report


# --- Importing ----------------------------------------------------------------------------------

#: Rows validated and written together. Each batch costs a fixed handful of queries (stock records,
#: attribute values and barcodes of its SKUs; then one bulk INSERT / UPDATE per table).
BATCH_SIZE = 1000
VALUE_FIELDS = ("value_text", "value_integer", "value_float", "value_boolean", "value_date")
PRODUCT_UPDATE_FIELDS = (
    "title",
    "description",
    "upc",
    "search_text",
    "n_pct",
    "p2o5_pct",
    "k2o_pct",
    "chloride_class",
    "restricted_use",
    "date_updated",
)


@dataclass
class _Row:
    number: int
    sku: str
    base: dict[str, Any]
    attrs: dict[str, Any]
    column_of: dict[str, str]


def _row_values(values: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A row of the table reader (key → text) split into base fields and attribute values."""
    base: dict[str, Any] = {}
    attrs: dict[str, Any] = {}
    for key, value in values.items():
        if key in BASE_KEYS:
            base[key] = value
        elif value != "":
            attrs[key] = value
    return base, attrs


def import_catalogue(
    actor: Any,
    partner: Partner,
    source: str | Path | IO[bytes],
    filename: str = "",
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import ``source`` for ``partner``. Returns the report; on any error nothing is written."""
    permissions.require(permissions.can_manage_partner(actor, partner), "无权为该供应商导入商品")
    report = ImportReport()
    try:
        with transaction.atomic():
            _Importer(partner, report, batch_size).run(source, filename)
            if report.errors or dry_run:
                raise ImportFailed(report)
    except ImportFailed:
        report.committed = False
        return report
    report.committed = True
    return report


class _Importer:
    """Streams rows into batches; validates each batch in Python against a few prefetch queries
    and writes it with bulk INSERT / UPDATE. After the first bad row nothing more is written (the
    transaction is rolled back anyway) but every later row is still validated and reported."""

    def __init__(self, partner: Partner, report: ImportReport, batch_size: int) -> None:
        self.partner = partner
        self.report = report
        self.batch_size = max(int(batch_size), 1)
        self.warehouses = {w.code: w for w in Warehouse.objects.filter(partner=partner)}
        self.classes = {pc.slug: pc for pc in ProductClass.objects.all()}
        self.attributes: dict[tuple[int, str], Any] = {
            (a.product_class_id, a.code): a
            for a in ProductAttribute.objects.filter(product_class__isnull=False)
        }
        self.categories: dict[str, Any] = {}
        #: Barcodes used by earlier rows of this file → row number (only rows that carry one).
        self.upcs_seen: dict[str, int] = {}
        self.pesticide, self.seed = partner_licences([partner.pk], timezone.localdate())
        self.newly_blocked: list[int] = []
        self.restricted_changed: set[int] = set()
        self.categorised = False
        self._failed = False

    # -- helpers -------------------------------------------------------------------------------

    def error(self, row: int, column: str, message: str) -> None:
        if len(self.report.errors) < MAX_ERRORS:
            self.report.errors.append(RowError(row, column, message))
        self._failed = True

    @property
    def writing(self) -> bool:
        return not self._failed

    def category(self, slug: str) -> Any:
        if slug not in self.categories:
            self.categories[slug] = _category_for(self.classes[slug])
        return self.categories[slug]

    # -- driver --------------------------------------------------------------------------------

    def run(self, source: Any, filename: str) -> None:
        try:
            with read_table(source, import_spec(), filename) as table:
                self.read(table)
        except TableInvalid as exc:  # the file, its header, or too many rows
            for e in exc.row_errors:
                self.error(e.row, e.column, e.message)
            return
        if self.writing:
            self.finish()

    def read(self, table: Any) -> None:
        seen: set[str] = set()
        batch: list[_Row] = []
        column_of = table.columns  # key -> the header as written in the file
        for row in table:
            self.report.rows += 1
            number = row.number
            if row.errors:  # NUL bytes, over-long cells
                for e in row.errors:
                    self.error(e.row, e.column, e.message)
                continue
            base, attrs = _row_values(row.values)
            sku = str(base.get("sku") or "").strip()
            if not sku:
                self.error(number, column_of["sku"], "SKU 为必填项")
                continue
            if sku in seen:
                self.error(number, column_of["sku"], f"SKU {sku} 在文件中重复")
                continue
            seen.add(sku)
            batch.append(_Row(number, sku, base, attrs, column_of))
            if len(batch) >= self.batch_size:
                self.process(batch)
                batch = []
        if batch:
            self.process(batch)

    def finish(self) -> None:
        if self.categorised and use_productcategory_materialised_view():
            # Oscar refreshes this view on every ProductCategory save; bulk_create sends no
            # signal, so refresh it once for the whole import.
            with connection.cursor() as cursor:
                cursor.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY catalogue_product_category_hierarchy;")
        if self.restricted_changed:
            # 限制使用 changed on existing pesticides: re-check every record of those products.
            enforce_licences(product_ids=sorted(self.restricted_changed))
        if self.newly_blocked:
            notify_blocked(self.partner, self.newly_blocked)

    # -- one batch -----------------------------------------------------------------------------

    def process(self, rows: list[_Row]) -> None:
        partner, report = self.partner, self.report
        records = {
            r.partner_sku: r
            for r in StockRecord.objects.filter(
                partner=partner, partner_sku__in=[row.sku for row in rows]
            ).select_related("product__product_class")
        }
        current: dict[int, dict[str, Any]] = defaultdict(dict)
        owned_ids = [r.product_id for r in records.values() if r.product.owner_id == partner.pk]
        if owned_ids:
            for av in ProductAttributeValue.objects.filter(product_id__in=owned_ids).select_related(
                "attribute"
            ):
                current[av.product_id][av.attribute.code] = av
        upcs = {str(row.base["upc"]).strip() for row in rows if row.base.get("upc") not in (None, "")}
        upc_owner = dict(Product.objects.filter(upc__in=upcs).values_list("upc", "pk")) if upcs else {}

        now = timezone.now()
        new: list[tuple[Any, dict[str, Any], StockRecord]] = []
        changed_products: list[Any] = []
        av_create: list[Any] = []
        av_update: list[Any] = []
        av_delete: list[int] = []
        changed_records: dict[int, tuple[StockRecord, _Row]] = {}
        for row in rows:
            number, sku, base, column_of = row.number, row.sku, row.base, row.column_of
            product_type = TYPE_ALIASES.get(str(base.get("product_type") or ""), base.get("product_type"))
            bad = False
            try:
                given = Decimal(str(base.get("price")).strip())
                if not given.is_finite() or given < 0:
                    raise InvalidOperation
                price = cny(given)
                if price != given:
                    self.error(number, column_of["price"], "价格最多两位小数")
                    bad = True
                elif price >= MAX_PRICE:
                    self.error(number, column_of["price"], "价格过大（须小于 100 亿）")
                    bad = True
            except (InvalidOperation, ValueError):
                self.error(number, column_of["price"], "价格须为非负数字")
                bad = True
            try:
                stock = int(str(base.get("num_in_stock")).strip())
                if stock < 0:
                    raise ValueError
                if stock > MAX_STOCK:
                    self.error(number, column_of["num_in_stock"], f"库存过大（最多 {MAX_STOCK}）")
                    bad = True
            except ValueError:
                self.error(number, column_of["num_in_stock"], "库存须为非负整数")
                bad = True
            warehouse = None
            if base.get("warehouse"):
                warehouse = self.warehouses.get(str(base["warehouse"]))
                if warehouse is None:
                    self.error(number, column_of["warehouse"], f"仓库编号 {base['warehouse']} 不存在")
                    bad = True
            record = records.get(sku)
            product = record.product if record else None
            if product is not None and product.owner_id not in (None, partner.pk):
                self.error(number, column_of["sku"], "该 SKU 对应的商品属于其他供应商")
                continue
            owned = product if product is not None and product.owner_id == partner.pk else None
            stored = current.get(owned.pk, {}) if owned is not None else {}
            data: dict[str, Any] = {
                "product_type": product_type,
                "title": base.get("title") or "",
                "attributes": row.attrs,
            }
            for key in ("upc", "description"):
                if base.get(key) not in (None, ""):
                    data[key] = str(base[key])
            try:
                cleaned = validate_product(
                    data, owned, current={code: av.value for code, av in stored.items()}
                )
            except ValidationError as exc:
                for key, messages in exc.message_dict.items():
                    for message in messages:
                        self.error(number, column_of.get(key, key), message)
                continue
            if bad:
                continue
            upc = cleaned.get("upc") or None
            if upc:
                if upc in self.upcs_seen:
                    self.error(
                        number, column_of.get("upc", "upc"), f"商品条码与第 {self.upcs_seen[upc]} 行重复"
                    )
                    continue
                holder = upc_owner.get(upc)
                if holder is not None and (product is None or holder != product.pk):
                    self.error(number, column_of.get("upc", "upc"), "商品条码已被其他商品使用")
                    continue
                self.upcs_seen[upc] = number
            attrs = cleaned["attributes"]
            slug = cleaned["product_type"]
            if record is None:
                product_class = self.classes[slug]
                product = Product(
                    product_class=product_class,
                    structure=Product.STANDALONE,
                    owner=partner,
                    title=cleaned["title"],
                    description=cleaned.get("description", ""),
                    upc=upc,
                    slug=slugify(cleaned["title"], allow_unicode=True)[:128] or "product",
                )
                apply_search_fields(product, product_class, attrs)
                reason = blocking_reason(
                    slug, product.restricted_use, partner.pk, 0, self.pesticide, self.seed, set()
                )
                new.append(
                    (
                        product,
                        attrs,
                        StockRecord(
                            partner=partner,
                            partner_sku=sku,
                            price=price,
                            price_currency="CNY",
                            num_in_stock=stock,
                            warehouse=warehouse,
                            compliance_blocked=bool(reason),
                            blocked_reason=reason,
                        ),
                    )
                )
                report.created += 1
                continue
            changed = False
            if owned is not None:
                dirty = False
                for key in ("title", "description", "upc"):
                    if key in cleaned:
                        value = cleaned[key] if key != "upc" else upc
                        if getattr(owned, key) != value:
                            setattr(owned, key, value)
                            dirty = True
                for code, value in attrs.items():
                    av = stored.get(code)
                    if av is None:
                        attribute = self.attributes[(owned.product_class_id, code)]
                        av_create.append(
                            ProductAttributeValue(
                                attribute=attribute, product=owned, **{f"value_{attribute.type}": value}
                            )
                        )
                        dirty = True
                    elif av.value != value:
                        setattr(av, f"value_{av.attribute.type}", value)
                        av_update.append(av)
                        dirty = True
                for code in set(stored) - set(attrs):
                    av_delete.append(stored[code].pk)
                    dirty = True
                if dirty:
                    was_restricted = owned.restricted_use
                    apply_search_fields(owned, owned.product_class, attrs)
                    if owned.restricted_use != was_restricted:
                        self.restricted_changed.add(owned.pk)
                    owned.date_updated = now
                    changed_products.append(owned)
                    changed = True
            if (record.price, record.num_in_stock, record.warehouse_id) != (
                price,
                stock,
                warehouse.pk if warehouse else None,
            ):
                if stock < (record.num_allocated or 0):
                    self.error(
                        number, column_of["num_in_stock"], f"库存不能少于已占用数量 {record.num_allocated}"
                    )
                    continue
                record.price, record.num_in_stock, record.warehouse = price, stock, warehouse
                record.date_updated = now
                changed_records[record.pk] = (record, row)
                changed = True
            if changed:
                report.updated += 1
            else:
                report.unchanged += 1
        if self.writing:
            self.write(new, changed_products, av_create, av_update, av_delete, changed_records)

    def write(
        self,
        new: list[tuple[Any, dict[str, Any], StockRecord]],
        changed_products: list[Any],
        av_create: list[Any],
        av_update: list[Any],
        av_delete: list[int],
        changed_records: dict[int, tuple[StockRecord, _Row]],
    ) -> None:
        if changed_records:
            # Lock just the records that change and re-check the allocation against the locked
            # row: a reservation may have happened since the batch was read.
            locked = dict(
                StockRecord.objects.select_for_update()
                .filter(pk__in=list(changed_records))
                .values_list("pk", "num_allocated")
            )
            for pk, (record, row) in changed_records.items():
                if record.num_in_stock < (locked.get(pk) or 0):
                    self.error(
                        row.number, row.column_of["num_in_stock"], f"库存不能少于已占用数量 {locked[pk]}"
                    )
            if not self.writing:
                return
        if new:
            products = Product.objects.bulk_create([product for product, _, _ in new])
            values = []
            links = []
            for product, attrs, record in new:
                record.product = product
                for code, value in attrs.items():
                    attribute = self.attributes[(product.product_class_id, code)]
                    values.append(
                        ProductAttributeValue(
                            attribute=attribute, product=product, **{f"value_{attribute.type}": value}
                        )
                    )
                links.append(
                    ProductCategory(product=product, category=self.category(product.product_class.slug))
                )
            ProductAttributeValue.objects.bulk_create(values)
            ProductCategory.objects.bulk_create(links)
            self.categorised = True
            StockRecord.objects.bulk_create([record for _, _, record in new])
            self.newly_blocked += [record.pk for _, _, record in new if record.compliance_blocked]
            self.report.blocked += sum(1 for _, _, record in new if record.compliance_blocked)
            schedule_product_reindex([p.pk for p in products])
        if av_delete:
            ProductAttributeValue.objects.filter(pk__in=av_delete).delete()
        if av_create:
            ProductAttributeValue.objects.bulk_create(av_create)
        if av_update:
            ProductAttributeValue.objects.bulk_update(av_update, VALUE_FIELDS)
        if changed_products:
            Product.objects.bulk_update(changed_products, PRODUCT_UPDATE_FIELDS)
        if changed_records:
            StockRecord.objects.bulk_update(
                [record for record, _ in changed_records.values()],
                ["price", "num_in_stock", "warehouse", "date_updated"],
            )
        touched = {p.pk for p in changed_products} | {r.product_id for r, _ in changed_records.values()}
        if touched:
            schedule_product_reindex(touched)


def csv_template() -> bytes:
    return import_spec().template_csv()


__all__ = [
    "import_catalogue",
    "import_spec",
    "ImportReport",
    "RowError",
    "csv_template",
]
