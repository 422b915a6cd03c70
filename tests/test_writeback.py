"""Write-back: answers already paid for are written again for free, flags follow the threshold,
and the state tab always vouches for what the sheet holds."""

from __future__ import annotations

from sheetai import Settings, SyncOptions, sync
from sheetai.cell_values import CellError
from sheetai.state import STATE_TAB, StateStore

from .engine_fakes import FakeProvider, memory_book, providers


def _column(backend, col: int) -> list:
    return [r[col - 1] if len(r) >= col else None for r in backend.sheets["Feedback"][1:]]


def _flags(backend) -> list:
    return _column(backend, 6)


def test_a_cleared_answer_is_written_again_from_the_state_without_a_model_call() -> None:
    backend = memory_book(["great", "bad"])
    sync(backend, Settings(), provider_for=providers(FakeProvider()))
    backend.sheets["Feedback"][2][2:6] = [None, None, None, None]
    provider = FakeProvider()
    summary = sync(backend, Settings(), provider_for=providers(provider))
    assert provider.asked == []
    assert backend.sheets["Feedback"][2][2:6] == ["Negative", "says bad", 0.3, "LOW_CONFIDENCE"]
    assert summary.steps[0].filled_from_state == 1


def test_moving_min_confidence_reflags_without_asking_again() -> None:
    backend = memory_book(["great", "bad"])
    sync(backend, Settings(), provider_for=providers(FakeProvider()))
    assert _flags(backend) == [None, "LOW_CONFIDENCE"]
    backend.sheets["sheetai"][1][8] = 0.95  # Min confidence
    provider = FakeProvider()
    summary = sync(backend, Settings(), provider_for=providers(provider))
    assert provider.asked == [] and summary.steps[0].reflagged == 1
    assert _flags(backend) == ["LOW_CONFIDENCE", "LOW_CONFIDENCE"]


def test_an_input_error_is_flagged_and_the_state_matches_the_sheet() -> None:
    backend = memory_book(["great", CellError("#N/A")])
    summary = sync(backend, Settings(), provider_for=providers(FakeProvider()))
    assert _flags(backend) == [None, "ERROR: input Review is #N/A"]
    assert summary.steps[0].input_errors == 1
    records = StateStore.from_grid(backend.sheets[STATE_TAB]).for_step("sentiment")
    assert [r.outputs.values for r in records.values()] == [["Positive"]]


def test_a_preview_writes_only_the_rows_it_asks() -> None:
    backend = memory_book(["great", "bad", CellError("#N/A")])
    sync(backend, Settings(), SyncOptions(preview=1), provider_for=providers(FakeProvider()))
    assert _column(backend, 3) == ["Positive", None, None]
    assert _flags(backend) == [None, None, None]
