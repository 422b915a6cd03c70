"""The plan stage: every step planned before any model call, as a dry-run summary.

Steps are planned on a copy of the sheets, as if upstream steps had run, so a step that reads
another's output sees its rows as about to change. Planning also refuses, before anything is
paid for, writes that would fail (merged cells, a locked file). Rows and columns are the
sheet's 1-based numbers, as in every engine module.
"""

from __future__ import annotations

import copy

from ..errors import WorkbookError
from ..steps import Step
from ..text import norm_header
from .batching import has_batch_api
from .grid import grid_set
from .plan import Category, StepPlan, row_input
from .preflight import planned_cells, refuse_merged
from .relearn import Relearning, decide, note_relearning, provider_step
from .run import Run
from .summary import RunSummary, from_plan
from .workbook import run_step

__all__ = ["plan_run"]

# What a planned cell holds on the copy: no real answer ever starts with a NUL.
_PENDING = "\x00pending"


def plan_run(run: Run) -> RunSummary:
    """Check every step can run, plan it, and refuse unwritable plans; tell the listener."""
    for step in run.steps:
        run.providers.for_step(step).check(run_step(step))
    grids = {step.sheet: copy.deepcopy(run.book.grids.get(step.sheet, [])) for step in run.steps}
    planned = RunSummary(workbook=run.backend.location, dry_run=True)
    writes = False
    options = run.options
    for step in run.steps:
        grid = grids[step.sheet] or [[]]
        cols = run.columns(step, grid)
        plan = run.plan(step, grid, cols)
        provider = run.providers.for_step(step)
        decision = _decide(run, step, plan)
        if decision.reanswer:
            plan = run.plan(step, grid, cols)
        summary = from_plan(step, plan)
        relearn_message = note_relearning(summary, step, decision, options.dry_run)
        unique = plan.unique_to_run()
        if options.preview is not None:
            unique = unique[: options.preview]
            summary.planned = len(unique)
        shown = provider_step(step, plan, provider)
        estimate = provider.estimate(shown, [row_input(r) for r in unique])
        summary.tokens = estimate.tokens
        summary.estimated_cost_usd = estimate.cost_usd
        if options.batch and options.preview is None and has_batch_api(provider):
            summary.estimated_cost_usd /= 2  # what the Batch API charges
        summary.status = "planned"
        # With --preview only the rows that run are written (no fills, flags or batches).
        run_keys = {r.fingerprint for r in unique} if options.preview is not None else None
        cells = planned_cells(step, plan, grid, cols, run_keys=run_keys)
        if cells:
            writes = True
            refuse_merged(step.sheet, step.name, grid[0], run.merged(step.sheet), cells)
        for row_plan in plan.to_run():
            grid_set(grid, row_plan.row, cols.values[0], f"{_PENDING}{row_plan.fingerprint}")
        planned.steps.append(summary)
        if relearn_message:
            planned.messages.append(relearn_message)
            run.summary.messages.append(relearn_message)
        _warn_if_history_lost(run, step, plan, planned)
        _warn_of_input_errors(run, step, plan, planned)
    if writes:
        _preflight_writable(run, planned)
    run.listener.plan_ready(planned)
    return planned


def _decide(run: Run, step: Step, plan: StepPlan) -> Relearning:
    """What to do with the step's stale answers; kept on the run for every later plan."""
    accuracies = run.state.extras.setdefault("taught", {}).setdefault(norm_header(step.name), {})
    decision = decide(
        step,
        plan,
        run.providers.for_step(step),
        asked=run.options.relearn,
        accuracies=accuracies,
    )
    if not accuracies:
        del run.state.extras["taught"][norm_header(step.name)]
    if not run.state.extras["taught"]:
        del run.state.extras["taught"]
    run.relearning[norm_header(step.name)] = decision
    return decision


def _preflight_writable(run: Run, planned: RunSummary) -> None:
    """A locked or read-only file stops a run before any model call; a dry run warns.

    Only a warning there: a lock file goes away when the user closes Excel, and the plan
    is still worth seeing.
    """
    if not run.options.dry_run:
        run.check_writable()
        return
    try:
        run.check_writable()
    except WorkbookError as exc:
        planned.messages.append(f"warning: {exc} A run would stop here, before any model call.")


def _warn_of_input_errors(run: Run, step: Step, plan: StepPlan, planned: RunSummary) -> None:
    errors = plan.counts[Category.INPUT_ERROR]
    if errors:
        planned.messages.append(
            f"step '{step.name}': {errors} rows skipped because an input cell shows an error "
            f"value (#N/A, #DIV/0! ...); each is flagged in '{step.output} flag'. Fix those "
            "cells (or the formulas' sources) and run again: the rows then run."
        )
        run.summary.messages.append(planned.messages[-1])


def _warn_if_history_lost(run: Run, step: Step, plan: StepPlan, planned: RunSummary) -> None:
    kept = plan.counts[Category.HUMAN_EDIT]
    if kept and not run.records(step):
        planned.messages.append(
            f"step '{step.name}': {kept} rows already hold answers sheetai has no record of "
            "(the step was renamed, or the hidden _sheetai_state tab was lost), so they are "
            "kept as if a person wrote them. Run with --force to answer them again."
        )
        run.summary.messages.append(planned.messages[-1])
