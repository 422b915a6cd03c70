"""Safe inputs end to end on real .xlsx files: error values, merged output cells, lock files,
and inputs shown to the model as the sheet shows them, all decided before any model call."""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from sheetai import Settings, SyncOptions, sync
from sheetai.backends.xlsx import XlsxBackend
from sheetai.errors import WorkbookError, WorkbookLockedError
from sheetai.providers.base import Estimate, Provider, RowInput, RowResult, RunOptions
from sheetai.steps import Example, Step

from .conftest import column, make_workbook, read_sheet, sentiment_step
from .test_cli import sheetai


class Recorder(Provider):
    """Answers every row with the step's first label and keeps the text of each row asked."""

    model = "recorder"

    def __init__(self) -> None:
        self.texts: list[str] = []

    def check(self, step: Step) -> None:
        return None

    def estimate(self, step: Step, rows: Sequence[RowInput]) -> Estimate:
        return Estimate(tokens=10 * len(rows))

    def run(
        self,
        step: Step,
        rows: Sequence[RowInput],
        training: Sequence[Example],
        options: RunOptions,
    ) -> Iterator[RowResult]:
        for row in rows:
            self.texts.append(row.text)
            yield RowResult(row.key, [step.label_names[0]], "recorded", confidence=0.9)


def run(path: Path, recorder: Recorder, **options: object):
    with XlsxBackend(path) as backend:
        return sync(
            backend,
            Settings(),
            SyncOptions(**options),  # type: ignore[arg-type]
            provider_for=lambda model, settings: recorder,
        )


def with_cached_errors(path: Path, results: dict[str, str]) -> Path:
    """Store error results of formulas as Excel does (``t="e"``); openpyxl cannot write them."""
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    for ref, error in results.items():
        xml, count = re.subn(
            rf'<c r="{ref}"[^>]*><f>(.*?)</f>(?:<v\s*/>|<v>\s*</v>)?</c>',
            lambda m, e=error, ref=ref: f'<c r="{ref}" t="e"><f>{m.group(1)}</f><v>{e}</v></c>',
            xml,
        )
        assert count == 1, ref
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def error_book(tmp_path: Path) -> Path:
    data = [
        ["ID", "Review"],
        [1, "Love it, thank you"],
        [2, "=NA()"],
        [3, "=1/0"],
        [4, "Broken on arrival"],
    ]
    path = make_workbook(tmp_path / "errors.xlsx", data, [sentiment_step()])
    return with_cached_errors(path, {"B3": "#N/A", "B4": "#DIV/0!"})


def test_error_inputs_get_a_flag_naming_the_error_and_no_model_call(error_book: Path) -> None:
    recorder = Recorder()
    summary = run(error_book, recorder)
    assert recorder.texts == ["Love it, thank you", "Broken on arrival"]
    rows = read_sheet(error_book)
    assert column(rows, "Sentiment") == ["Positive", None, None, "Positive"]
    assert column(rows, "Sentiment confidence") == [0.9, None, None, 0.9]
    assert column(rows, "Sentiment flag") == [
        None,
        "ERROR: input Review is #N/A",
        "ERROR: input Review is #DIV/0!",
        None,
    ]
    step = summary.steps[0]
    assert (step.processed, step.input_errors, step.model_calls) == (2, 2, 2)
    assert summary.to_json()["input_errors"] == 2
    assert any("2 rows skipped because an input cell shows an error" in m for m in summary.messages)


def test_a_row_whose_error_is_fixed_runs_on_the_next_sync(error_book: Path) -> None:
    run(error_book, Recorder())
    book = openpyxl.load_workbook(error_book)
    book["Feedback"]["B3"] = "Terrible, nobody answers"  # the person fixes the #N/A row
    book.save(error_book)
    with_cached_errors(error_book, {"B4": "#DIV/0!"})  # as Excel would save it again

    recorder = Recorder()
    summary = run(error_book, recorder)
    assert recorder.texts == ["Terrible, nobody answers"]
    assert (summary.steps[0].processed, summary.steps[0].input_errors) == (1, 1)
    rows = read_sheet(error_book)
    assert column(rows, "Sentiment")[1] == "Positive"
    assert column(rows, "Sentiment flag")[1:3] == [None, "ERROR: input Review is #DIV/0!"]


@pytest.fixture
def merged_book(tmp_path: Path) -> Path:
    path = tmp_path / "merged.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Feedback"
    for row in [["ID", "Review", "Sentiment"], [1, "great"], [2, "awful"], [3, "fine"]]:
        sheet.append(row)
    sheet.merge_cells("C3:C4")
    config = book.create_sheet("sheetai")
    config.append(["Step", "Sheet", "Input", "Task", "Labels", "Output", "Model"])
    config.append(
        ["sentiment", "Feedback", "Review", "classify", "Good, Bad", "Sentiment", "local"]
    )
    book.save(path)
    return path


