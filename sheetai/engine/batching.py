"""The Batch API side of a sync: submit rows as batches, collect the answers on a later run.

Batch ids are kept in the state tab's extras (``{"batches": [{"id", "step", "model"}]}``) and
their rows marked ``BATCH_PENDING`` until a run collects them. Rows are the sheet's 1-based
numbers, as in every engine module.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from ..backends.base import Grid
from ..errors import ProviderError
from ..providers.base import BatchProvider, Provider, RowResult
from ..row_outputs import RowOutputs
from ..state import StateRecord
from ..steps import Step
from ..text import cell_text, norm_header
from .columns import StepColumns
from .outputs import utc_now
from .plan import Category, RowPlan, row_input
from .relearn import provider_step
from .run import Run, StepWork
from .summary import StepSummary
from .workbook import run_step
from .writeback import WriteBack

__all__ = ["BatchRunner", "WAITING", "has_batch_api"]

WAITING = "Waiting for batch "
#: What sheetai wrote before Claude and Gemini had batches too; still read in older workbooks.
_WAITING_BEFORE = "Waiting for OpenAI batch "


def has_batch_api(provider: Provider) -> bool:
    """Whether ``--batch`` sends this provider's rows to a Batch API (at half price)."""
    return isinstance(provider, BatchProvider)


class BatchRunner:
    """Submits a step's rows as batches (``--batch``), and collects ended batches every run."""

    def __init__(self, run: Run, out: WriteBack) -> None:
        self.run = run
        self.out = out

    def answers(self, work: StepWork) -> Iterator[RowResult]:
        """Upload the rows as batches, mark them ``BATCH_PENDING``; yield cached answers.

        Rows go in while their estimate fits under the run's cost cap (``--max-cost``); the
        rest stay planned and the step ends with status ``cost_cap``. Each batch is recorded
        and saved as soon as it exists: a Ctrl-C, SIGTERM or crash during a long upload never
        loses a batch already billed. With ``--wait``, once the cached answers are written,
        poll until the batches end, writing their results as they do.
        """
        if not work.by_key:
            return
        step, summary = work.step, work.summary
        provider = self.run.providers.for_step(step)
        if not isinstance(provider, BatchProvider):
            raise ProviderError(
                f"step '{step.name}': --batch needs a model with a Batch API (OpenAI, Claude, "
                f"Gemini), not '{step.model}'."
            )
        recorded: set[str] = set()

        def record(batch_id: str, keys: list[str]) -> None:
            self._record(work, batch_id, keys)
            recorded.add(batch_id)
            # Batch ids are money already committed: they reach the state tab at once.
            self.out.commit()

        unique = [row_input(rows[0]) for rows in work.by_key.values()]
        budget = self.run.budget
        shown = provider_step(step, work.plan, provider)
        submission = provider.submit_batch(shown, unique, budget=budget, on_batch=record)
        for batch_id, keys in submission.batches.items():
            if batch_id not in recorded:
                record(batch_id, keys)
        if submission.problem:
            self.run.summary.messages.append(submission.problem)
        if budget.exhausted and summary.status == "done":
            # As a live run reports it; the provider's message says how far the cap let it go.
            summary.status = self.run.summary.status = "cost_cap"
        yield from submission.cached
        if self.run.options.wait and summary.batch_ids:
            self.out.commit()
            self.wait(step, work.grid, work.cols, summary)

    def _record(self, work: StepWork, batch_id: str, keys: list[str]) -> None:
        """Mark one batch's rows ``BATCH_PENDING`` and keep its id in the state's extras."""
        step = work.step
        self.run.state.extras.setdefault("batches", []).append(
            {"id": batch_id, "step": step.name, "model": run_step(step).model}
        )
        work.summary.batch_ids.append(batch_id)
        count = len(work.cols.values)
        outputs = RowOutputs([None] * count, f"{WAITING}{batch_id}", None, "BATCH_PENDING")
        records = self.run.records(step)
        for key in keys:
            # Under the normalised name, as every record is: else the next run misses it.
            records[key] = StateRecord(norm_header(step.name), key, "pending", outputs, utc_now())
            for row_plan in work.by_key.get(key, []):
                self.out.write_row(step.sheet, work.grid, work.cols, row_plan.row, outputs)
                work.summary.batch_pending += 1
                work.summary.planned -= 1

    def collect(self, step: Step, grid: Grid, cols: StepColumns, summary: StepSummary) -> bool:
        """Write the results of this step's ended batches; True while some are still running."""
        batches = self.run.state.extras.get("batches", [])
        mine = [b for b in batches if norm_header(b.get("step") or "") == norm_header(step.name)]
        if not mine:
            return False
        plan = self.run.plan(step, grid, cols)
        pending: dict[str, list[RowPlan]] = {}
        for row_plan in plan.rows:
            if row_plan.category is Category.PENDING:
                pending.setdefault(row_plan.fingerprint, []).append(row_plan)
        work = StepWork(step, grid, cols, plan, summary, pending)
        inputs = {key: row_input(rows[0]) for key, rows in pending.items()}
        running = False
        ended: set[str] = set()
        done_lines = total_lines = 0
        for entry in mine:
            provider = self.run.providers.named(entry["model"])
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
                    self.out.apply(work, result, pending.pop(result.key))
        for key, rows in list(pending.items()):
            record = rows[0].record
            reasoning = cell_text(record.outputs.reasoning) if record else ""
            if _waiting_for(reasoning) in ended:
                failure = RowResult.failure(
                    key, len(cols.values), "the batch ended without an answer"
                )
                self.out.apply(work, failure, rows)
        if not batches:
            self.run.state.extras.pop("batches", None)
        self.run.listener.batch_progress(step, done_lines, total_lines, running)
        return running

    def wait(self, step: Step, grid: Grid, cols: StepColumns, summary: StepSummary) -> None:
        """``--batch --wait``: poll until this step's batches end, writing results as they do."""
        while self.collect(step, grid, cols, summary):
            self.out.commit()
            time.sleep(self.run.settings.batch_poll_seconds)
        summary.batch_pending = 0


def _waiting_for(reasoning: str) -> str | None:
    """The batch id a pending row's reasoning cell waits for, None if it waits for none.

    >>> _waiting_for("Waiting for batch msgbatch_1"), _waiting_for("Waiting for OpenAI batch b_2")
    ('msgbatch_1', 'b_2')
    """
    for prefix in (WAITING, _WAITING_BEFORE):
        if reasoning.startswith(prefix):
            return reasoning[len(prefix) :]
    return None
