"""The live-Excel backend (xlwings), against the in-memory stand-in of Book / Sheet / Range.

The shared contract runs in test_backend_contract.py; here are the parts only live Excel has:
finding the open workbook, the used range not starting at A1, Excel's coercion of typed text,
few Range assignments per commit, and not disturbing the sheet the user is looking at.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from typer.testing import CliRunner

from sheetai import Settings, SyncOptions, sync
from sheetai.backends import open_backend
from sheetai.backends.base import CellBlock
from sheetai.backends.excel import XlwingsBackend
from sheetai.cli.app import app
from sheetai.errors import WorkbookError
from sheetai.state import STATE_TAB

from .conftest import CONFIG_HEADER, REVIEWS, sentiment_step
from .excel_standin import App, Book, make_book

DATA = [["ID", "Review"], *[[i + 1, text] for i, text in enumerate(REVIEWS)]]


def feedback_book(app: App | None = None, name: str = "Feedback.xlsx") -> Book:
    book = make_book(
        {"Feedback": DATA, "sheetai": [CONFIG_HEADER, sentiment_step(Input="Review")]}, name, app
    )
    book.app.assignments.clear()
    return book


def backend(book: Book) -> XlwingsBackend:
    return XlwingsBackend(book, Settings())


def test_finds_the_workbook_by_name_with_or_without_extension_or_the_active_one() -> None:
    excel = App()
    first = feedback_book(excel, "Feedback.xlsx")
    second = feedback_book(excel, "Leads.xlsm")
    assert XlwingsBackend("feedback", books=excel.books).book is first
    assert XlwingsBackend("LEADS.XLSM", books=excel.books).book is second
    assert XlwingsBackend("active", books=excel.books).book is second
    found = XlwingsBackend("Feedback.xlsx", books=excel.books)
    assert found.location == "excel:Feedback.xlsx"
    with pytest.raises(
        WorkbookError, match=r"no workbook named 'Budget' .*Feedback\.xlsx, Leads\.xlsm"
    ):
        XlwingsBackend("Budget", books=excel.books)


def test_no_open_workbook_says_so() -> None:
    with pytest.raises(WorkbookError, match="Excel has no workbook open"):
        XlwingsBackend("active", books=App().books)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux has no Excel to drive")
def test_on_linux_the_cli_explains_that_live_excel_needs_windows_or_mac() -> None:
    with pytest.raises(WorkbookError, match=r"works on Windows and macOS .*sheetai run FILE\.xlsx"):
        open_backend("excel:active")
    result = CliRunner().invoke(app, ["run", "--excel"])
    assert result.exit_code == 2
    assert "Windows and macOS" in result.output
    assert "Traceback" not in result.output


def test_reads_a_used_range_that_does_not_start_at_a1() -> None:
    book = make_book({"Data": [], "Empty": []})
    book.sheets["Data"].range("C3").value = [["Review", "Stars"], ["good", 5], [None, True]]
    grids = backend(book).read(["Data", "Empty", "Missing"])
    assert grids == {
        "Data": [
            [None, None, None, None],
            [None, None, None, None],
            [None, None, "Review", "Stars"],
            [None, None, "good", 5.0],
            [None, None, None, True],
        ],
        "Empty": [],
    }


def test_text_excel_would_turn_into_something_else_is_written_as_text() -> None:
    book = make_book({"Out": []})
    texts = ["=1+1", "0012", "TRUE", "1e5", "+44 20 7946", "-1", "@me", "'quoted", "3 stars", "ok"]
    with backend(book) as excel:
        excel.write([CellBlock("Out", 1, 1, [[t] for t in texts])])
        excel.commit()
    assert book.sheets["Out"].range("A1").expand("down").value == texts
    assert book.sheets["Out"].formulas == {}


def test_a_commit_merges_blocks_into_few_range_assignments_and_keeps_holes() -> None:
    book = make_book({"Out": [["keep", None, None, "keep"]]})
    book.app.assignments.clear()
    with backend(book) as excel:
        excel.write([CellBlock("Out", r, 2, [[f"b{r}", f"c{r}"]]) for r in range(2, 102)])
        excel.write([CellBlock("Out", 1, 2, [["B", "C"]]), CellBlock("Out", 50, 3, [["again"]])])
        assert book.app.assignments == [], "nothing lands before commit"
        excel.commit()
    assert book.app.assignments == [("Out", 1, 2, 101, 2)]
    values = book.sheets["Out"].used_range.options(ndim=2).value
    assert values[0] == ["keep", "B", "C", "keep"]
    assert values[49][1:3] == ["b50", "again"]
    assert values[100][1:3] == ["b101", "c101"]


def test_new_sheets_go_last_and_the_user_keeps_the_sheet_they_were_on() -> None:
    book = feedback_book()
    book.sheets["sheetai"].activate()
    with backend(book) as excel:
        excel.add_sheet("_state", hidden=True)
        excel.add_sheet("log")
        assert excel.sheet_titles() == ["Feedback", "sheetai", "_state", "log"]
        assert [s.name for s in book.sheets] == ["Feedback", "sheetai"], "buffered until commit"
        excel.commit()
    assert [s.name for s in book.sheets] == ["Feedback", "sheetai", "_state", "log"]
    assert book.sheets.active.name == "sheetai"
    assert not book.sheets["_state"].visible and book.sheets["log"].visible


def test_excel_refusing_a_write_is_a_workbook_error_that_says_what_to_do() -> None:
    book = feedback_book()
    book.app.busy = True
    excel = backend(book)
    excel.write([CellBlock("Feedback", 1, 3, [["x"]])])
    with pytest.raises(
        WorkbookError, match=r"excel:Feedback\.xlsx: Excel refused .*press Enter or Esc"
    ):
        excel.commit()


def insert_row(book: Book, sheet: str, before: int, values: list[Any]) -> None:
    """What Excel's Insert ▸ Sheet Rows does: shift rows down, fill the new one."""
    target = book.sheets[sheet]
    target.cells = {((r + 1 if r >= before else r), c): v for (r, c), v in target.cells.items()}
    target.range((before, 1)).value = [values]


