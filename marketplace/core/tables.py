"""The one table reader every import calls (catalogue, soil tests, grain prices, surveys, produce lots).

* CSV and XLSX behind one API. CSV: UTF-8 with or without BOM, else GB18030 (a superset of
  GBK / GB2312, which Excel in China uses for "CSV"); a file in neither is one clear error. XLSX:
  openpyxl ``read_only`` (streamed from the zip, first sheet).
* Each import declares a :class:`TableSpec`: canonical keys with the header spellings accepted
  (Chinese and English; case, spaces and full-width forms do not matter), required or optional,
  optional units (``有机质(g/kg)``). A missing required column, an unknown or duplicated header is
  one :class:`RowError` naming that column; all header problems are reported at once.
* Rows are yielded one at a time as :class:`Row` (spreadsheet row number, ``{key: text}``, the cell
  errors of that row); blank rows are skipped. Every cell is text: XLSX numbers become their shortest
  decimal string (``0.1`` stays ``"0.1"``, ``15.0`` becomes ``"15"``), dates ``YYYY-MM-DD`` — so an
  importer parses CSV and XLSX cells the same way.
* Limits: file size and row count per spec, cell length (per column or per spec) and NUL bytes per
  cell. Nothing is read into memory as a whole: the encoding check and the rows both stream.
* Every problem is a :class:`RowError` ``(row, column, message, code)`` with a translated message;
  file-level and header problems, and a row-count overflow, raise :class:`TableInvalid` (a
  ``ValidationError`` carrying ``row_errors``).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.utils.functional import Promise
from django.utils.translation import gettext

from .csv_safe import safe_row

MiB = 1024 * 1024
_CHUNK = 1 << 20
_UNIT = re.compile(r"^(.*?)[(\[](.*?)[)\]]$")

Text = str | Promise


# --- Errors -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem in an uploaded table: spreadsheet row (header = 1; 0 = the file as a whole),
    the column as the user wrote it (or its label), a translated message and a stable code."""

    row: int
    column: str
    message: str
    code: str = "invalid"

    def __post_init__(self) -> None:  # lazy labels / messages: fix them in the active language
        object.__setattr__(self, "column", str(self.column))
        object.__setattr__(self, "message", str(self.message))

    def __str__(self) -> str:
        if self.row <= 0:
            return f"{self.column}: {self.message}" if self.column else self.message
        if not self.column:
            return gettext("第%(row)s行: %(message)s") % {"row": self.row, "message": self.message}
        return gettext("第%(row)s行 %(column)s: %(message)s") % {
            "row": self.row,
            "column": self.column,
            "message": self.message,
        }

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "code": self.code, "message": self.message}


class TableInvalid(ValidationError):
    """The table cannot be read (file, header or size); ``row_errors`` lists every problem."""

    def __init__(self, row_errors: Sequence[RowError]) -> None:
        self.row_errors = list(row_errors)
        super().__init__([ValidationError(str(e), code=e.code) for e in self.row_errors])


def _fail(row: int, column: Text, message: Text, code: str) -> TableInvalid:
    return TableInvalid([RowError(row, str(column), str(message), code)])


# --- Specs --------------------------------------------------------------------------------------


def normalise_header(text: Any) -> str:
    """Header comparison form: NFKC (full-width → half-width), case-folded, without whitespace."""
    return "".join(unicodedata.normalize("NFKC", str(text)).casefold().split())


@dataclass(frozen=True)
class Column:
    """One column of an import. ``headers[0]`` is the header written in templates."""

    key: str
    headers: tuple[Text, ...]
    label: Text | None = None  # the name in messages; headers[0] when not given
    required: bool = False
    max_length: int | None = None  # cell limit; the spec's max_cell_chars when not given
    #: Accepted unit suffixes, as in ``有机质(g/kg)`` ("" = no unit). None: a bracketed suffix
    #: (``价格(元)``) is a note and ignored; a header without a unit is always accepted.
    units: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        return str(self.label if self.label is not None else self.headers[0])

    @property
    def template_header(self) -> str:
        header, unit = str(self.headers[0]), self.units[0] if self.units else ""
        if not unit or _UNIT.match(normalise_header(header)):  # no unit, or already "面积(亩)"
            return header
        return f"{header}({unit})"


