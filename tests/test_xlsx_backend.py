"""The .xlsx backend's own duties: files changed under it, merged cells, formula results."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from sheetai.backends.base import CellBlock
from sheetai.backends.xlsx import XlsxBackend
from sheetai.cell_values import CellError, Uncomputed
from sheetai.errors import WorkbookError

from .conftest import make_workbook


def with_cached_results(path: Path, results: dict[str, str]) -> Path:
    """Store formula results in the file as Excel would (openpyxl cannot write them)."""
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    for ref, value in results.items():
        xml = re.sub(
            rf'<c r="{ref}"([^>]*)><f>(.*?)</f><v\s*/>\s*</c>|<c r="{ref}"([^>]*)><f>(.*?)</f><v>\s*</v></c>',
            lambda m, v=value, ref=ref: (
                f'<c r="{ref}" t="str"><f>{m.group(2) or m.group(4)}</f><v>{v}</v></c>'
            ),
            xml,
        )
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def test_a_file_saved_by_someone_else_mid_run_is_not_overwritten(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "w.xlsx", [["Review"], ["a"], ["b"]])
    backend = XlsxBackend(path)
    backend.read(["Feedback"])
    book = openpyxl.load_workbook(path)
    book["Feedback"].insert_rows(2)
    book["Feedback"]["A2"] = "a colleague's new row"
    book.save(path)
    backend.write([CellBlock("Feedback", 2, 2, [["answer for a"]])])
    with pytest.raises(WorkbookError, match="changed by another program"):
        backend.commit()
    backend.close()
    assert openpyxl.load_workbook(path)["Feedback"]["B2"].value is None


def test_our_own_saves_do_not_count_as_someone_elses(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "w.xlsx", [["Review"], ["a"]])
    with XlsxBackend(path) as backend:
        backend.read(["Feedback"])
        for value in ("first", "second"):
            backend.write([CellBlock("Feedback", 2, 2, [[value]])])
            backend.commit()
    assert openpyxl.load_workbook(path)["Feedback"]["B2"].value == "second"


def test_writing_into_merged_cells_is_refused_with_the_range(tmp_path: Path) -> None:
    path = tmp_path / "merged.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Feedback"
    for row in [["Review", "Sentiment"], ["a", None], ["b", None]]:
        sheet.append(row)
    sheet.merge_cells("B2:B3")
    book.save(path)
    with XlsxBackend(path) as backend:
        backend.read(["Feedback"])
        backend.write([CellBlock("Feedback", 2, 2, [["Positive"], ["Negative"]])])
        with pytest.raises(WorkbookError, match=r"Feedback!B2:B3 is merged"):
            backend.commit()


def test_formula_results_empty_text_and_errors(tmp_path: Path) -> None:
    data = [
        ["Raw", "Review"],
        ["hello", "=A2"],
        ["", '=IF(A3="","",A3)'],
        ["x", "=VLOOKUP(A4,Z:Z,1,0)"],
    ]
    path = make_workbook(tmp_path / "f.xlsx", data)
    with XlsxBackend(path) as backend:  # never calculated: every formula is uncomputed
        rows = backend.read(["Feedback"])["Feedback"]
    assert all(isinstance(rows[r][1], Uncomputed) for r in (1, 2, 3))

    with_cached_results(path, {"B2": "hello", "B4": "#N/A"})
    with XlsxBackend(path) as backend:  # calculated by Excel: an empty result is ""
        rows = backend.read(["Feedback"])["Feedback"]
    assert rows[1][1] == "hello" and not isinstance(rows[1][1], Uncomputed)
    assert rows[2][1] == ""
    assert isinstance(rows[3][1], CellError)
