"""The one table reader (marketplace/core/tables.py): encodings, XLSX values, declared columns and
their aliases, header problems, cell / row / size limits, row numbers, templates, messages."""

from __future__ import annotations

import io
from datetime import date, datetime, time
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from openpyxl import Workbook

from marketplace.core.tables import Column, RowError, TableInvalid, TableSpec, cell_text, read_table

SPEC = TableSpec(
    (
        Column("sku", ("SKU", "商品编号"), required=True, max_length=8),
        Column("title", ("商品名称", "title"), required=True),
        Column("price", ("价格", "price"), required=True, units=("元", "")),
        Column("note", ("备注", "note")),
    ),
    max_rows=5,
)


@pytest.fixture(autouse=True)
def chinese():
    """Messages are asserted in Chinese (the default); an earlier test may leave English active."""
    with translation.override("zh-hans"):
        yield


ROWS = [["A-1", "复合肥 15-15-15", "0.1"], ["B-2", "尿素（颗粒）", "108"]]


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join(",".join(r) for r in [header, *rows]) + "\n"


def read(source, spec: TableSpec = SPEC, filename: str = "t.csv") -> tuple[dict[str, str], list]:
    with read_table(source, spec, filename) as table:
        return table.columns, [(row.number, row.values, row.errors) for row in table]


def invalid(source, spec: TableSpec = SPEC, filename: str = "t.csv") -> list[RowError]:
    with pytest.raises(TableInvalid) as caught:
        read(source, spec, filename)
    return caught.value.row_errors


def xlsx(*rows: list) -> bytes:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --- Encodings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_utf8_bom_and_gb18030_csv_read_the_same(encoding):
    data = csv_text(["SKU", "商品名称", "价格"], ROWS).encode(encoding)
    columns, rows = read(data)
    assert columns == {"sku": "SKU", "title": "商品名称", "price": "价格"}
    assert rows == [
        (2, {"sku": "A-1", "title": "复合肥 15-15-15", "price": "0.1"}, []),
        (3, {"sku": "B-2", "title": "尿素（颗粒）", "price": "108"}, []),
    ]


def test_gb18030_only_characters_are_read():
    # 𠀀 (U+20000) is outside GBK: only GB18030 (four-byte form) encodes it
    data = csv_text(["SKU", "商品名称", "价格"], [["A", "𠀀米", "1"]]).encode("gb18030")
    assert read(data)[1][0][1]["title"] == "𠀀米"


def test_a_file_in_neither_encoding_is_one_clear_error():
    data = b"\xff\xfeS\x00K\x00U\x00\n\x00"  # UTF-16 (Excel's "Unicode text"): neither
    [error] = invalid(data)
    assert (error.row, error.code) == (0, "encoding")
    assert "UTF-8" in error.message and "GB18030" in error.message


# --- XLSX ---------------------------------------------------------------------------------------


def test_xlsx_numbers_and_dates_become_the_text_a_csv_would_have():
    data = xlsx(
        ["SKU", "商品名称", "价格", "备注"],
        [1.0, "a", 0.1, date(2026, 4, 10)],
        [None, None, None, None],  # blank row in the middle: skipped, numbering kept
        [2, "b", 1234567.89, datetime(2026, 4, 11, 0, 0)],
        ["C", "c", 150.0, datetime(2026, 4, 11, 8, 30)],
        ["D", "d", 1e16, True],
        [None, None, None, None],  # trailing blank rows
        [None, None, None, None],
    )
    columns, rows = read(data, filename="t.xlsx")
    assert [(n, v["sku"], v["price"], v["note"]) for n, v, _ in rows] == [
        (2, "1", "0.1", "2026-04-10"),
        (4, "2", "1234567.89", "2026-04-11"),
        (5, "C", "150", "2026-04-11 08:30:00"),
        (6, "D", "10000000000000000", "true"),
    ]


def test_cell_text_has_no_float_artefacts():
    assert cell_text(0.1) == "0.1" and cell_text(0.1 + 0.2) == "0.30000000000000004"
    assert cell_text(15.0) == "15" and cell_text(-0.0) == "0" and cell_text(2.5e-7) == "0.00000025"
    assert cell_text(Decimal("1.50")) == "1.5" and cell_text(time(9, 5)) == "09:05"
    assert cell_text("  x ") == "x" and cell_text(None) == ""


def test_broken_xlsx_and_unsupported_type_are_clear_errors():
    [error] = invalid(b"not a zip", filename="t.xlsx")
    assert (error.code, error.message) == ("unreadable", "无法读取 XLSX 文件")
    [error] = invalid(b"a,b\n", filename="t.pdf")
    assert error.code == "file_type" and ".xlsx" in error.message


# --- Columns ------------------------------------------------------------------------------------


def test_aliases_are_case_space_and_full_width_insensitive():
    data = csv_text(["ｓｋｕ", " Title ", "价格（元）", "备 注"], [["A", "t", "1", "n"]]).encode("gbk")
    with read_table(data, SPEC, "t.csv") as table:
        assert table.columns == {"sku": "ｓｋｕ", "title": "Title", "price": "价格（元）", "note": "备 注"}
        assert table.units == {"sku": "", "title": "", "price": "元", "note": ""}
        assert [row.values for row in table] == [{"sku": "A", "title": "t", "price": "1", "note": "n"}]


