"""The sync engine end to end on real .xlsx files with the embedded model."""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table

from sheetai import Settings, SyncOptions, sync
from sheetai.backends.xlsx import XlsxBackend
from sheetai.engine.runlog import LOG_HEADERS
from sheetai.errors import WorkbookLockedError
from sheetai.state import STATE_TAB

from .conftest import REVIEWS, column, make_workbook, read_sheet, sentiment_step

LABELS = {"Positive", "Neutral", "Negative"}


def run(path: Path, **options: object):
    with XlsxBackend(path) as backend:
        return sync(backend, Settings(), SyncOptions(**options))  # type: ignore[arg-type]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_first_run_writes_result_reasoning_confidence_and_flag(feedback_book: Path) -> None:
    summary = run(feedback_book)
    assert summary.total("processed") == len(REVIEWS)
    rows = read_sheet(feedback_book)
    assert rows[0][2:] == [
        "Sentiment",
        "Sentiment reasoning",
        "Sentiment confidence",
        "Sentiment flag",
    ]
    assert set(column(rows, "Sentiment")) <= LABELS
    assert all(0 <= c <= 1 for c in column(rows, "Sentiment confidence"))
    assert all(r.startswith("Chose ") for r in column(rows, "Sentiment reasoning"))
    for confidence, flag in zip(
        column(rows, "Sentiment confidence"), column(rows, "Sentiment flag"), strict=True
    ):
        assert flag == ("LOW_CONFIDENCE" if confidence < 0.5 else None)
    book = openpyxl.load_workbook(feedback_book)
    assert book[STATE_TAB].sheet_state == "hidden"
    log = [list(r) for r in book["sheetai log"].iter_rows(values_only=True)]
    assert log[0][:6] == ["When (UTC)", "Step", "Sheet", "Model", "Planned", "Processed"]
    assert log[1][1:6] == ["sentiment", "Feedback", "local", 8, 8]


def test_obvious_reviews_get_the_obvious_label(feedback_book: Path) -> None:
    run(feedback_book)
    labels = column(read_sheet(feedback_book), "Sentiment")
    assert labels[0] == "Positive"  # "Absolutely love it ..."
    assert labels[3] == "Negative"  # "Worst purchase ever ..."


def test_a_second_run_with_no_change_pays_nothing_and_leaves_the_file_alone(
    feedback_book: Path,
) -> None:
    run(feedback_book)
    before = digest(feedback_book)
    modified = feedback_book.stat().st_mtime_ns
    folder = sorted(feedback_book.parent.iterdir())
    summary = run(feedback_book)
    assert summary.total("processed") == 0
    assert summary.total("skipped_unchanged") == len(REVIEWS)
    assert summary.steps[0].model_calls == 0
    # Not saved again, not even unchanged: the file keeps its bytes and its time.
    assert digest(feedback_book) == before
    assert feedback_book.stat().st_mtime_ns == modified
    assert sorted(feedback_book.parent.iterdir()) == folder


def test_only_changed_rows_run_and_human_edits_are_kept(feedback_book: Path) -> None:
    run(feedback_book)
    book = openpyxl.load_workbook(feedback_book)
    sheet = book["Feedback"]
    sheet["B3"] = "Fantastic, thank you so much, I love the new app!"  # changed input
    sheet["C5"] = "Neutral"  # a person corrects row 5's answer
    book.save(feedback_book)

    summary = run(feedback_book)
    step = summary.steps[0]
    assert (step.processed, step.changed, step.kept_human_edits) == (1, 1, 1)
    rows = read_sheet(feedback_book)
    assert rows[2][2] == "Positive"
    assert rows[4][2] == "Neutral"

    forced = run(feedback_book, force=True)
    assert forced.steps[0].processed == len(REVIEWS)
    assert read_sheet(feedback_book)[4][2] != "Neutral"


