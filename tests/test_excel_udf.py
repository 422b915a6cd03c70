"""=AICLASSIFY as an xlwings UDF, and the sync macro, run on Linux (xlwings' decorators do nothing
here) with the real embedded model and the real shared cache."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from sheetai import excel_udf
from sheetai.classify import ClassifyItem, ClassifyResult, classify_items
from sheetai.excel_udf import AICLASSIFY, AICLASSIFY_DETAIL, Batcher, sync_active_workbook
from sheetai.providers.base import Provider, RowInput, RowResult, RunOptions
from sheetai.providers.registry import get_provider
from sheetai.settings import Settings
from sheetai.steps import Example, Step

from .conftest import CONFIG_HEADER, REVIEWS, sentiment_step
from .excel_standin import make_book

LABELS = "Positive,Neutral,Negative"


class CountingProvider(Provider):
    """The real provider for a model, counting the rows it is asked to run."""

    def __init__(self, inner: Provider, runs: list[int]) -> None:
        self.inner, self.runs = inner, runs

    def check(self, step: Step) -> None:
        self.inner.check(step)

    def estimate(self, step: Step, rows: Sequence[RowInput]):  # type: ignore[no-untyped-def]
        return self.inner.estimate(step, rows)

    def run(
        self,
        step: Step,
        rows: Sequence[RowInput],
        training: Sequence[Example],
        options: RunOptions,
    ) -> Iterator[RowResult]:
        self.runs.append(len(rows))
        return self.inner.run(step, rows, training, options)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Route the UDFs through a fresh batcher whose model runs are counted."""
    counted: list[int] = []

    def classify(items: Sequence[ClassifyItem]) -> list[ClassifyResult]:
        return classify_items(
            items,
            Settings(),
            provider_for=lambda m, s: CountingProvider(get_provider(m, s), counted),
        )

    # A window wide enough that cells started together on a busy machine still share it.
    monkeypatch.setattr(excel_udf, "BATCHER", Batcher(window=0.5, classify=classify))
    return counted


def test_one_cell_gets_a_label_and_a_range_spills_one_label_per_row(runs: list[int]) -> None:
    assert AICLASSIFY("Absolutely love it, thank you!", LABELS) == "Positive"
    column = [[text] for text in REVIEWS[:4]] + [[None]]
    labels = AICLASSIFY(column, LABELS)
    assert len(labels) == 5 and labels[4] == [""]
    assert all(row[0] in {"Positive", "Neutral", "Negative"} for row in labels[:4])
    assert labels[1] == ["Negative"]
    assert runs == [1, 4], "the range is one model call; the empty row is not sent"
    assert excel_udf.BATCHER.calls == 2


