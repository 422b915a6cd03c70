"""``--batch``: rows wait for a Batch API job, and a later run writes what it answered."""

from __future__ import annotations

import pytest

from sheetai import Settings, SyncOptions, sync
from sheetai.errors import ProviderError
from sheetai.state import STATE_TAB, StateStore

from .engine_fakes import FakeBatchProvider, FakeProvider, memory_book, providers

REVIEWS = ["great shop", "bad parcel", "great shop"]


def _column(backend, header: str) -> list:
    grid = backend.sheets["Feedback"]
    col = grid[0].index(header)
    return [row[col] if col < len(row) else None for row in grid[1:]]


def test_batched_rows_wait_then_a_later_run_writes_the_answers() -> None:
    backend = memory_book(REVIEWS)
    provider = FakeBatchProvider()
    first = sync(backend, Settings(), SyncOptions(batch=True), provider_for=providers(provider))

    assert first.steps[0].batch_ids == ["b1"]
    assert first.steps[0].batch_pending == 3
    assert provider.asked == []  # nothing answered row by row
    assert len(provider.submitted["b1"]) == 2  # identical inputs are sent once
    assert _column(backend, "Sentiment flag") == ["BATCH_PENDING"] * 3
    assert _column(backend, "Sentiment reasoning") == ["Waiting for batch b1"] * 3
    state = StateStore.from_grid(backend.sheets[STATE_TAB])
    assert state.extras["batches"] == [{"id": "b1", "step": "sentiment", "model": "fake"}]

    second = sync(backend, Settings(), provider_for=providers(provider))

    assert _column(backend, "Sentiment") == ["Positive", "Negative", "Positive"]
    assert _column(backend, "Sentiment flag") == [None, "LOW_CONFIDENCE", None]
    assert second.steps[0].processed == 3
    assert "batches" not in StateStore.from_grid(backend.sheets[STATE_TAB]).extras
    # Answered now: a third run has nothing to do.
    third = sync(backend, Settings(), provider_for=providers(provider))
    assert third.steps[0].skipped_unchanged == 3 and provider.asked == []


def test_a_row_the_batch_ended_without_is_asked_again_by_the_next_run() -> None:
    backend = memory_book(REVIEWS)
    provider = FakeBatchProvider(lose=["bad parcel"])
    sync(backend, Settings(), SyncOptions(batch=True), provider_for=providers(provider))
    summary = sync(backend, Settings(), provider_for=providers(provider))

    # Collected as a failure first, then retried row by row in the same run.
    assert summary.steps[0].failed == 1
    assert provider.asked == ["bad parcel"]
    assert _column(backend, "Sentiment") == ["Positive", "Negative", "Positive"]


def test_wait_polls_until_the_batch_ends() -> None:
    backend = memory_book(REVIEWS)
    provider = FakeBatchProvider(polls=3)
    summary = sync(
        backend,
        Settings(batch_poll_seconds=0),
        SyncOptions(batch=True, wait=True),
        provider_for=providers(provider),
    )

    assert _column(backend, "Sentiment") == ["Positive", "Negative", "Positive"]
    assert summary.steps[0].batch_pending == 0
    assert summary.steps[0].processed == 3


def test_batch_needs_a_provider_with_a_batch_api() -> None:
    backend = memory_book(REVIEWS)
    with pytest.raises(ProviderError, match="--batch needs a model with a Batch API"):
        sync(backend, Settings(), SyncOptions(batch=True), provider_for=providers(FakeProvider()))


def test_the_dry_run_of_a_batch_costs_half() -> None:
    backend = memory_book(REVIEWS)
    live = sync(
        backend, Settings(), SyncOptions(dry_run=True), provider_for=providers(FakeBatchProvider())
    )
    batch = sync(
        backend,
        Settings(),
        SyncOptions(dry_run=True, batch=True),
        provider_for=providers(FakeBatchProvider()),
    )
    assert batch.steps[0].estimated_cost_usd == pytest.approx(live.steps[0].estimated_cost_usd / 2)