def test_missing_unknown_duplicate_columns_and_bad_units_each_named_at_once():
    errors = invalid(csv_text(["商品编号", "SKU", "颜色", "price(美元)"], [["A", "A", "x", "1"]]).encode())
    assert [(e.row, e.column, e.code) for e in errors] == [
        (1, "SKU", "duplicate_column"),
        (1, "颜色", "unknown_column"),
        (1, "price(美元)", "bad_unit"),
        (1, "商品名称", "missing_column"),
    ]
    assert "商品名称" in errors[-1].message and "元" in errors[2].message


def test_unknown_columns_may_be_declared_ignored():
    lenient = TableSpec(SPEC.columns, unknown="ignore")
    columns, rows = read(
        csv_text(["SKU", "商品名称", "价格", "样品编号"], [["A", "t", "1", "S-9"]]).encode(), lenient
    )
    assert "样品编号" not in columns.values() and rows[0][1] == {"sku": "A", "title": "t", "price": "1"}


def test_spec_refuses_one_header_for_two_columns():
    with pytest.raises(ValueError, match="names both"):
        TableSpec((Column("a", ("名称",)), Column("b", ("名 称",))))


# --- Limits and row numbers -----------------------------------------------------------------------


def test_over_long_cell_and_nul_byte_name_row_and_column():
    data = csv_text(
        ["SKU", "商品名称", "价格"], [["TOO-LONG-1", "t", "1"], ["A", "t\x00x", "1"], ["B", "t", "2"]]
    )
    columns, rows = read(data.encode())
    assert [(n, errors) for n, _, errors in rows] == [
        (2, [RowError(2, "SKU", "最多 8 个字符", "too_long")]),
        (3, [RowError(3, "商品名称", "不能包含空字符 (NUL)", "nul")]),
        (4, []),
    ]
    data = xlsx(["SKU", "商品名称", "价格"], ["A", "x" * 10_001, 1])
    [(number, _, [error])] = read(data, filename="t.xlsx")[1]
    assert (number, error.column, error.code) == (2, "商品名称", "too_long")


def test_row_count_and_file_size_limits():
    rows = [[f"S{i}", "t", "1"] for i in range(6)]
    with (
        pytest.raises(TableInvalid) as caught,
        read_table(csv_text(["SKU", "商品名称", "价格"], rows).encode(), SPEC, "t.csv") as table,
    ):
        list(table)
    [error] = caught.value.row_errors
    assert (error.row, error.code) == (7, "too_many_rows") and "5" in error.message
    small = TableSpec(SPEC.columns, max_bytes=4096)
    [error] = invalid(b"SKU,title,price\n" + b"A,t,1\n" * 1000, small)
    assert (error.row, error.code, error.message) == (0, "too_large", "文件不能超过 4 KB")


def test_blank_lines_are_skipped_with_spreadsheet_row_numbers():
    data = 'SKU,商品名称,价格\n\nA,t,1\n , ,\n"B","two\nlines",2\nC,t,3\n\n\n'.encode()
    assert [(n, v["sku"]) for n, v, _ in read(data)[1]] == [(3, "A"), (5, "B"), (6, "C")]


def test_empty_file_and_header_without_rows():
    assert invalid(b"")[0].code == "empty"
    [error] = invalid("SKU,商品名称,价格\n\n".encode())
    assert (error.row, error.code, error.message) == (2, "empty", "文件中没有数据行")


# --- Sources --------------------------------------------------------------------------------------


def test_reads_uploads_paths_and_streams_and_leaves_the_callers_file_open(tmp_path):
    data = csv_text(["SKU", "商品名称", "价格"], ROWS).encode("gb18030")
    upload = SimpleUploadedFile("u.csv", data)
    assert len(read(upload, filename="")[1]) == 2
    assert not upload.closed and upload.read() == b""  # ours to rewind, not to close
    path = tmp_path / "p.csv"
    path.write_bytes(data)
    assert len(read(path, filename="")[1]) == 2

    class Pipe(io.RawIOBase):  # a non-seekable stream
        def __init__(self) -> None:
            self.inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b) -> int:
            chunk = self.inner.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    assert len(read(Pipe())[1]) == 2


# --- Templates and messages -----------------------------------------------------------------------


def test_template_is_the_spec_and_reads_back_clean():
    template = SPEC.template_csv([["=cmd", "t", "1", ""]])
    assert template.startswith("\ufeff".encode())
    assert template.decode("utf-8-sig").splitlines()[0] == "SKU,商品名称,价格(元),备注"
    columns, rows = read(template)
    assert rows[0][1]["sku"] == "'=cmd"  # formula-safe


def test_errors_read_in_chinese_and_english():
    error = RowError(4, "价格", "x")
    assert str(error) == "第4行 价格: x" and str(RowError(0, "", "整个文件")) == "整个文件"
    with translation.override("en"):
        [missing] = invalid(csv_text(["SKU", "商品名称"], [["A", "t"]]).encode())
        assert str(RowError(4, "price", "x")) == "Row 4 price: x"
        assert missing.message == "missing column “价格”"
        [encoding] = invalid(b"\xff\xfe\x00")
        assert encoding.message.startswith("Unrecognised file encoding")