def test_cells_recalculating_at_once_are_one_call(runs: list[int]) -> None:
    answers: dict[int, str] = {}
    together = threading.Barrier(len(REVIEWS))

    def cell(i: int) -> None:
        together.wait()  # as Excel recalculates a column: every cell asks at once
        answers[i] = AICLASSIFY(REVIEWS[i], LABELS)

    threads = [threading.Thread(target=cell, args=(i,)) for i in range(len(REVIEWS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == list(range(len(REVIEWS)))
    assert excel_udf.BATCHER.calls == 1
    assert runs == [len(REVIEWS)]


def test_recalculation_and_the_add_in_question_are_answered_from_the_cache(runs: list[int]) -> None:
    first = AICLASSIFY_DETAIL([[t] for t in REVIEWS], LABELS, "Customer reviews")
    again = AICLASSIFY_DETAIL(
        [[t] for t in REVIEWS], " Positive, Neutral ,Negative", "Customer reviews"
    )
    assert again == first
    assert runs == [len(REVIEWS)], "the second evaluation paid for nothing"
    # The same question through classify_items (what /v1/classify answers) is a cache hit too.
    item = ClassifyItem(text=REVIEWS[0], labels=LABELS.split(","), instructions="Customer reviews")
    assert classify_items([item])[0].cached


def test_detail_spills_label_confidence_and_reasoning(runs: list[int]) -> None:
    [[label, confidence, reasoning]] = AICLASSIFY_DETAIL(
        "Worst purchase ever, refund now.", [["Positive"], ["Negative"]]
    )
    assert label == "Negative"
    assert 0.5 < confidence <= 1
    assert "Negative" in reasoning


def test_bad_arguments_are_value_errors_with_a_message(runs: list[int]) -> None:
    assert AICLASSIFY("hi", None).startswith("#VALUE! labels missing")
    assert AICLASSIFY("hi", [[None], [""]]).startswith("#VALUE! labels missing")
    assert AICLASSIFY("hi", "Positive") == '#VALUE! need at least two labels, got only "Positive"'
    assert AICLASSIFY_DETAIL([["a"], ["b"]], "").startswith("#VALUE!")
    assert runs == []


def test_a_model_that_cannot_answer_is_na_with_the_reason(runs: list[int]) -> None:
    answer = AICLASSIFY("hello", LABELS, None, "no-such-model")
    assert answer.startswith("#N/A ")
    assert "no-such-model" in answer


def test_a_broken_home_is_an_na_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    monkeypatch.setenv("SHEETAI_HOME", str(not_a_folder))
    monkeypatch.setattr(excel_udf, "BATCHER", Batcher(window=0.01))
    [[first], [second]] = AICLASSIFY([["a"], ["b"]], LABELS)
    assert first == second
    assert first.startswith("#N/A sheetai: FileExistsError: ") and str(not_a_folder) in first


def test_a_slow_answer_times_out_and_is_cached_for_the_next_recalculation(
    monkeypatch: pytest.MonkeyPatch, runs: list[int]
) -> None:
    release, finished = threading.Event(), threading.Event()

    def slow(items: Sequence[ClassifyItem]) -> list[ClassifyResult]:
        release.wait(10)
        try:
            return classify_items(items, Settings())
        finally:
            finished.set()

    counting = excel_udf.BATCHER
    monkeypatch.setenv("SHEETAI_UDF_TIMEOUT_SECONDS", "0.2")
    monkeypatch.setattr(excel_udf, "BATCHER", Batcher(window=0.01, classify=slow))
    answer = AICLASSIFY("Thanks a lot, very happy!", LABELS)
    assert answer == (
        "#N/A no answer within 0.2 s; the answer is kept when it arrives: recalculate later (Ctrl+Alt+F9)"
    )
    release.set()
    assert finished.wait(10)
    monkeypatch.setattr(excel_udf, "BATCHER", counting)
    monkeypatch.setenv("SHEETAI_UDF_TIMEOUT_SECONDS", "60")
    assert AICLASSIFY("Thanks a lot, very happy!", LABELS) == "Positive"
    assert runs == [], "the late answer went to the cache"


def test_the_macro_syncs_the_workbook_and_reports_in_excel() -> None:
    book = make_book(
        {
            "Feedback": [["Review"], *[[r] for r in REVIEWS]],
            "sheetai": [CONFIG_HEADER, sentiment_step()],
        }
    )
    summary = sync_active_workbook(book)
    assert summary is not None and summary.total("processed") == len(REVIEWS)
    assert book.app.status_history[-1] == f"sheetai: sentiment {len(REVIEWS)}/{len(REVIEWS)} rows"
    assert book.app.status_bar is False, "the status bar is handed back to Excel"
    assert book.app.alerts[-1]["prompt"].startswith(f"{len(REVIEWS)} rows written")
    assert book.sheets["Feedback"].range("B1").value == "Sentiment"
    again = sync_active_workbook(book)
    assert again is not None and again.total("processed") == 0
    assert book.app.alerts[-1]["prompt"].startswith(f"{len(REVIEWS)} unchanged")


def test_the_macro_shows_a_config_error_and_selects_the_cell() -> None:
    book = make_book(
        {
            "Feedback": [["Review"], ["ok"]],
            "sheetai": [CONFIG_HEADER, sentiment_step(Input="Revew")],
        }
    )
    assert sync_active_workbook(book) is None
    alert = book.app.alerts[-1]
    assert alert["mode"] == "critical"
    assert "sheetai!C2" in alert["prompt"] and "Review" in alert["prompt"]
    assert book.sheets.active.name == "sheetai"
    assert book.selection == "sheetai!2,3"


def test_the_macro_outside_excel_says_it_needs_excel() -> None:
    from sheetai.errors import WorkbookError

    with pytest.raises(WorkbookError, match="needs Excel on Windows or macOS"):
        sync_active_workbook()