def test_inserted_deleted_and_sorted_rows_keep_their_own_results(feedback_book: Path) -> None:
    run(feedback_book)
    rows = read_sheet(feedback_book)
    answers = {r[1]: r[2:6] for r in rows[1:]}
    reordered = [rows[0], *sorted(rows[2:], key=lambda r: str(r[1]), reverse=True)]
    reordered.insert(3, [99, "Brilliant experience, thank you!", None, None, None, None])
    book = openpyxl.load_workbook(feedback_book)
    sheet = book["Feedback"]
    sheet.delete_rows(1, sheet.max_row)
    for row in reordered:
        sheet.append(row)
    book.save(feedback_book)

    summary = run(feedback_book)
    assert summary.steps[0].processed == 1
    assert summary.steps[0].new == 1
    assert summary.steps[0].skipped_unchanged == len(REVIEWS) - 1
    for row in read_sheet(feedback_book)[1:]:
        if row[0] != 99:
            assert row[2:6] == answers[row[1]]


def test_identical_inputs_are_sent_once_and_copies_are_filled_free(tmp_path: Path) -> None:
    data = [["Review"], ["Great shop!"], ["Great shop!"], ["Awful service."], ["Great shop!  "]]
    path = make_workbook(tmp_path / "dups.xlsx", data, [sentiment_step()])
    summary = run(path)
    assert summary.steps[0].model_calls == 2
    assert summary.steps[0].processed == 4
    book = openpyxl.load_workbook(path)
    book["Feedback"].append(["Awful service."])
    book["Feedback"]["B2"] = None  # a person clears an answer: refilled from state, free
    book.save(path)
    again = run(path)
    assert again.steps[0].model_calls == 0
    assert again.steps[0].filled_from_state == 2
    rows = read_sheet(path)
    assert rows[5][1] == rows[3][1]
    assert rows[1][1] == rows[2][1]


def test_editing_the_instructions_reruns_the_step(feedback_book: Path) -> None:
    run(feedback_book)
    book = openpyxl.load_workbook(feedback_book)
    book["sheetai"]["E2"] = "Classify the sentiment. Sarcasm counts as negative."
    book["sheetai"]["I2"] = 0.9  # the threshold alone re-flags without re-running
    book.save(feedback_book)
    assert run(feedback_book).steps[0].changed == len(REVIEWS)


def test_a_run_log_from_an_older_release_gets_the_new_columns(feedback_book: Path) -> None:
    run(feedback_book)
    book = openpyxl.load_workbook(feedback_book)
    log = book["sheetai log"]
    old_width = LOG_HEADERS.index("Status") + 1
    log.delete_cols(old_width + 1, log.max_column)  # as an older sheetai wrote it
    book["Feedback"]["B2"] = "Changed: the box arrived crushed"
    book.save(feedback_book)
    run(feedback_book)
    rows = list(openpyxl.load_workbook(feedback_book)["sheetai log"].iter_rows(values_only=True))
    assert list(rows[0]) == LOG_HEADERS
    assert rows[1][old_width:] == (None,) * (len(LOG_HEADERS) - old_width)
    latest = dict(zip(LOG_HEADERS, rows[2], strict=True))
    assert latest["Processed"] == 1 and latest["Rows/s"] > 0


def test_moving_the_threshold_only_reflags(feedback_book: Path) -> None:
    run(feedback_book)
    book = openpyxl.load_workbook(feedback_book)
    book["sheetai"]["I2"] = 1  # no answer of the embedded model reaches it
    book.save(feedback_book)
    summary = run(feedback_book)
    assert summary.steps[0].model_calls == 0
    assert set(column(read_sheet(feedback_book), "Sentiment flag")) == {"LOW_CONFIDENCE"}


def test_dry_run_plans_and_writes_nothing(feedback_book: Path) -> None:
    before = digest(feedback_book)
    summary = run(feedback_book, dry_run=True)
    assert summary.dry_run and summary.total("planned") == len(REVIEWS)
    assert digest(feedback_book) == before


def test_a_locked_workbook_is_refused_before_any_work(feedback_book: Path) -> None:
    lock = feedback_book.with_name("~$" + feedback_book.name)
    lock.write_text("owner")
    before = digest(feedback_book)
    with pytest.raises(WorkbookLockedError, match="open in Excel"):
        run(feedback_book)
    assert digest(feedback_book) == before


