"""The Batch API side of a sync: submit rows as batches, collect the answers on a later run.

It works on a running :class:`~sheetai.engine.sync._Sync` (its state, writer and row helpers)
and keeps the batch bookkeeping (ids in the state tab's extras) out of the main flow.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..backends.base import Grid
from ..errors import ProviderError
from ..providers.base import BatchProvider, Provider, RowInput, RowResult
from ..state import StateRecord
from ..steps import Step
from ..text import cell_text, norm_header
from .columns import StepColumns
from .outputs import utc_now
from .plan import Category, RowPlan, row_input
from .selection import run_step
from .summary import StepSummary

if TYPE_CHECKING:  # pragma: no cover
    from .sync import _Sync

__all__ = ["Batches", "WAITING", "has_batch_api"]

WAITING = "Waiting for OpenAI batch "


def has_batch_api(provider: Provider) -> bool:
    """Whether ``--batch`` sends this provider's rows to a Batch API (at half price)."""
    return isinstance(provider, BatchProvider)


class Batches:
    """Batch submit/collect for one sync."""

    def __init__(self, run: _Sync) -> None:
        self.run = run

    def submit(
        self,
        step: Step,
        provider: Provider,
        unique: list[RowInput],
        grid: Grid,
        cols: StepColumns,
        by_key: dict[str, list[RowPlan]],
        summary: StepSummary,
    ) -> list[RowResult]:
        """Upload the rows as batches, mark them ``BATCH_PENDING``; return cached answers.

        Rows go in while their estimate fits under the run's cost cap (``--max-cost``); the
        rest stay planned and the step ends with status ``cost_cap``. Each batch is recorded
        and saved as soon as it exists: a Ctrl-C, SIGTERM or crash during a long upload never
        loses a batch already billed.
        """
        if not isinstance(provider, BatchProvider):
            raise ProviderError(
                f"step '{step.name}': --batch needs an OpenAI model, not '{step.model}'."
            )
        recorded: set[str] = set()

        def record(batch_id: str, keys: list[str]) -> None:
            self._record(step, grid, cols, by_key, summary, batch_id, keys)
            recorded.add(batch_id)
            # Batch ids are money already committed: they reach the state tab at once.
            self.run.writer.commit()

        budget = self.run.budget
        submission = provider.submit_batch(run_step(step), unique, budget=budget, on_batch=record)
        for batch_id, keys in submission.batches.items():
            if batch_id not in recorded:
                record(batch_id, keys)
        if submission.problem:
            self.run.summary.messages.append(submission.problem)
        if budget.exhausted and summary.status == "done":
            # As a live run reports it; the provider's message says how far the cap let it go.
            summary.status = self.run.summary.status = "cost_cap"
        return list(submission.cached)

    def _record(
        self,
        step: Step,
        grid: Grid,
        cols: StepColumns,
        by_key: dict[str, list[RowPlan]],
        summary: StepSummary,
        batch_id: str,
        keys: list[str],
    ) -> None:
        """Mark one batch's rows ``BATCH_PENDING`` and keep its id in the state's extras."""
        self.run.state.extras.setdefault("batches", []).append(
            {"id": batch_id, "step": step.name, "model": run_step(step).model}
        )
        summary.batch_ids.append(batch_id)
        count = len(step.output_columns().values)
        outputs = [*([None] * count), f"{WAITING}{batch_id}", None, "BATCH_PENDING"]
        records = self.run._records(step)
        for key in keys:
            # Under the normalised name, as every record is: else the next run misses it.
            records[key] = StateRecord(
                norm_header(step.name), key, "pending", list(outputs), utc_now()
            )
            for row_plan in by_key.get(key, []):
                self.run._write_row(step.sheet, grid, cols, row_plan.row, outputs)
                summary.batch_pending += 1
                summary.planned -= 1

    def collect(self, step: Step, grid: Grid, cols: StepColumns, summary: StepSummary) -> bool:
        """Write the results of this step's ended batches; True while some are still running."""
        batches = self.run.state.extras.get("batches", [])
        mine = [b for b in batches if norm_header(b.get("step") or "") == norm_header(step.name)]
        if not mine:
            return False
        plan = self.run._plan(step, grid, cols)
        pending: dict[str, list[RowPlan]] = {}
        for row_plan in plan.rows:
            if row_plan.category is Category.PENDING:
                pending.setdefault(row_plan.fingerprint, []).append(row_plan)
        inputs = {key: row_input(rows[0]) for key, rows in pending.items()}
        running = False
        ended: set[str] = set()
        done_lines = total_lines = 0
        for entry in mine:
            provider = self.run._provider_named(entry["model"])
            if not isinstance(provider, BatchProvider):
                raise ProviderError(
                    f"step '{step.name}': batch {entry['id']} was sent to model "
                    f"'{entry['model']}', which has no Batch API to read it from."
                )
            outcome = provider.collect_batch(run_step(step), entry["id"], inputs)
            done_lines += outcome.completed + outcome.failed
            total_lines += outcome.total
            if not outcome.done:
                running = True
                continue
            ended.add(entry["id"])
            batches.remove(entry)
            for result in outcome.results:
                if result.key in pending:
                    self.run._apply(step, grid, cols, summary, result, pending.pop(result.key))
        count = len(step.output_columns().values)
        for key, rows in pending.items():
            record = rows[0].record
            reasoning = cell_text(record.outputs[count]) if record and record.outputs else ""
            if reasoning.startswith(WAITING) and reasoning[len(WAITING) :] in ended:
                failure = RowResult.failure(key, count, "the batch ended without an answer")
                self.run._apply(step, grid, cols, summary, failure, rows)
        if not batches:
            self.run.state.extras.pop("batches", None)
        self.run.listener.batch_progress(step, done_lines, total_lines, running)
        return running

    def wait(self, step: Step, grid: Grid, cols: StepColumns, summary: StepSummary) -> None:
        """``--batch --wait``: poll until this step's batches end, writing results as they do."""
        while self.collect(step, grid, cols, summary):
            self.run.writer.commit()
            time.sleep(self.run.settings.batch_poll_seconds)
        summary.batch_pending = 0
