"""One sync as a pipeline over one :class:`~sheetai.engine.run.Run`:

read (:mod:`.workbook`) → plan (:mod:`.planning`) → run (:mod:`.runner`, :mod:`.batching`)
→ write back (:mod:`.writeback`) → log (:mod:`.runlog`).

The library never prints: progress goes to a :class:`Listener`, the outcome is a
:class:`~sheetai.engine.summary.RunSummary`. Rows and columns are the sheet's 1-based numbers,
as in every engine module.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..backends.base import Backend
from ..collector import collector_paused, freezing
from ..errors import RunInterrupted
from ..interrupts import interrupts_deferrable
from ..providers.base import Provider
from ..providers.registry import get_provider
from ..settings import Settings
from ..steps import Step
from ..text import norm_header
from .batching import BatchRunner
from .options import Listener, SyncOptions
from .outputs import compose_outputs
from .planning import plan_run
from .relearn import note_relearning
from .run import Providers, Run, StepWork
from .runlog import append_log
from .runner import LiveRunner, StepRunner, rows_by_key
from .summary import RunSummary, StepSummary, add_counts, from_plan, record_outputs
from .workbook import apply_model, load_workbook, select_steps
from .writeback import WriteBack

__all__ = ["SyncOptions", "Listener", "sync", "compose_outputs"]


def sync(
    backend: Backend,
    settings: Settings | None = None,
    options: SyncOptions | None = None,
    listener: Listener | None = None,
    provider_for: Callable[[str, Settings], Provider] = get_provider,
    into: RunSummary | None = None,
) -> RunSummary:
    """Sync every step of the workbook behind ``backend``; see the module docstring.

    ``into``: the summary to fill as the run goes, so a caller still knows what was written and
    spent when the sync raises (a lost connection, a full disk) — the per-day cap counts it.
    """
    settings = settings or Settings()
    options = options or SyncOptions()
    providers = Providers(provider_for, settings)
    summary = into or RunSummary(workbook=backend.location)
    summary.dry_run = options.dry_run
    try:
        with freezing() as freeze:
            return _sync(backend, settings, options, listener or Listener(), providers, summary,
                         freeze)  # fmt: skip
    finally:
        providers.close()


def _sync(
    backend: Backend,
    settings: Settings,
    options: SyncOptions,
    listener: Listener,
    providers: Providers,
    summary: RunSummary,
    freeze: Callable[[], None],
) -> RunSummary:
    started = time.monotonic()
    try:
        with collector_paused():
            book = load_workbook(backend, settings)
            steps = apply_model(book.steps, options.model, options.only_flagged)
            book.steps = select_steps(steps, options.step)
            run = Run(backend, settings, options, listener, providers, book, summary)
            run.read_seconds = time.monotonic() - started
            planned = plan_run(run)
        # The sheets, state and plans live as long as the sync: the collector need not walk
        # them again each time the rows written pile up (sync() gives them back).
        freeze()
    except KeyboardInterrupt:
        summary.status = "interrupted"
        summary.seconds = time.monotonic() - started
        raise RunInterrupted(summary) from None
    if options.dry_run:
        planned.seconds = time.monotonic() - started
        planned.status = "dry-run"
        return planned
    cap = run.budget.cap_usd
    estimate = planned.total("estimated_cost_usd")
    if cap is not None and estimate > cap:
        summary.messages.append(
            f"the estimated cost ${estimate:.4f} is above the cap ${cap:.4f}: the run will "
            "stop starting requests when it reaches the cap."
        )
    if options.confirm is not None and planned.total("planned") and not options.confirm(planned):
        planned.status = "cancelled"
        return planned

    out = WriteBack(run)
    batches = BatchRunner(run, out)
    runner: StepRunner = batches if options.batch and options.preview is None else LiveRunner(run)
    try:
        # Each row's write holds Ctrl-C until it is whole; the span installs the handlers once.
        with interrupts_deferrable():
            for step, plan in zip(run.steps, planned.steps, strict=True):
                _run_step(run, out, batches, runner, step)
                # Estimated when planning: the step's summary reports it beside the cost.
                summary.steps[-1].estimated_cost_usd = plan.estimated_cost_usd
        out.prune_state()
    except KeyboardInterrupt:
        _stopped(run, out, started, "interrupted")
        raise RunInterrupted(summary) from None
    except BaseException:
        _stopped(run, out, started, "error")
        raise
    _finish(run, out, started)
    return summary


def _run_step(
    run: Run, out: WriteBack, batches: BatchRunner, runner: StepRunner, step: Step
) -> None:
    """Collect the step's ended batches, then plan, answer and write its rows."""
    started = time.monotonic()
    grid = run.book.grid(step.sheet)
    cols = run.columns(step, grid)
    out.headers(step, cols)
    collected = StepSummary(step=step.name, sheet=step.sheet, model=step.model)
    batches.collect(step, grid, cols, collected)
    plan = run.step_plan(step, grid, cols)
    summary = from_plan(step, plan)
    note_relearning(summary, step, run.relearning.get(norm_header(step.name)), False)
    add_counts(summary, collected)
    run.summary.steps.append(summary)
    run.listener.step_started(step, summary.planned)
    provider = run.providers.for_step(step)
    preview = run.options.preview
    try:
        work = StepWork(step, grid, cols, plan, summary, rows_by_key(plan, preview))
        if preview is None:
            out.write_flags(work)
            out.fill_and_reflag(work)
        else:
            summary.planned = sum(len(rows) for rows in work.by_key.values())
        for result in runner.answers(work):
            out.apply(work, result, work.by_key.get(result.key, []))
    finally:
        summary.seconds = time.monotonic() - started
        summary.cost_known = provider.price_known or not summary.model_calls
        _add_stats(summary, provider.take_stats())
        record_outputs(summary, grid, cols)
    budget = run.budget
    if budget.exhausted and summary.status == "done":
        summary.status = "cost_cap"
        run.summary.status = "cost_cap"
        run.summary.messages.append(
            f"stopped starting requests at the cost cap ${budget.cap_usd:.4f} "
            f"(spent ${budget.spent_usd:.4f}); rows not run stay planned: run again "
            "with a higher --max-cost to do them."
        )
    run.listener.step_finished(summary)


def _add_stats(summary: StepSummary, stats: dict[str, object]) -> None:
    """Add a provider's counters to the step's (and take its named facts, if any)."""
    for name, value in stats.items():
        current = getattr(summary, name, None)
        if isinstance(current, (int, float)) and isinstance(value, (int, float)):
            setattr(summary, name, current + value)
        elif isinstance(current, str) and isinstance(value, str) and value:
            setattr(summary, name, value)  # e.g. the response format used


def _stopped(run: Run, out: WriteBack, started: float, status: str) -> None:
    run.summary.status = status
    if run.summary.steps:
        run.summary.steps[-1].status = status
    _finish(run, out, started)


def _finish(run: Run, out: WriteBack, started: float) -> None:
    """Log the run (when it wrote something or stopped early) and save what is buffered."""
    summary = run.summary
    summary.seconds = time.monotonic() - started
    wrote = any(s.processed or s.failed or s.reflagged for s in summary.steps)
    if not (wrote or out.writer.pending):
        out.close()
        return
    if wrote or summary.status != "done":
        append_log(run.backend, run.book, summary, run.options.trigger)
    try:
        out.commit()
    finally:
        out.close()
        # The final save is part of the run: its time counts in the run's seconds and rows/s.
        # Steps keep the figures the run log (saved by this very save) shows for them.
        summary.seconds = time.monotonic() - started