def test_formulas_formatting_tables_and_validation_survive(tmp_path: Path) -> None:
    path = tmp_path / "rich.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Feedback"
    sheet.append(["Review", "Stars", "Double"])
    for i, text in enumerate(REVIEWS[:4], start=2):
        sheet.append([text, i, f"=B{i}*2"])
    for cell in sheet[1]:
        cell.font = openpyxl.styles.Font(bold=True, color="FF0000")
    sheet.add_table(Table(displayName="Reviews", ref="A1:C5"))
    validation = DataValidation(type="whole", operator="between", formula1="1", formula2="5")
    sheet.add_data_validation(validation)
    validation.add("B2:B5")
    config = book.create_sheet("sheetai")
    from .conftest import CONFIG_HEADER

    config.append(CONFIG_HEADER)
    config.append(sentiment_step())
    book.save(path)

    run(path)
    book = openpyxl.load_workbook(path)
    sheet = book["Feedback"]
    assert sheet["C3"].value == "=B3*2"
    assert sheet["A1"].font.bold and sheet["A1"].font.color.rgb == "00FF0000"
    assert "Reviews" in sheet.tables
    assert str(sheet.data_validations.dataValidation[0].sqref) == "B2:B5"
    assert sheet["D1"].value == "Sentiment" and sheet["D1"].font.bold


def test_uncomputed_formula_inputs_are_skipped_not_blanked(tmp_path: Path) -> None:
    data = [["Text", "Review"], ["Love it", "=A2"], ["Hate it", "plain text review, all good"]]
    path = make_workbook(tmp_path / "formula.xlsx", data, [sentiment_step()])
    summary = run(path)
    assert summary.steps[0].unreadable_inputs == 1
    assert summary.steps[0].processed == 1


def test_answers_starting_with_equals_are_written_as_text(tmp_path: Path) -> None:
    labels = "=cmd: asks to run a command\nplain: anything else"
    data = [["Review"], ["please run the command"], ["a sunny day at the beach"]]
    step = sentiment_step(Labels=labels, Examples="run this command now => =cmd")
    path = make_workbook(tmp_path / "eq.xlsx", data, [step])
    run(path)
    with zipfile.ZipFile(path) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    answers = re.findall(r'<c r="B\d+"[^>]*>(.*?)</c>', sheet_xml)
    assert answers and not any("<f>" in a for a in answers)
    assert column(read_sheet(path), "Sentiment")[0] == "=cmd"


def test_a_pipeline_reruns_downstream_only_where_upstream_changed(feedback_book: Path) -> None:
    escalate = sentiment_step(
        Step="escalate",
        Input="Review, Sentiment",
        Labels="Escalate: an angry customer who needs a call\nNo: nothing to do",
        Output="Escalate",
        Examples="",
    )
    book = openpyxl.load_workbook(feedback_book)
    book["sheetai"].append(escalate)
    book.save(feedback_book)
    first = run(feedback_book)
    assert [s.step for s in first.steps] == ["sentiment", "escalate"]
    assert first.steps[1].processed == len(REVIEWS)

    book = openpyxl.load_workbook(feedback_book)
    book["Feedback"]["B2"] = "Horrible, broken, I am furious and want my money back."
    book.save(feedback_book)
    second = run(feedback_book)
    assert second.steps[0].processed == 1
    assert second.steps[1].processed == 1


def test_gold_labels_teach_the_embedded_model(tmp_path: Path) -> None:
    fruit = ["apple pie recipe", "fresh banana bread", "cherry jam on toast", "mango smoothie"]
    cars = [
        "diesel engine repair",
        "new tyres for my truck",
        "brake pads replaced",
        "oil change at the garage",
    ]
    rows = [["Text", "Kind (gold)"]]
    rows += [[t, "Zork"] for t in fruit[:3]] + [[t, "Blip"] for t in cars[:3]]
    rows += [[fruit[3], None], [cars[3], None]]
    step = sentiment_step(
        Input="Text", Labels="Zork, Blip", Output="Kind", Examples="", Instructions=""
    )
    path = make_workbook(tmp_path / "gold.xlsx", rows, [step])
    run(path)
    kinds = column(read_sheet(path), "Kind")
    assert kinds[-2:] == ["Zork", "Blip"]


def test_not_an_xlsx_file_is_a_clear_error(tmp_path: Path) -> None:
    from sheetai.errors import WorkbookError

    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(WorkbookError, match="save it as .xlsx"):
        XlsxBackend(tmp_path / "data.csv")
    (tmp_path / "fake.xlsx").write_text("not a zip")
    with pytest.raises(WorkbookError, match="cannot be read as an Excel workbook"):
        run(tmp_path / "fake.xlsx")
