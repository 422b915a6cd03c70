"""The interface every model provider implements.

A provider turns rows into answers for one step. The engine hands it only rows that must run
(identical inputs once), consumes results as they arrive (in any order), and writes them back
in chunks, so a provider never touches a workbook.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..steps import Example, Step

__all__ = ["RowInput", "RowResult", "Estimate", "Provider", "Budget"]


@dataclass
class RowInput:
    """One row to answer. ``key`` is its fingerprint; ``text`` what the model reads."""

    key: str
    text: str
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class RowResult:
    """A provider's answer for one row.

    ``values`` holds one cell per value column of the step (one, or one per extracted field).
    """

    key: str
    values: list[Any]
    reasoning: str = ""
    confidence: float | None = None
    status: Literal["ok", "invalid", "failed"] = "ok"
    error: str = ""
    tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False

    @classmethod
    def failure(cls, key: str, value_count: int, error: str) -> RowResult:
        return cls(key=key, values=[None] * value_count, status="failed", error=error)


@dataclass
class Estimate:
    """What running some rows is expected to cost, before anything is spent."""

    tokens: int = 0
    cost_usd: float = 0.0


class Budget:
    """A cap on what a run may spend, shared by its steps; thread-safe.

    A provider reserves a request's estimated cost before sending it and settles it with the
    real cost after; once spent + reserved would pass the cap, no new request starts. A batch
    submission holds each row's estimate at the Batch API's price and settles what it
    submitted as spent: its real cost is known only when the batch ends.
    """

    def __init__(self, cap_usd: float | None) -> None:
        self.cap_usd = cap_usd
        self.spent_usd = 0.0
        self.reserved_usd = 0.0
        self.exhausted = False
        self._lock = threading.Lock()

    def reserve(self, usd: float) -> bool:
        """Whether a request estimated at ``usd`` may start (and if so, hold that much)."""
        return self.reserve_leading([usd]) == 1

    def reserve_leading(self, costs: Sequence[float]) -> int:
        """Hold the first ``costs`` in order while they fit; return how many were held.

        The first cost that does not fit stops it (later, cheaper ones are not picked out of
        order), so the rows left are a tail a later run takes up in order.

        >>> budget = Budget(1.0)
        >>> budget.reserve_leading([0.4, 0.4, 0.4, 0.1]), budget.exhausted
        (2, True)
        >>> Budget(None).reserve_leading([5.0, 5.0])
        2
        """
        with self._lock:
            held = 0
            for usd in costs:
                if self.cap_usd is not None and (
                    self.spent_usd + self.reserved_usd + usd > self.cap_usd
                ):
                    self.exhausted = True
                    break
                self.reserved_usd += usd
                held += 1
            return held

    def settle(self, reserved: float, actual: float) -> None:
        with self._lock:
            self.reserved_usd = max(0.0, self.reserved_usd - reserved)
            self.spent_usd += actual


class Provider(ABC):
    """Answers rows for steps; one instance per model name."""

    #: The model as named in the config tab (``local``, ``gpt-4.1-mini`` ...).
    model: str = ""

    @abstractmethod
    def check(self, step: Step) -> None:
        """Raise :class:`~sheetai.errors.ProviderError` if this step cannot run at all."""

    @abstractmethod
    def estimate(self, step: Step, rows: Sequence[RowInput]) -> Estimate:
        """Tokens and cost of running ``rows``, without calling the model."""

    @abstractmethod
    def run(
        self, step: Step, rows: Sequence[RowInput], training: Sequence[Example]
    ) -> Iterator[RowResult]:
        """Answer ``rows``, yielding each result as soon as it is known.

        ``training`` holds rows a person labelled (gold column, kept edits): providers may learn
        from them. A row-level failure is a ``RowResult`` with status ``failed``, not an
        exception; exceptions mean the whole step cannot go on.
        """

    def take_stats(self) -> dict[str, Any]:
        """Request counters since the last call (``requests``, ``retries``, ``rate_limited``),
        and facts about the run named by a string (``response_format``)."""
        return {}

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release clients, threads or models."""