@dataclass(frozen=True)
class TableSpec:
    columns: tuple[Column, ...]
    #: "error": an unrecognised header is an error; "ignore": extra columns are skipped (lab files
    #: carry sample codes and remarks).
    unknown: Literal["error", "ignore"] = "error"
    max_rows: int = 20_000
    max_bytes: int = 5 * MiB
    max_cell_chars: int = 10_000
    allow_empty: bool = False

    def __post_init__(self) -> None:
        owner: dict[str, str] = {}
        for column in self.columns:
            if column.key in owner.values():
                raise ValueError(f"column key {column.key!r} declared twice")
            for header in (*column.headers, column.key):
                if isinstance(header, Promise):
                    continue  # translated labels are compared when a file is read
                taken = owner.setdefault(normalise_header(header), column.key)
                if taken != column.key:
                    raise ValueError(f"header {header!r} names both {taken!r} and {column.key!r}")

    def template_headers(self) -> list[str]:
        return [c.template_header for c in self.columns]

    def template_csv(self, rows: Iterable[Sequence[Any]] = ()) -> bytes:
        """A UTF-8 (with BOM, so Excel opens it as UTF-8) template: the header, then ``rows``
        (formula-safe)."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(self.template_headers())
        for row in rows:
            writer.writerow(safe_row(row))
        return ("\ufeff" + out.getvalue()).encode("utf-8")

    def _lookup(self) -> dict[str, Column]:
        by_header: dict[str, Column] = {}
        for column in self.columns:
            for header in (*column.headers, column.key):
                by_header.setdefault(normalise_header(header), column)
        return by_header


# --- Rows ---------------------------------------------------------------------------------------


@dataclass
class Row:
    number: int  # as the spreadsheet shows it (header = 1)
    values: dict[str, str]  # key -> cell text, for every column present in the file
    errors: list[RowError] = field(default_factory=list)  # over-long cells, NUL bytes

    def get(self, key: str, default: str = "") -> str:
        return self.values.get(key, default)


def cell_text(value: Any) -> str:
    """A CSV or XLSX cell as text: numbers in their shortest decimal form (no float artefacts),
    dates as ISO 8601, booleans as true / false."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        number = Decimal(repr(value))
        return "0" if number == 0 else format(number.normalize(), "f")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.replace(microsecond=0).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M") if not value.second else value.strftime("%H:%M:%S")
    if isinstance(value, timedelta):
        return str(value)
    return str(value).strip()


# --- Reading ------------------------------------------------------------------------------------

Source = str | Path | bytes | IO[bytes] | File


def read_table(source: Source, spec: TableSpec, filename: str = "") -> Table:
    """Open ``source`` (a path, bytes, a binary file or a Django file) and read its header.
    Raises :class:`TableInvalid` for an unsupported, unreadable, too large or empty file and for
    header problems. Use as a context manager and iterate for rows."""
    name = filename or str(getattr(source, "name", "") or (source if isinstance(source, str | Path) else ""))
    suffix = Path(name).suffix.lower()
    if suffix not in (".csv", ".txt", ".xlsx", ".xlsm"):
        raise _fail(0, "", gettext("仅支持 .csv 或 .xlsx 文件"), "file_type")
    table = Table(source, spec, xlsx=suffix in (".xlsx", ".xlsm"))
    try:
        table._open()
    except BaseException:
        table.close()
        raise
    return table


