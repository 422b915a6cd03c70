"""The plan stage: what a run will do and cost, and refusals before any model is called."""

from __future__ import annotations

import pytest

from sheetai import Settings, SyncOptions, sync
from sheetai.backends.base import CellRange
from sheetai.errors import WorkbookError

from .engine_fakes import FakeProvider, memory_book, providers


def test_a_dry_run_counts_and_prices_the_rows_and_writes_nothing() -> None:
    backend = memory_book(["great", "bad", "great", None])
    provider = FakeProvider()
    summary = sync(backend, Settings(), SyncOptions(dry_run=True), provider_for=providers(provider))
    step = summary.steps[0]
    assert summary.status == "dry-run" and step.status == "planned"
    assert (step.planned, step.new, step.blank_inputs) == (3, 3, 1)
    assert step.estimated_cost_usd == pytest.approx(0.02)  # two distinct inputs
    assert provider.asked == [] and backend.commits == 0


def test_a_write_into_merged_cells_is_refused_before_any_model_call() -> None:
    backend = memory_book(["great", "bad"])
    backend.sheets["Feedback"][0] += ["Sentiment"]
    backend.merged["Feedback"] = [CellRange(2, 3, 3, 3)]
    provider = FakeProvider()
    with pytest.raises(WorkbookError, match=r"Feedback!C2:C3 is merged.*column 'Sentiment'"):
        sync(backend, Settings(), provider_for=providers(provider))
    assert provider.asked == []


def test_answers_nobody_remembers_are_kept_with_a_warning() -> None:
    backend = memory_book(["great"])
    backend.sheets["Feedback"][0] += ["Sentiment"]
    backend.sheets["Feedback"][1] += ["Negative"]
    summary = sync(backend, Settings(), provider_for=providers(FakeProvider()))
    assert summary.steps[0].kept_human_edits == 1
    assert any("no record of" in m for m in summary.messages)