def test_a_merged_output_area_is_refused_before_any_model_call(merged_book: Path) -> None:
    before = digest(merged_book)
    recorder = Recorder()
    with pytest.raises(WorkbookError) as info:
        run(merged_book, recorder)
    assert str(info.value) == (
        "Feedback!C3:C4 is merged, and step 'sentiment' needs to write there (column "
        "'Sentiment'). Unmerge those cells (or move that column away from them), then run "
        "again; nothing was written and no model was called."
    )
    assert recorder.texts == []
    assert digest(merged_book) == before

    with pytest.raises(WorkbookError, match=r"C3:C4 is merged"):
        run(merged_book, recorder, dry_run=True)
    assert recorder.texts == []


def test_merged_cells_the_sync_does_not_write_are_fine(merged_book: Path) -> None:
    book = openpyxl.load_workbook(merged_book)
    book["Feedback"].unmerge_cells("C3:C4")
    book["Feedback"].merge_cells("A6:B7")  # a note below the table
    book.save(merged_book)
    assert run(merged_book, Recorder()).steps[0].processed == 3


def test_dry_run_exits_2_with_the_merged_range_and_writes_nothing(merged_book: Path) -> None:
    before = digest(merged_book)
    result = sheetai("run", str(merged_book), "--dry-run")
    assert result.returncode == 2
    assert "Feedback!C3:C4 is merged" in result.stderr and "Unmerge" in result.stderr
    assert "Traceback" not in result.stderr
    assert digest(merged_book) == before


def test_a_locked_file_warns_in_a_dry_run_and_stops_a_run_before_any_model_call(
    tmp_path: Path,
) -> None:
    path = make_workbook(
        tmp_path / "locked.xlsx", [["Review"], ["great"], ["awful"]], [sentiment_step()]
    )
    (tmp_path / "~$locked.xlsx").write_text("Excel's lock")
    recorder = Recorder()
    planned = run(path, recorder, dry_run=True)
    assert planned.steps[0].planned == 2
    assert any(
        m.startswith("warning: ") and "is open in Excel" in m and "before any model call" in m
        for m in planned.messages
    )
    with pytest.raises(WorkbookLockedError):
        run(path, recorder)
    assert recorder.texts == []


def test_inputs_are_shown_to_the_model_as_the_sheet_shows_them(tmp_path: Path) -> None:
    path = tmp_path / "formats.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Orders"
    sheet.append(["When", "Amount", "Share", "Paid", "Note"])
    sheet.append([datetime(2024, 1, 5), 1234.5, 0.125, True, 0.30000000000000004])
    sheet.append([datetime(2024, 3, 9, 14, 30), 99, 1, False, "ok"])
    for row in (2, 3):
        sheet.cell(row, 1).number_format = "d-mmm-yy"
        sheet.cell(row, 2).number_format = '"$"#,##0.00'
        sheet.cell(row, 3).number_format = "0.0%"
    sheet.cell(3, 1).number_format = "dd/mm/yyyy hh:mm"
    config = book.create_sheet("sheetai")
    config.append(["Step", "Sheet", "Input", "Task", "Labels", "Output", "Model"])
    config.append(
        ["risk", "Orders", "When, Amount, Share, Paid, Note", "classify", "Low, High", "Risk", "x"]
    )
    book.save(path)

    recorder = Recorder()
    run(path, recorder)
    assert recorder.texts == [
        "When: 5-Jan-24\nAmount: $1,234.50\nShare: 12.5%\nPaid: TRUE\nNote: 0.3",
        "When: 09/03/2024 14:30\nAmount: $99.00\nShare: 100.0%\nPaid: FALSE\nNote: ok",
    ]

    # Re-formatting a column changes no fingerprint: nothing runs again.
    book = openpyxl.load_workbook(path)
    for row in (2, 3):
        book["Orders"].cell(row, 3).number_format = "0%"
    book.save(path)
    again = Recorder()
    summary = run(path, again)
    assert again.texts == []
    assert summary.steps[0].skipped_unchanged == 2


def test_edit_marks_clear_on_rows_that_do_not_run_and_give_way_to_answers(tmp_path: Path) -> None:
    """The Sheets add-on marks edited rows PENDING; a row retyped unchanged does not run, so the
    sync gives it its own flag back, and an edited row's answer replaces the mark."""
    data = [["ID", "Review"], [1, "Love it"], [2, "Broken on arrival"], [3, "Fine"]]
    path = make_workbook(
        tmp_path / "marks.xlsx", data, [sentiment_step(**{"Min confidence": 0.95})]
    )
    run(path, Recorder())
    assert column(read_sheet(path), "Sentiment flag") == ["LOW_CONFIDENCE"] * 3
    book = openpyxl.load_workbook(path)
    sheet = book["Feedback"]
    headers = [c.value for c in sheet[1]]
    flag = headers.index("Sentiment flag") + 1
    sheet.cell(2, 2).value = "Love it"  # retyped as it was
    sheet.cell(3, 2).value = "Broken on arrival, and late"  # really edited
    sheet.cell(2, flag).value = "PENDING"
    sheet.cell(3, flag).value = "PENDING"
    sheet.cell(4, flag).value = "ERROR: sync not requested: the service answered 401"
    book.save(path)

    recorder = Recorder()
    run(path, recorder)
    assert recorder.texts == ["Broken on arrival, and late"]
    assert column(read_sheet(path), "Sentiment flag") == ["LOW_CONFIDENCE"] * 3
