"""The per-day cap of automatic syncs: they spend what is left of today, then are refused."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from sheetai import Settings
from sheetai.engine.daily_cap import DailyCapReached, DailySpend, capped_sync
from sheetai.engine.sync import SyncOptions
from sheetai.providers.base import RowInput, RowResult, RunOptions
from sheetai.steps import Example, Step

from .engine_fakes import FakeProvider, answer, memory_book, providers

ROW_USD = 0.01


class PaidProvider(FakeProvider):
    """Charges a cent a row, through the run's budget as a real provider does."""

    def run(
        self, step: Step, rows: Sequence[RowInput], training: Sequence[Example],
        options: RunOptions,
    ) -> Iterator[RowResult]:  # fmt: skip
        for row in rows:
            if options.budget is not None and not options.budget.reserve(ROW_USD):
                return
            self.asked.append(row.text)
            if options.budget is not None:
                options.budget.settle(ROW_USD, ROW_USD)
            result = answer(row)
            result.cost_usd = ROW_USD
            yield result


def test_automatic_syncs_spend_todays_cap_then_are_refused_and_a_person_is_not(
    sheetai_home: Path,
) -> None:
    settings = Settings(home=sheetai_home, auto_max_cost_usd_per_day=0.045)
    book = memory_book([f"review {i}" for i in range(10)])
    paid = PaidProvider()

    first = capped_sync(book, settings, SyncOptions(trigger="edit"), None, providers(paid))
    assert first.total("processed") == 4 and first.status == "cost_cap"
    assert any("reached today's cap $0.0450" in m for m in first.messages)
    spend = DailySpend.in_home(sheetai_home)
    # The last half cent cannot pay for a row: today is spent.
    assert spend.spent(book.location) == pytest.approx(0.045)

    for trigger in ("watch", "schedule", "edit", "excel-edit"):
        with pytest.raises(DailyCapReached, match=r"today's cap \$0\.0450") as refused:
            capped_sync(book, settings, SyncOptions(trigger=trigger), None, providers(paid))
        assert f"not synced ({trigger})" in str(refused.value)
        assert "00:00 UTC" in str(refused.value)
    assert len(paid.asked) == 4

    by_hand = capped_sync(book, settings, SyncOptions(trigger="cli"), None, providers(paid))
    assert by_hand.total("processed") == 6 and by_hand.status == "done"
    assert spend.spent(book.location) == pytest.approx(0.045)  # a person's run is not counted
    assert spend.spent(book.location, day="1999-01-01") == 0
    spend.close()


def test_a_per_sync_cap_below_what_is_left_wins(sheetai_home: Path) -> None:
    settings = Settings(home=sheetai_home, auto_max_cost_usd_per_day=1.0)
    book = memory_book([f"review {i}" for i in range(10)])
    options = SyncOptions(trigger="watch", max_cost_usd=0.02)
    summary = capped_sync(book, settings, options, None, providers(PaidProvider()))
    assert summary.total("processed") == 2


def test_a_cap_of_nothing_lets_free_models_answer(sheetai_home: Path) -> None:
    settings = Settings(home=sheetai_home, auto_max_cost_usd_per_day=0)
    book = memory_book(["review 1", "review 2"])
    summary = capped_sync(
        book, settings, SyncOptions(trigger="edit"), None, providers(FakeProvider())
    )
    assert summary.total("processed") == 2
    paid = capped_sync(memory_book(["review 3"]), settings, SyncOptions(trigger="edit"), None,
                       providers(PaidProvider()))  # fmt: skip
    assert paid.total("processed") == 0 and paid.status == "cost_cap"


class FailingProvider(PaidProvider):
    """Pays for three rows, then the connection is lost."""

    def run(
        self, step: Step, rows: Sequence[RowInput], training: Sequence[Example],
        options: RunOptions,
    ) -> Iterator[RowResult]:  # fmt: skip
        yield from super().run(step, rows[:3], training, options)
        raise ConnectionError("the server went away")


def test_an_automatic_sync_that_fails_part_way_still_counts_what_it_spent(
    sheetai_home: Path,
) -> None:
    settings = Settings(home=sheetai_home, auto_max_cost_usd_per_day=1.0)
    book = memory_book([f"review {i}" for i in range(10)])
    with pytest.raises(ConnectionError):
        capped_sync(book, settings, SyncOptions(trigger="edit"), None, providers(FailingProvider()))
    spend = DailySpend.in_home(sheetai_home)
    assert spend.spent(book.location) == pytest.approx(3 * ROW_USD)
    spend.close()
