"""The run stage: a :class:`StepRunner` answers a step's rows; the caller writes each back.

Two runners: :class:`LiveRunner` asks the provider row by row (or in its own groups) now;
:class:`~sheetai.engine.batching.BatchRunner` submits the rows to a Batch API and answers them
on a later run. Rows are the sheet's 1-based numbers, as in every engine module.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from ..providers.base import RowResult, RunOptions
from .learning import training_examples
from .plan import RowPlan, StepPlan, row_input
from .run import Run, StepWork
from .workbook import run_step

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
        training = training_examples(
            step,
            work.grid,
            work.cols,
            work.plan,
            run.book.grids,
            trust_edits=bool(run.records(step)),
        )
        options = RunOptions(
            budget=run.budget,
            rpm=run.options.rpm,
            tpm=run.options.tpm,
            concurrency=run.options.concurrency,
            status=lambda text: run.listener.status(step, text),
        )
        unique = [row_input(rows[0]) for rows in work.by_key.values()]
        return run.providers.for_step(step).run(run_step(step), unique, training, options)
