"""The run stage: a :class:`StepRunner` answers a step's rows; the caller writes each back.

Two runners: :class:`LiveRunner` asks the provider row by row (or in its own groups) now;
:class:`~sheetai.engine.batching.BatchRunner` submits the rows to a Batch API and answers them
on a later run. Rows are the sheet's 1-based numbers, as in every engine module.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Protocol

from ..providers.base import RowResult, RunOptions
from .plan import RowPlan, StepPlan, row_input
from .relearn import provider_step, reviewed_results
from .run import Run, StepWork

__all__ = ["StepRunner", "LiveRunner", "rows_by_key"]


class StepRunner(Protocol):
    """Answers the rows of one step."""

    def answers(self, work: StepWork) -> Iterable[RowResult]:
        """Results for ``work.by_key``'s rows as they come (not all need to come now)."""
        ...  # pragma: no cover


def rows_by_key(plan: StepPlan, preview: int | None) -> dict[str, list[RowPlan]]:
    """Rows to run grouped by fingerprint (identical inputs run once); with ``--preview``, the
    first ``preview`` fingerprints only."""
    by_key: dict[str, list[RowPlan]] = {}
    for row_plan in plan.to_run():
        if preview is not None and row_plan.fingerprint not in by_key and len(by_key) >= preview:
            continue
        by_key.setdefault(row_plan.fingerprint, []).append(row_plan)
    return by_key


class LiveRunner:
    """Asks the step's provider now, with the run-wide budget, limits and examples."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def answers(self, work: StepWork) -> Iterable[RowResult]:
        run, step = self.run, work.step
        if not work.by_key or run.budget.exhausted:
            return ()
        reviewed, left = reviewed_results(work.plan, work.by_key)
        options = RunOptions(
            budget=run.budget,
            rpm=run.options.rpm,
            tpm=run.options.tpm,
            output_tpm=run.options.output_tpm,
            concurrency=run.options.concurrency,
            status=lambda text: run.listener.status(step, text),
        )
        unique = [row_input(work.by_key[key][0]) for key in left]
        provider = run.providers.for_step(step)
        shown = provider_step(step, work.plan, provider)
        answered = provider.run(shown, unique, work.plan.training, options) if unique else ()
        return itertools.chain(reviewed, answered)
