"""The plan stage: every step planned before any model call, as a dry-run summary.

Steps are planned on a copy of the sheets, as if upstream steps had run, so a step that reads
another's output sees its rows as about to change. Planning also refuses, before anything is
paid for, writes that would fail (merged cells, a locked file), a step whose model cannot run
(a missing key: the error names the step's Model cell, or ``--model``), and under a cost cap a
step whose model has no price. Rows and columns are the sheet's 1-based numbers, as in every
engine module.
"""

from __future__ import annotations

from ..a1 import quote_sheet
from ..backends.base import Grid
from ..config import ConfigTab
from ..errors import ProviderError, WorkbookError
from ..steps import Step
from ..text import norm_header
from .batching import has_batch_api
from .grid import grid_set
from .plan import Category, StepPlan, row_input
from .preflight import planned_cells, refuse_merged, unpriced_refusal
from .relearn import Relearning, decide, note_relearning, provider_step
from .run import Run
from .summary import RunSummary, from_plan
from .workbook import find_config_tab, run_step

__all__ = ["plan_run", "model_source"]

# What a planned cell holds on the copy: no real answer ever starts with a NUL.
_PENDING = "\x00pending"


def plan_run(run: Run) -> RunSummary:
    """Check every step can run, plan it, and refuse unwritable plans; tell the listener."""
    for step in run.steps:
        _check(run, step)
    # Copies: a step's rows to run are marked on them for the steps after it. Rows are copied
    # only when marked (and the header, which resolving columns may grow).
    grids = {step.sheet: _copy(run.book.grids.get(step.sheet, [])) for step in run.steps}
    marked: set[str] = set()
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
        if step.sheet not in marked:
            run.keep_plan(step, plan)  # made on the sheet as read: the run can reuse it
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
        summary.cost_known = provider.price_known or not unique
        if not summary.cost_known:
            _unpriced(run, step, planned)
        summary.status = "planned"
        # With --preview only the rows that run are written (no fills, flags or batches).
        run_keys = {r.fingerprint for r in unique} if options.preview is not None else None
        cells = planned_cells(step, plan, grid, cols, run_keys=run_keys)
        if cells:
            writes = True
            refuse_merged(step.sheet, step.name, grid[0], run.merged(step.sheet), cells)
        read = run.book.grids.get(step.sheet) or []
        for row_plan in plan.to_run():
            index = row_plan.row - 1
            if index < len(read) and grid[index] is read[index]:
                grid[index] = list(grid[index])
            grid_set(grid, row_plan.row, cols.values[0], f"{_PENDING}{row_plan.fingerprint}")
            marked.add(step.sheet)
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


def _copy(grid: Grid) -> Grid:
    """A copy of ``grid`` sharing its rows, all but the header."""
    return [list(grid[0]), *grid[1:]] if grid else []


def model_source(run: Run, step: Step) -> str:
    """Where the step's model was named, for errors: ``--model``, or its Model cell.

    A config tab without a Model column names the setting that chose the model instead.
    """
    if run.options.model:
        return "--model"
    tab = find_config_tab(run.book.titles, run.settings.config_tab, run.backend.location)
    config = ConfigTab(tab, run.book.grids.get(tab, []))
    if norm_header("Model") not in config.columns:
        return f"{quote_sheet(tab)} (no Model column, so SHEETAI_DEFAULT_MODEL)"
    return config.cell(step.row, "Model")


def _check(run: Run, step: Step) -> None:
    """The step's provider can run it (keys, server, Flex), else an error naming its Model cell:
    the providers say what to set, the engine says where the model was chosen."""
    try:
        run.providers.for_step(step).check(run_step(step))
    except ProviderError as error:
        raise ProviderError(f"{model_source(run, step)}: {error}") from error


def _unpriced(run: Run, step: Step, planned: RunSummary) -> None:
    """A cost cap cannot hold a model with no price: refuse before anything is sent (a dry run
    only warns)."""
    options = run.options
    if options.max_cost_usd is not None:
        cap = "--max-cost"
    elif run.settings.max_cost_usd is not None:
        cap = "SHEETAI_MAX_COST_USD"
    else:
        return
    message = unpriced_refusal(step, model_source(run, step), cap)
    if not options.dry_run:
        raise ProviderError(message)
    planned.messages.append(f"warning: {message}")


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
