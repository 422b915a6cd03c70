"""Lossless .xlsx write-back: a sync changes only the cells and tabs it writes."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import openpyxl
import pytest
from lxml import etree

from sheetai import Settings, SyncOptions, sync
from sheetai.backends.base import CellBlock, CellRange, ChartSpec
from sheetai.backends.xlsx import XlsxBackend
from sheetai.errors import WorkbookError, WorkbookLockedError

from .conftest import REVIEWS, make_workbook, sentiment_step
from .workbooks import (
    DATA,
    MAIN,
    macro_workbook,
    parsed_cells,
    patch_parts,
    rich_workbook,
    sheet_part,
    zip_parts,
)

LABELS = {"Positive", "Neutral", "Negative"}


def run(path: Path, **options: object):
    with XlsxBackend(path) as backend:
        return sync(backend, Settings(), SyncOptions(**options))  # type: ignore[arg-type]


def load(path: Path) -> openpyxl.Workbook:
    with warnings.catch_warnings():
        # openpyxl itself cannot keep sparklines; it warns when it reads them.
        warnings.simplefilter("ignore", UserWarning)
        return openpyxl.load_workbook(path)


def column_of(ref: str) -> str:
    return re.sub(r"\d", "", ref)


def without(root: etree._Element, *names: str) -> list[bytes]:
    """A worksheet's children other than ``names``, serialised, to compare parts around cells."""
    return [etree.tostring(child) for child in root if etree.QName(child).localname not in names]