class Table:
    """An open table: ``columns`` (key → header as written), ``units`` (key → unit as declared in
    the spec, "" for none), iterate for :class:`Row`. Closes itself after the last row."""

    def __init__(self, source: Source, spec: TableSpec, xlsx: bool) -> None:
        self.spec = spec
        self.xlsx = xlsx
        self.columns: dict[str, str] = {}
        self.units: dict[str, str] = {}
        self.header_row = 1
        self._source = source
        self._handle: Any = None
        self._own_handle = False
        self._text: io.TextIOWrapper | None = None
        self._workbook: Any = None
        self._records: Iterator[tuple[int, Sequence[Any]]] = iter(())
        self._index: dict[int, Column] = {}

    # -- context manager -------------------------------------------------------------------------

    def __enter__(self) -> Table:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._workbook is not None:
            self._workbook.close()
            self._workbook = None
        if self._text is not None:
            self._text.detach()  # leave the caller's file open
            self._text = None
        if self._own_handle and self._handle is not None:
            self._handle.close()
        self._handle = None

    # -- opening ---------------------------------------------------------------------------------

    def _binary(self) -> Any:
        source: Any = self._source
        if isinstance(source, bytes):
            return io.BytesIO(source)
        if isinstance(source, str | Path):
            self._own_handle = True
            return open(source, "rb")  # noqa: SIM115 - closed by close()
        while isinstance(source, File):  # UploadedFile, FieldFile: the file object inside
            source = source.file
        if not (hasattr(source, "seek") and source.seekable()):
            # a non-seekable stream: copy it (to disk past 4 MiB; stops past max_bytes)
            spooled = tempfile.SpooledTemporaryFile(max_size=4 * _CHUNK)  # noqa: SIM115 - close()
            self._own_handle = True
            while chunk := source.read(_CHUNK):
                spooled.write(chunk)
                if spooled.tell() > self.spec.max_bytes:
                    break
            spooled.seek(0)
            return spooled
        return source

    def _open(self) -> None:
        self._handle = handle = self._binary()
        handle.seek(0, io.SEEK_END)
        size = handle.tell()
        handle.seek(0)
        if size > self.spec.max_bytes:
            raise _fail(
                0,
                "",
                gettext("文件不能超过 %(size)s") % {"size": _size(self.spec.max_bytes)},
                "too_large",
            )
        if size == 0:
            raise _fail(0, "", gettext("文件为空"), "empty")
        self._records = self._xlsx_records() if self.xlsx else self._csv_records()
        for number, values in self._records:
            if any(cell_text(v) for v in values):
                self.header_row = number
                self._read_header(values)
                return
        raise _fail(0, "", gettext("文件为空"), "empty")

    def _csv_records(self) -> Iterator[tuple[int, Sequence[Any]]]:
        encoding = _detect_encoding(self._handle)
        self._text = io.TextIOWrapper(self._handle, encoding=encoding, newline="")
        # a cell longer than the limit is a row error below, not a csv.Error here
        csv.field_size_limit(max(csv.field_size_limit(), self.spec.max_cell_chars * 4))
        reader = csv.reader(self._text)
        number = 0
        try:
            for number, values in enumerate(reader, start=1):  # noqa: B007 - used in the error
                yield number, values
        except csv.Error as exc:
            raise _fail(number + 1, "", gettext("CSV 格式错误，无法读取此行"), "malformed") from exc

    def _xlsx_records(self) -> Iterator[tuple[int, Sequence[Any]]]:
        from openpyxl import load_workbook

        try:
            self._workbook = load_workbook(self._handle, read_only=True, data_only=True)
            sheet = self._workbook.worksheets[0]
            sheet.reset_dimensions()  # some writers store a wrong size; read what is there
        except Exception as exc:  # openpyxl raises several types for a broken file
            raise _fail(0, "", gettext("无法读取 XLSX 文件"), "unreadable") from exc
        rows = sheet.iter_rows(min_row=1, values_only=True)
        number = 0
        while True:
            try:
                values = next(rows)
            except StopIteration:
                return
            except Exception as exc:  # a corrupt sheet part
                raise _fail(number + 1, "", gettext("无法读取 XLSX 文件"), "unreadable") from exc
            number += 1
            yield number, values

    def _read_header(self, cells: Sequence[Any]) -> None:
        spec, row = self.spec, self.header_row
        lookup = spec._lookup()
        errors: list[RowError] = []
        for index, cell in enumerate(cells):
            written = cell_text(cell)
            if not written:
                continue
            normal = normalise_header(written)
            column, unit = lookup.get(normal), ""
            if column is None and (m := _UNIT.match(normal)):
                column = lookup.get(m.group(1))
                if column is not None and column.units is not None:
                    accepted = {normalise_header(u): u for u in column.units}
                    if m.group(2) not in accepted:
                        message = gettext("不支持的单位 “%(unit)s”，可用: %(units)s") % {
                            "unit": m.group(2),
                            "units": ", ".join(u for u in column.units if u),
                        }
                        errors.append(RowError(row, written, message, "bad_unit"))
                        self.columns.setdefault(column.key, written)  # present, not also "missing"
                        continue
                    unit = accepted[m.group(2)]
            if column is None:
                if spec.unknown == "error":
                    errors.append(RowError(row, written, gettext("未知的列"), "unknown_column"))
                continue
            if column.key in self.columns:
                errors.append(RowError(row, written, gettext("列重复"), "duplicate_column"))
                continue
            self.columns[column.key] = written
            self.units[column.key] = unit
            self._index[index] = column
        for column in spec.columns:
            if column.required and column.key not in self.columns:
                message = gettext("缺少列 “%(column)s”") % {"column": column.name}
                errors.append(RowError(row, column.name, message, "missing_column"))
        if errors:
            raise TableInvalid(errors)

    # -- rows ------------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Row]:
        spec, count = self.spec, 0
        try:
            for number, cells in self._records:
                values: dict[str, str] = {key: "" for key in self.columns}
                errors: list[RowError] = []
                blank = True
                for index, cell in enumerate(cells):
                    column = self._index.get(index)
                    text = cell_text(cell)
                    if text:
                        blank = False
                    if column is None or not text:
                        continue
                    limit = column.max_length or spec.max_cell_chars
                    header = self.columns[column.key]
                    if "\x00" in text:
                        errors.append(RowError(number, header, gettext("不能包含空字符 (NUL)"), "nul"))
                    elif len(text) > limit:
                        message = gettext("最多 %(n)s 个字符") % {"n": limit}
                        errors.append(RowError(number, header, message, "too_long"))
                    else:
                        values[column.key] = text
                if blank:
                    continue
                count += 1
                if count > spec.max_rows:
                    message = gettext("一次最多导入 %(n)s 行") % {"n": spec.max_rows}
                    raise _fail(number, "", message, "too_many_rows")
                yield Row(number, values, errors)
            if not count and not spec.allow_empty:
                raise _fail(self.header_row + 1, "", gettext("文件中没有数据行"), "empty")
        except UnicodeDecodeError as exc:  # the file changed under us; the check read it whole
            raise _fail(0, "", _ENCODING_MESSAGE(), "encoding") from exc
        finally:
            self.close()


def _size(n: int) -> str:
    return f"{n / MiB:.3g} MB" if n >= MiB else f"{n / 1024:.3g} KB"


def _ENCODING_MESSAGE() -> str:
    return gettext("无法识别文件编码：请将 CSV 保存为 UTF-8 或 GBK（GB18030）编码")


def _detect_encoding(handle: Any) -> str:
    """UTF-8 (BOM or not) if the whole file decodes as UTF-8, else GB18030, else an error. Streams
    the file in 1 MiB chunks (constant memory) and rewinds it."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        handle.seek(0)
        try:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        handle.seek(0)
        return encoding
    handle.seek(0)
    raise _fail(0, "", _ENCODING_MESSAGE(), "encoding")


__all__ = [
    "Column",
    "Row",
    "RowError",
    "Table",
    "TableInvalid",
    "TableSpec",
    "cell_text",
    "normalise_header",
    "read_table",
]