def test_a_row_inserted_in_excel_costs_only_that_row() -> None:
    book = feedback_book()
    with backend(book) as excel:
        first = sync(excel, Settings(), SyncOptions())
    assert first.total("processed") == len(REVIEWS)
    assert not book.sheets[STATE_TAB].visible
    first_writes = sorted(a[0] for a in book.app.assignments)
    insert_row(book, "Feedback", 4, [99, "Thank you so much, it works perfectly!"])
    book.app.assignments.clear()
    with backend(book) as excel:
        second = sync(excel, Settings(), SyncOptions())
    assert second.total("processed") == 1
    assert second.total("skipped_unchanged") == len(REVIEWS)
    rows = book.sheets["Feedback"].used_range.options(ndim=2).value
    assert rows[0][2:6] == [
        "Sentiment",
        "Sentiment reasoning",
        "Sentiment confidence",
        "Sentiment flag",
    ]
    assert rows[3][2] in {"Positive", "Neutral", "Negative"}
    feedback_writes = [a for a in book.app.assignments if a[0] == "Feedback"]
    assert feedback_writes == [("Feedback", 4, 3, 1, 4)], "only the inserted row's outputs"
    assert first_writes == ["Feedback", "_sheetai_state", "sheetai log"], "one assignment each"


def test_error_values_are_read_as_errors_and_their_rows_flagged_not_run() -> None:
    book = feedback_book()
    sheet = book.sheets["Feedback"]
    sheet.show_error(3, 2, "#N/A")  # xlwings reads it as None unless asked for err_to_str
    summary = sync(backend(book), Settings(), SyncOptions())
    assert (summary.steps[0].input_errors, summary.steps[0].blank_inputs) == (1, 0)
    header = [sheet.cells.get((1, c)) for c in range(1, 7)]
    flag = header.index("Sentiment flag") + 1
    assert sheet.cells.get((3, flag)) == "ERROR: input Review is #N/A"
    assert sheet.cells.get((3, header.index("Sentiment") + 1)) is None
    assert sheet.cells.get((2, header.index("Sentiment") + 1)) in {
        "Positive",
        "Neutral",
        "Negative",
    }
