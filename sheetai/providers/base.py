"""The interface every model provider implements.

A provider turns rows into answers for one step. The engine hands it only rows that must run
(identical inputs once), consumes results as they arrive (in any order), and writes them back
in chunks, so a provider never touches a workbook.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..steps import Example, Step

__all__ = [
    "RowInput",
    "RowResult",
    "Estimate",
    "Provider",
    "BatchProvider",
    "BatchSubmission",
    "BatchOutcome",
    "OnBatch",
    "Budget",
    "RunOptions",
    "Gain",
]

#: Called with ``(batch id, row keys)`` as soon as a batch exists.
OnBatch = Callable[[str, list[str]], None]


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


@dataclass(frozen=True)
class RunOptions:
    """What a run hands every provider besides the rows; a provider uses what applies to it.

    ``budget`` is the run's shared cost cap; ``rpm``, ``tpm`` (input tokens where a vendor limits
    input and output apart), ``output_tpm`` and ``concurrency`` override the
    settings' request pacing for this run (``None``: the settings'); ``status`` hears short
    notes on what a provider is doing while no row can finish ("loading the model…", then ``""``).
    """

    budget: Budget | None = None
    rpm: int | None = None
    tpm: int | None = None
    output_tpm: int | None = None
    concurrency: int | None = None
    status: Callable[[str], None] | None = None


@dataclass(frozen=True)
class Gain:
    """What learning from labelled rows does, measured on those rows: the accuracy of the model
    that gave the current answers (``before``) and of the one that learnt (``after``, held out
    by cross-validation)."""

    before: float
    after: float
    examples: int

    @property
    def better(self) -> bool:
        return self.after > self.before


class Provider(ABC):
    """Answers rows for steps; one instance per model name.

    How a provider learns from rows a person labelled (the ``training`` of :meth:`run`) is
    told by two class attributes: ``learns_free`` (it fits a model on them at no cost, so the
    engine re-answers stale rows by itself when :meth:`relearn_gain` says it pays) and
    ``learns_in_prompt`` (they go into every request as few-shot examples, which costs tokens:
    the engine gives them as the step's ``examples`` and re-answers only when asked).
    """

    #: The model as named in the config tab (``local``, ``gpt-4.1-mini`` ...).
    model: str = ""
    learns_free: bool = False
    learns_in_prompt: bool = False
    #: False when nobody has given this model a price: its cost is unknown (rows record 0.0,
    #: summaries say unknown) and ``--max-cost`` refuses to run it.
    price_known: bool = True

    @abstractmethod
    def check(self, step: Step) -> None:
        """Raise :class:`~sheetai.errors.ProviderError` if this step cannot run at all."""

    @abstractmethod
    def estimate(self, step: Step, rows: Sequence[RowInput]) -> Estimate:
        """Tokens and cost of running ``rows``, without calling the model."""

    @abstractmethod
    def run(
        self,
        step: Step,
        rows: Sequence[RowInput],
        training: Sequence[Example],
        options: RunOptions,
    ) -> Iterator[RowResult]:
        """Answer ``rows``, yielding each result as soon as it is known.

        ``training`` holds rows a person labelled (gold column, kept edits): providers may learn
        from them; ``options`` carries the run's budget, pacing and status line. A row-level
        failure is a ``RowResult`` with status ``failed``, not an exception; exceptions mean
        the whole step cannot go on.
        """

    def relearn_gain(
        self, step: Step, training: Sequence[Example], before: float | None
    ) -> Gain | None:
        """Accuracy on ``training`` of the model that gave the current answers and of one that
        learnt from ``training``; None when this provider cannot tell (or does not learn).

        ``before`` is the accuracy the engine recorded for the model that gave the current
        answers when it learnt; None when they were given by a model taught by nothing.
        """
        return None

    def take_stats(self) -> dict[str, Any]:
        """Request counters since the last call (``requests``, ``retries``, ``rate_limited``),
        and facts about the run named by a string (``response_format``)."""
        return {}

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release clients, threads or models."""


class BatchSubmission:
    """Rows answered from the cache at once, and the batches holding the others."""

    def __init__(
        self, cached: list[RowResult], batches: dict[str, list[str]], problem: str = ""
    ) -> None:
        self.cached = cached
        self.batches = batches  # batch id -> row keys
        self.problem = problem  # why fewer rows than asked were submitted


@dataclass
class BatchOutcome:
    """A batch's state; ``results`` is filled once it has ended."""

    batch_id: str
    status: str
    done: bool
    completed: int = 0
    failed: int = 0
    total: int = 0
    results: list[RowResult] = field(default_factory=list)


class BatchProvider(Provider):
    """A provider that can also send rows to a Batch API (``--batch``, at half price)."""

    @abstractmethod
    def submit_batch(
        self,
        step: Step,
        rows: Sequence[RowInput],
        *,
        budget: Budget | None = None,
        on_batch: OnBatch | None = None,
    ) -> BatchSubmission:
        """Answer cached rows now; upload the rest as batches, within ``budget``.

        ``on_batch`` hears of each batch the moment it is created, so none is lost if the
        upload is interrupted.
        """

    @abstractmethod
    def collect_batch(
        self, step: Step, batch_id: str, rows: Mapping[str, RowInput]
    ) -> BatchOutcome:
        """A batch's state; once ended, its results."""
