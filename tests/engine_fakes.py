"""A workbook in memory and providers that answer without a model, for the engine's tests.

The providers answer every row ``Positive`` with confidence 0.9 (``Negative``, 0.3, when the
text holds "bad"), and count what they were asked, so a test sees what a run would cost.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sheetai.backends.memory import MemoryBackend
from sheetai.providers.base import (
    BatchOutcome,
    BatchProvider,
    BatchSubmission,
    Budget,
    Estimate,
    OnBatch,
    Provider,
    RowInput,
    RowResult,
    RunOptions,
)
from sheetai.steps import Example, Step

from .conftest import CONFIG_HEADER, sentiment_step

HEADER = ["ID", "Review"]


def memory_book(reviews: Sequence[Any], **step: Any) -> MemoryBackend:
    """A ``Feedback`` sheet with one review per row and the sentiment step's config tab."""
    rows = [[i + 1, text] for i, text in enumerate(reviews)]
    config = [CONFIG_HEADER, sentiment_step(**{"Model": "fake", **step})]
    return MemoryBackend({"Feedback": [HEADER, *rows], "sheetai": config})


def answer(row: RowInput) -> RowResult:
    if "bad" in row.text:
        return RowResult(key=row.key, values=["Negative"], reasoning="says bad", confidence=0.3)
    return RowResult(key=row.key, values=["Positive"], reasoning="fine", confidence=0.9)


class FakeProvider(Provider):
    """Answers at once; ``asked`` holds every row text it was sent, ``training`` the examples."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.training: list[Example] = []
        self.closed = False

    def check(self, step: Step) -> None:
        pass

    def estimate(self, step: Step, rows: Sequence[RowInput]) -> Estimate:
        return Estimate(tokens=10 * len(rows), cost_usd=0.01 * len(rows))

    def run(
        self,
        step: Step,
        rows: Sequence[RowInput],
        training: Sequence[Example],
        options: RunOptions,
    ) -> Iterator[RowResult]:
        self.training = list(training)
        for row in rows:
            self.asked.append(row.text)
            yield answer(row)

    def close(self) -> None:
        self.closed = True


class FakeBatchProvider(FakeProvider, BatchProvider):
    """Puts all rows in one batch ``b1`` that ends after ``polls`` collections."""

    def __init__(self, polls: int = 1, lose: Sequence[str] = ()) -> None:
        super().__init__()
        self.polls = polls
        self.lose = set(lose)  # row texts the batch ends without answering
        self.submitted: dict[str, list[str]] = {}

    def submit_batch(
        self,
        step: Step,
        rows: Sequence[RowInput],
        *,
        budget: Budget | None = None,
        on_batch: OnBatch | None = None,
    ) -> BatchSubmission:
        keys = [row.key for row in rows]
        self.submitted["b1"] = keys
        if on_batch is not None:
            on_batch("b1", keys)
        return BatchSubmission(cached=[], batches={"b1": keys})

    def collect_batch(
        self, step: Step, batch_id: str, rows: Mapping[str, RowInput]
    ) -> BatchOutcome:
        self.polls -= 1
        if self.polls > 0:
            return BatchOutcome(batch_id, "in_progress", False, total=len(rows))
        results = [answer(row) for row in rows.values() if row.text not in self.lose]
        return BatchOutcome(batch_id, "completed", True, len(results), 0, len(rows), results)


def providers(provider: Provider) -> Any:
    """A ``provider_for`` that hands out ``provider`` for every model."""
    return lambda model, settings: provider
