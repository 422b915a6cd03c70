"""`sheetai run --preview N` and `--only-flagged` (the engine's side of quality control)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from typer.testing import CliRunner

from sheetai.backends.xlsx import XlsxBackend
from sheetai.cli import app
from sheetai.engine.sync import SyncOptions, sync

from .conftest import REVIEWS, column, make_workbook, read_sheet, sentiment_step

runner = CliRunner()


def test_preview_runs_only_the_first_rows_and_reports_them(feedback_book: Path) -> None:
    with XlsxBackend(feedback_book) as backend:
        summary = sync(backend, options=SyncOptions(preview=3))
    (step,) = summary.steps
    assert step.processed == 3 and step.planned == 3
    assert [p["row"] for p in step.preview] == [2, 3, 4]
    for entry, text in zip(step.preview, REVIEWS[:3], strict=True):
        assert entry["input"] == text
        assert entry["result"] in {"Positive", "Neutral", "Negative"}
        assert 0 <= entry["confidence"] <= 1 and entry["reasoning"].startswith("Chose ")
    rows = read_sheet(feedback_book)
    answers = column(rows, "Sentiment")
    assert all(a is not None for a in answers[:3]) and answers[3:] == [None] * 5
    # the rest is still to do, and the previewed rows are not paid for again
    with XlsxBackend(feedback_book) as backend:
        summary = sync(backend)
    assert summary.steps[0].processed == 5 and summary.steps[0].skipped_unchanged == 3


def test_preview_counts_identical_inputs_once(tmp_path: Path) -> None:
    data = [["ID", "Review"], [1, "same words"], [2, "same words"], [3, "other"], [4, "third"]]
    path = make_workbook(tmp_path / "dup.xlsx", data, [sentiment_step()])
    with XlsxBackend(path) as backend:
        summary = sync(backend, options=SyncOptions(preview=2))
    assert summary.steps[0].processed == 3  # two unique inputs, three rows
    assert len(summary.steps[0].preview) == 2


def test_run_preview_prints_a_table(feedback_book: Path) -> None:
    result = runner.invoke(app, ["run", str(feedback_book), "--preview", "2"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Preview of step 'sentiment'" in out
    for header in ("Input", "Result", "Confidence", "Reasoning"):
        assert header in out
    assert REVIEWS[0][:20] in out and REVIEWS[2][:20] not in out


def _flagged_book(tmp_path: Path) -> Path:
    # The embedded model never claims certainty, so a threshold of 1 flags every row.
    data = [["ID", "Review"], *[[i + 1, t] for i, t in enumerate(REVIEWS)]]
    return make_workbook(tmp_path / "flag.xlsx", data, [sentiment_step(**{"Min confidence": 1})])


def test_only_flagged_reruns_just_the_flagged_rows(tmp_path: Path) -> None:
    path = _flagged_book(tmp_path)
    with XlsxBackend(path) as backend:
        first = sync(backend)
    assert first.steps[0].flagged == len(REVIEWS)
    rows = read_sheet(path)
    flags = column(rows, "Sentiment flag")
    assert set(flags) == {"LOW_CONFIDENCE"}
    # A person clears two flags (they checked those rows): only the others re-run.
    book = openpyxl.load_workbook(path)
    sheet = book["Feedback"]
    flag_col = rows[0].index("Sentiment flag") + 1
    sheet.cell(row=2, column=flag_col).value = None
    sheet.cell(row=3, column=flag_col).value = None
    book.save(path)
    with XlsxBackend(path) as backend:
        summary = sync(backend, options=SyncOptions(only_flagged=True))
    step = summary.steps[0]
    assert step.planned == len(REVIEWS) - 2 and step.processed == len(REVIEWS) - 2
    assert column(read_sheet(path), "Sentiment flag")[:2] == [None, None]


def test_only_flagged_on_a_sheet_without_flags_runs_nothing(feedback_book: Path) -> None:
    with XlsxBackend(feedback_book) as backend:
        sync(backend, options=SyncOptions())
    before = feedback_book.stat().st_mtime_ns
    flagged = [f for f in column(read_sheet(feedback_book), "Sentiment flag") if f]
    with XlsxBackend(feedback_book) as backend:
        summary = sync(backend, options=SyncOptions(only_flagged=True))
    assert summary.steps[0].planned == len(flagged)
    if not flagged:
        assert feedback_book.stat().st_mtime_ns == before


def test_only_flagged_with_another_model_is_the_cascade(tmp_path: Path) -> None:
    path = _flagged_book(tmp_path)
    with XlsxBackend(path) as backend:
        sync(backend)
    # 'offline' names the embedded model too: a "stronger model" that needs no network.
    with XlsxBackend(path) as backend:
        summary = sync(backend, options=SyncOptions(only_flagged=True, model="offline"))
    assert summary.steps[0].planned == len(REVIEWS)
    assert summary.steps[0].model == "offline"
    # The stronger model's answers now stand for the step: a plain run keeps them.
    with XlsxBackend(path) as backend:
        again = sync(backend)
    assert again.steps[0].processed == 0
    assert again.steps[0].skipped_unchanged == len(REVIEWS)
