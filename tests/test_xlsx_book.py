"""The light read of a workbook's package finds what openpyxl's read-only load finds."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import warnings
from pathlib import Path

import openpyxl
import pytest
from openpyxl.cell.read_only import ReadOnlyCell

from sheetai.backends.xlsx import XlsxBackend
from sheetai.backends.xlsx_book import open_book
from sheetai.cell_values import Uncomputed

from .test_xlsx_read import every_kind, varied
from .workbooks import DATA, macro_workbook, patch_parts, rich_workbook


def dated_1904(path: Path) -> Path:
    book = openpyxl.Workbook()
    book.epoch = openpyxl.utils.datetime.CALENDAR_MAC_1904
    sheet = book.active
    sheet.append(["When", "Took"])
    sheet.append([dt.datetime(2024, 2, 29, 8, 0), dt.timedelta(hours=30)])
    sheet["B2"].number_format = "[h]:mm"
    book.save(path)
    return path


@pytest.mark.parametrize(
    "make",
    [
        every_kind,
        varied,
        rich_workbook,
        macro_workbook,
        dated_1904,
        lambda p: DATA / "libreoffice.xlsx",
    ],
    ids=["every_kind", "varied", "rich", "macro", "1904", "libreoffice"],
)
def test_the_light_read_finds_what_openpyxl_finds(tmp_path: Path, make) -> None:
    path = make(tmp_path / "book.xlsx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = openpyxl.load_workbook(path, read_only=True, data_only=True)
    book = open_book(path)
    assert book is not None
    try:
        assert book.sheetnames == expected.sheetnames
        assert book.epoch == expected.epoch
        assert book.dates == expected._date_formats
        assert book.timedeltas == expected._timedelta_formats
        for title in book.sheetnames:
            sheet = expected[title]
            assert book.parts[title] == sheet._worksheet_path
            assert book.strings == list(sheet._shared_strings)
            for style in range(len(expected._cell_styles)):
                probe = ReadOnlyCell(sheet, 1, 1, None, style_id=style)
                assert book.number_format(style) == probe.number_format
    finally:
        book.close()
        expected.close()


def test_a_chartsheet_leaves_the_file_to_openpyxl(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["Label", "Count"])
    book.active.append(["a", 3])
    chart = book.create_chartsheet("Chart")
    bars = openpyxl.chart.BarChart()
    bars.add_data(openpyxl.chart.Reference(book.active, min_col=2, min_row=1, max_row=2))
    chart.add_chart(bars)
    path = tmp_path / "charts.xlsx"
    book.save(path)
    assert open_book(path) is None
    with XlsxBackend(path) as backend:
        assert backend.sheet_titles() == ["Sheet", "Chart"]
        assert backend.read(["Sheet"])["Sheet"] == [["Label", "Count"], ["a", 3]]


def test_reading_a_plain_workbook_does_not_import_openpyxl(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["Review", "Stars"])
    book.active.append(["Fine", 4])
    path = tmp_path / "plain.xlsx"
    book.save(path)
    script = (
        "import sys\n"
        "from sheetai.backends.xlsx import XlsxBackend\n"
        f"with XlsxBackend({str(path)!r}) as backend:\n"
        "    grids = backend.read(backend.sheet_titles())\n"
        "print(grids['Sheet'], 'openpyxl' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.stdout.strip() == "[['Review', 'Stars'], ['Fine', 4]] False", out.stderr


def test_a_sheet_the_scan_leaves_is_walked_with_the_light_book(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["Number", "Double", "Note"])
    book.active.append([1])
    book.active.append([2])
    path = tmp_path / "shared.xlsx"
    book.save(path)

    def shared_formula(parts: dict[str, bytes]) -> None:
        xml = parts["xl/worksheets/sheet1.xml"].decode()
        xml = xml.replace(
            '</c></row><row r="3">',
            '</c><c r="B2"><f t="shared" ref="B2:B3" si="0">A2*2</f></c><c r="C2" '
            't="inlineStr"><is><r><t>rich </t></r><r><rPr><b/></rPr><t>text</t></r></is></c>'
            '</row><row r="3">',
        ).replace(
            "</c></row></sheetData>", '</c><c r="B3"><f t="shared" si="0"/></c></row></sheetData>'
        )
        parts["xl/worksheets/sheet1.xml"] = xml.encode()

    patch_parts(path, shared_formula)
    assert open_book(path) is not None
    with XlsxBackend(path) as backend:
        grid = backend.read(["Sheet"])["Sheet"]
    assert grid[1] == [1, Uncomputed("=A2*2"), "rich text"]
    assert grid[2] == [2, Uncomputed("=A3*2")]