def test_merged_ranges_and_number_formats_come_from_the_read(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Data"
    sheet.append(["When", "Share", "Note"])
    sheet.append([dt.date(2024, 1, 2), 0.25, "12%"])
    sheet["B2"].number_format = "0%"
    sheet["C2"].number_format = "0%"  # text: shown as typed, so not listed
    sheet.merge_cells("A4:B5")
    book.save(path)

    with XlsxBackend(path) as backend:
        backend.read(["Data"])
        assert backend.number_formats("Data") == {(2, 1): "yyyy-mm-dd", (2, 2): "0%"}
        assert backend.merged_ranges("Data") == [CellRange(4, 1, 5, 2)]
        assert backend.merged_ranges("Missing") == []


def test_a_sync_changes_only_the_cells_and_tabs_it_writes(tmp_path: Path) -> None:
    path = rich_workbook(tmp_path / "rich.xlsx")
    before = zip_parts(path)
    feedback, leads = sheet_part(path, "Feedback"), sheet_part(path, "Leads")

    summary = run(path)
    assert summary.total("processed") == len(REVIEWS) + 4
    after = zip_parts(path)

    added = set(after) - set(before)
    assert len(added) == 2 and all(a.startswith("xl/worksheets/sheet") for a in added)
    assert set(before) <= set(after)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {
        "[Content_Types].xml",  # the two new tabs
        "xl/_rels/workbook.xml.rels",
        "xl/workbook.xml",  # new tabs, and recalculation on open
        "xl/tables/table1.xml",  # the table grew over the output columns
        feedback,
        leads,
    }
    # Images, drawings, charts, comments, styles, shared strings, calc chain: untouched.
    assert {"xl/media/image1.png", "xl/calcChain.xml", "xl/styles.xml"} <= set(before) - changed

    for part, outputs in ((feedback, "EFGH"), (leads, "CDEF")):
        old, new = parsed_cells(before[part]), parsed_cells(after[part])
        assert {r: v for r, v in old.items() if column_of(r) not in outputs} == {
            r: v for r, v in new.items() if column_of(r) not in outputs
        }
        old_root, new_root = etree.fromstring(before[part]), etree.fromstring(after[part])
        assert without(old_root, "sheetData", "dimension", "cols", "autoFilter") == without(
            new_root, "sheetData", "dimension", "cols", "autoFilter"
        )
    new_feedback = parsed_cells(after[feedback])
    assert new_feedback["C2"][2:4] == (("B2*2", {}), "6")  # cached result kept
    assert new_feedback["B10"][0::3] == ("e", "#N/A")
    assert new_feedback["E1"][1] == new_feedback["D1"][1]  # header style of the last header
    assert b"x14:sparklineGroups" in after[feedback] and b'mc:Ignorable="x14ac"' in after[feedback]
    assert b'fullCalcOnLoad="1"' in after["xl/workbook.xml"]

    book = load(path)
    table = book["Feedback"].tables["Reviews"]
    assert table.ref == "A1:H9"
    assert [c.name for c in table.tableColumns][4:] == [
        "Sentiment",
        "Sentiment reasoning",
        "Sentiment confidence",
        "Sentiment flag",
    ]
    assert book["Leads"].auto_filter.ref == "A1:F5"
    assert "Leads!$A$1:$F$5" in after["xl/workbook.xml"].decode()
    assert {book["Feedback"].cell(r, 5).value for r in range(2, 10)} <= LABELS
    assert book["Hidden"].sheet_state == "hidden" and book["_sheetai_state"].sheet_state == "hidden"
    assert book["Notes"].merged_cells.ranges and book["Feedback"]["A2"].comment is not None
    assert book["sheetai log"].column_dimensions["A"].width == 20

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    again = run(path)
    assert again.total("processed") == 0
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_formula_inputs_are_answered_and_the_next_sync_sees_them_unchanged(
    tmp_path: Path,
) -> None:
    data = [["Text", "Review"], ["Love it, thank you", "=A2"], ["It broke, terrible", "=A3"]]
    path = make_workbook(tmp_path / "formulas.xlsx", data, [sentiment_step()])

    def cache_results(parts: dict[str, bytes]) -> None:
        xml = parts["xl/worksheets/sheet1.xml"].decode()
        for ref, text in (("B2", data[1][0]), ("B3", data[2][0])):
            xml = re.sub(
                rf'<c r="{ref}"[^>]*><f>([^<]*)</f><v\s*/></c>|<c r="{ref}"[^>]*><f>([^<]*)</f><v></v></c>',
                lambda m, t=text, r=ref: (
                    f'<c r="{r}" t="str"><f>{m.group(1) or m.group(2)}</f><v>{t}</v></c>'
                ),
                xml,
            )
        parts["xl/worksheets/sheet1.xml"] = xml.encode()

    patch_parts(path, cache_results)
    first = run(path)
    assert first.steps[0].processed == 2 and first.steps[0].unreadable_inputs == 0
    cells = parsed_cells(zip_parts(path)[sheet_part(path, "Feedback")])
    assert cells["B2"][2:4] == (("A2", {}), "Love it, thank you")

    second = run(path)
    assert second.steps[0].processed == 0
    assert second.steps[0].unreadable_inputs == 0
    assert second.steps[0].skipped_unchanged == 2


def test_overwriting_a_formula_drops_it_and_the_calc_chain(tmp_path: Path) -> None:
    path = rich_workbook(tmp_path / "rich.xlsx")
    with XlsxBackend(path) as backend:
        backend.read(["Feedback"])
        backend.write([CellBlock("Feedback", 2, 3, [["typed over"]])])
        backend.commit()
    parts = zip_parts(path)
    assert "xl/calcChain.xml" not in parts
    assert b"calcChain" not in parts["xl/_rels/workbook.xml.rels"]
    assert b"calcChain" not in parts["[Content_Types].xml"]
    cells = parsed_cells(parts[sheet_part(path, "Feedback")])
    assert cells["C2"] == ("inlineStr", None, None, None, "typed over")
    assert cells["C3"][2:4] == (("B3*2", {}), "8")


def test_a_shared_formula_others_copy_is_not_overwritten(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "shared.xlsx", [["A", "B"], [1, 2], [3, 4]])

    def share(parts: dict[str, bytes]) -> None:
        xml = parts["xl/worksheets/sheet1.xml"].decode()
        xml = xml.replace(
            '<c r="B2" t="n"><v>2</v></c>',
            '<c r="B2"><f t="shared" ref="B2:B3" si="0">A2*2</f><v>2</v></c>',
        ).replace('<c r="B3" t="n"><v>4</v></c>', '<c r="B3"><f t="shared" si="0"/><v>6</v></c>')
        parts["xl/worksheets/sheet1.xml"] = xml.encode()

    patch_parts(path, share)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with XlsxBackend(path) as backend:
        backend.read(["Feedback"])
        backend.write([CellBlock("Feedback", 2, 2, [["x"]])])
        with pytest.raises(WorkbookError, match=r"Feedback!B2 holds a formula shared with B2:B3"):
            backend.commit()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_values_keep_their_type_and_the_cell_its_style(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "types.xlsx", [["A", "B"], ["old", "old"]])
    book = openpyxl.load_workbook(path)
    book["Feedback"]["B2"].font = openpyxl.styles.Font(italic=True)
    book.save(path)
    xfs_before = zip_parts(path)["xl/styles.xml"].count(b"<xf ")
    values = [
        "bad\x00chars\x1f",
        "=cmd",
        True,
        7,
        0.25,
        dt.date(2024, 5, 6),
        dt.datetime(2024, 5, 6, 12, 30),
        "x" * 40_000,
        dt.date(2025, 1, 1),
        "  padded  ",
    ]
    with XlsxBackend(path) as backend:
        backend.read(["Feedback"])
        backend.write([CellBlock("Feedback", 2, 2, [[v] for v in values])])
        backend.write([CellBlock("Feedback", 2, 1, [[None]])])
        backend.commit()
    sheet = openpyxl.load_workbook(path)["Feedback"]
    got = [sheet.cell(2 + i, 2).value for i in range(len(values))]
    assert got[:5] == ["badchars", "=cmd", True, 7, 0.25]
    assert got[5:7] == [dt.datetime(2024, 5, 6), dt.datetime(2024, 5, 6, 12, 30)]
    assert len(got[7]) == 32_767 and got[8:] == [dt.datetime(2025, 1, 1), "  padded  "]
    assert sheet["B2"].font.italic and sheet["A2"].value is None
    assert sheet["B7"].is_date and "h:mm" in sheet["B8"].number_format and sheet.max_row == 11
    # One date and one date-time format added, the second date reuses the first.
    assert zip_parts(path)["xl/styles.xml"].count(b"<xf ") == xfs_before + 2
    cells = parsed_cells(zip_parts(path)[sheet_part(path, "Feedback")])
    assert cells["B3"][0] == "inlineStr" and cells["B3"][2] is None  # '=cmd' is text
    assert cells["B4"][0::3] == ("b", "1")
    assert (
        etree.fromstring(zip_parts(path)["xl/worksheets/sheet1.xml"])
        .find(f"{{{MAIN}}}dimension")
        .get("ref")
        == "A1:B11"
    )


def test_a_macro_workbook_keeps_its_vba_project(tmp_path: Path) -> None:
    path = macro_workbook(tmp_path / "macros.xlsm")
    before = zip_parts(path)
    assert run(path).total("processed") == 3
    after = zip_parts(path)
    assert after["xl/vbaProject.bin"] == before["xl/vbaProject.bin"]
    assert b"macroEnabled.main+xml" in after["[Content_Types].xml"]
    assert b"vbaProject" in after["xl/_rels/workbook.xml.rels"]


def test_own_tabs_get_charts_dropdowns_links_and_widths(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "tabs.xlsx", [["Review"], *[[r] for r in REVIEWS[:3]]])
    spec = ChartSpec(
        "Labels", "D2", categories=1, series=[2], header_row=1, first_row=2, last_row=3
    )
    for _ in range(2):  # a chart at the same anchor is replaced, not stacked
        with XlsxBackend(path) as backend:
            backend.read(["Feedback"])
            if "QC" not in backend.sheet_titles():
                backend.add_sheet("QC")
            backend.write([CellBlock("QC", 1, 1, [["Label", "Count"], ["a", 3], ["b", 5]])])
            assert backend.add_chart("QC", spec)
            assert backend.set_dropdown("QC", 2, 1, 3, ["a", "b"])
            assert not backend.set_dropdown("QC", 2, 1, 3, ["a,b"])
            assert backend.set_links("QC", [(2, 2, "Feedback", 3)])
            assert backend.set_column_widths("QC", {1: 30, 3: 12.5})
            backend.commit()
    parts = zip_parts(path)
    assert sum(name.startswith("xl/charts/chart") for name in parts) == 1
    book = openpyxl.load_workbook(path)
    qc = book["QC"]
    assert len(qc._charts) == 1
    assert [str(v.sqref) for v in qc.data_validations.dataValidation] == ["A2:A3"]
    assert qc.data_validations.dataValidation[0].formula1 == '"a,b"'
    assert qc["B2"].hyperlink.location == "Feedback!A3" and qc["B2"].value == 3
    assert qc["B2"].font.u == "single"
    assert qc.column_dimensions["A"].width == 30 and qc.column_dimensions["C"].width == 12.5


def test_a_libreoffice_file_keeps_every_part_it_does_not_need(tmp_path: Path) -> None:
    path = tmp_path / "libreoffice.xlsx"
    shutil.copy(DATA / "libreoffice.xlsx", path)
    before = zip_parts(path)
    summary = run(path)
    assert summary.total("processed") == 4
    after = zip_parts(path)
    data_part = sheet_part(path, "Feedback")
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {
        "[Content_Types].xml",
        "xl/_rels/workbook.xml.rels",
        "xl/workbook.xml",
        data_part,
    }
    old, new = parsed_cells(before[data_part]), parsed_cells(after[data_part])
    assert {r: v for r, v in old.items() if column_of(r) in "AB"} == {
        r: v for r, v in new.items() if column_of(r) in "AB"
    }
    rows = [list(r) for r in load(path)["Feedback"].iter_rows(values_only=True)]
    assert rows[0][:3] == ["Review", "Length", "Sentiment"]
    assert {r[2] for r in rows[1:5]} <= LABELS
    assert run(path).total("processed") == 0


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_opens_the_result(tmp_path: Path) -> None:
    path = rich_workbook(tmp_path / "rich.xlsx")
    run(path)
    out = tmp_path / "out"
    subprocess.run(
        ["soffice", "--headless", "--convert-to", "csv", "--outdir", str(out), str(path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    text = (out / "rich.csv").read_text()
    assert "Sentiment reasoning" in text and "Absolutely love it" in text


def test_a_stale_lock_file_message_says_how_to_remove_it(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "w.xlsx", [["Review"], ["a"]], [sentiment_step()])
    lock = tmp_path / ".~lock.w.xlsx#"
    lock.write_text("someone")
    with pytest.raises(WorkbookLockedError) as caught:
        run(path)
    message = str(caught.value)
    assert "Close it there" in message and "no program has the file open" in message
    assert f'rm "{lock}"' in message


@pytest.mark.parametrize("suffix", [".ods", ".xls", ".csv"])
def test_other_formats_say_how_to_convert(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"book{suffix}"
    path.write_bytes(b"x")
    with pytest.raises(WorkbookError, match=r"soffice --headless --convert-to xlsx FILE"):
        XlsxBackend(path)


def test_rows_and_cells_stay_in_order(tmp_path: Path) -> None:
    path = make_workbook(
        tmp_path / "order.xlsx", [["A", "B", "C"], ["a", None, "c"], [], [], ["e"]]
    )
    with XlsxBackend(path) as backend:
        backend.read(["Feedback"])
        backend.write(
            [
                CellBlock("Feedback", 7, 3, [["last"]]),
                CellBlock("Feedback", 2, 2, [["middle"]]),
                CellBlock("Feedback", 3, 3, [["new row"]]),
                CellBlock("Feedback", 5, 1, [["over e", "next"]]),
            ]
        )
        backend.commit()
    root = etree.fromstring(zip_parts(path)["xl/worksheets/sheet1.xml"])
    refs = [[c.get("r") for c in row] for row in root.iter(f"{{{MAIN}}}row")]
    assert refs == [["A1", "B1", "C1"], ["A2", "B2", "C2"], ["C3"], ["A5", "B5"], ["C7"]]
    rows = [list(r) for r in openpyxl.load_workbook(path)["Feedback"].iter_rows(values_only=True)]
    assert rows[1] == ["a", "middle", "c"] and rows[4][:2] == ["over e", "next"]
