"""One sync: read the workbook, plan every step, run what must run, write results in chunks.

The library never prints: progress goes to a :class:`Listener`, the outcome is a
:class:`~sheetai.engine.summary.RunSummary`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..backends.base import Backend, CellBlock, CellRange, Grid
from ..config_tab import parse_config
from ..errors import RunInterrupted, WorkbookError
from ..interrupts import interrupts_held
from ..providers.base import Budget, Provider, RowInput, RowResult, RunOptions
from ..providers.registry import get_provider
from ..settings import Settings
from ..state import STATE_TAB, StateRecord, StateStore
from ..steps import Example, Step
from ..text import norm_header
from .batching import Batches, has_batch_api
from .columns import StepColumns, resolve_columns, used_width
from .learning import training_examples
from .options import Listener, SyncOptions
from .outputs import compose_outputs, grid_set, preview_row, reflagged, utc_now
from .plan import Category, RowPlan, StepPlan, flag_updates, plan_rows, row_input
from .preflight import planned_cells, refuse_merged, stale_flag
from .runlog import LOG_HEADERS, LOG_TAB, header_outdated, log_rows
from .selection import find_config_tab, run_step, select_steps
from .summary import RunSummary, StepSummary, add_counts, from_plan, record_outputs
from .writer import ChunkWriter

__all__ = ["SyncOptions", "Listener", "sync", "compose_outputs"]

_PENDING = "\x00pending"


def sync(
    backend: Backend,
    settings: Settings | None = None,
    options: SyncOptions | None = None,
    listener: Listener | None = None,
    provider_for: Callable[[str, Settings], Provider] = get_provider,
) -> RunSummary:
    """Sync every step of the workbook behind ``backend``; see the module docstring."""
    run = _Sync(
        backend,
        settings or Settings(),
        options or SyncOptions(),
        listener or Listener(),
        provider_for,
    )
    try:
        return run.run()
    finally:
        # Providers hold cache databases and clients for the run; none outlives it.
        for provider in run.providers.values():
            provider.close()


class _Sync:
    def __init__(
        self,
        backend: Backend,
        settings: Settings,
        options: SyncOptions,
        listener: Listener,
        provider_for: Callable[[str, Settings], Provider],
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.options = options
        self.listener = listener
        self.provider_for = provider_for
        self.providers: dict[str, Provider] = {}
        self.summary = RunSummary(workbook=backend.location, dry_run=options.dry_run)
        self.writable_checked = False
        self.writes_planned = False
        self.formats: dict[str, dict[tuple[int, int], str]] = {}
        self.merged: dict[str, list[CellRange]] = {}
        self.batches = Batches(self)

    # -- reading and planning -------------------------------------------------------------

    def run(self) -> RunSummary:
        started = time.monotonic()
        try:
            steps, planned = self._read_and_plan()
        except KeyboardInterrupt:
            self.summary.status = "interrupted"
            self.summary.seconds = time.monotonic() - started
            raise RunInterrupted(self.summary) from None
        if self.options.dry_run:
            planned.seconds = time.monotonic() - started
            planned.status = "dry-run"
            return planned
        cap = (
            self.options.max_cost_usd
            if self.options.max_cost_usd is not None
            else self.settings.max_cost_usd
        )
        # The cap is enforced while running: no request starts once spent + in flight would
        # pass it; rows not started stay planned for the next run.
        self.budget = Budget(cap)
        estimate = planned.total("estimated_cost_usd")
        if cap is not None and estimate > cap:
            self.summary.messages.append(
                f"the estimated cost ${estimate:.4f} is above the cap ${cap:.4f}: the run will "
                "stop starting requests when it reaches the cap."
            )
        if (
            self.options.confirm is not None
            and planned.total("planned")
            and not self.options.confirm(planned)
        ):
            planned.status = "cancelled"
            return planned

        self.writer = ChunkWriter(
            self.backend,
            chunk_rows=self.settings.chunk_rows,
            chunk_seconds=self.settings.chunk_seconds,
            before_commit=self._write_state,
        )
        try:
            for step in steps:
                self._execute(step)
            self._prune_state(steps)
        except KeyboardInterrupt:
            self._stopped(started, "interrupted")
            raise RunInterrupted(self.summary) from None
        except BaseException:
            self._stopped(started, "error")
            raise
        self._finish(started)
        return self.summary

    def _read_and_plan(self) -> tuple[list[Step], RunSummary]:
        titles = self.backend.sheet_titles()
        tab = find_config_tab(titles, self.settings.config_tab, self.backend.location)
        self.grids: dict[str, Grid] = self.backend.read(titles)
        self.titles = titles
        headers = {t: (g[0] if g else []) for t, g in self.grids.items() if t != STATE_TAB}
        steps = parse_config(
            self.grids.get(tab, []),
            headers,
            tab=tab,
            default_model=self.settings.default_model,
            sheet_rows=self.grids,
        )
        steps = select_steps(steps, self.options)
        for step in steps:
            self._provider(step).check(run_step(step))
        self.state = StateStore.from_grid(self.grids.get(STATE_TAB))
        planned = self._plan_all(steps)
        if self.writes_planned:
            self._preflight_writable(planned)
        self.listener.plan_ready(planned)
        return steps, planned

    def _preflight_writable(self, planned: RunSummary) -> None:
        """A locked or read-only file stops a run before any model call; a dry run warns.

        Only a warning there: a lock file goes away when the user closes Excel, and the plan
        is still worth seeing.
        """
        if not self.options.dry_run:
            self._check_writable()
            return
        try:
            self._check_writable()
        except WorkbookError as exc:
            planned.messages.append(f"warning: {exc} A run would stop here, before any model call.")

    def _formats(self, sheet: str) -> dict[tuple[int, int], str]:
        if sheet not in self.formats:
            self.formats[sheet] = self.backend.number_formats(sheet)
        return self.formats[sheet]

    def _merged(self, sheet: str) -> list[CellRange]:
        if sheet not in self.merged:
            self.merged[sheet] = self.backend.merged_ranges(sheet)
        return self.merged[sheet]

    def _stopped(self, started: float, status: str) -> None:
        self.summary.status = status
        if self.summary.steps:
            self.summary.steps[-1].status = status
        self._finish(started)

    def _provider(self, step: Step) -> Provider:
        return self._provider_named(step.run_model or step.model)

    def _provider_named(self, model: str) -> Provider:
        key = model.strip().casefold()
        if key not in self.providers:
            self.providers[key] = self.provider_for(model, self.settings)
        return self.providers[key]

    def _records(self, step: Step) -> dict[str, StateRecord]:
        # Keyed by the normalised name, so "Sentiment" and "sentiment " are the same step.
        return self.state.for_step(norm_header(step.name))

    def _columns(self, step: Step, grid: Grid) -> StepColumns:
        return resolve_columns(step, grid[0], used_width(grid))

    def _plan_all(self, steps: list[Step]) -> RunSummary:
        """Plan every step on a copy of the sheets, as if upstream steps had run."""
        grids = {step.sheet: copy.deepcopy(self.grids.get(step.sheet, [])) for step in steps}
        planned = RunSummary(workbook=self.backend.location, dry_run=True)
        for step in steps:
            grid = grids[step.sheet] or [[]]
            cols = self._columns(step, grid)
            plan = self._plan(step, grid, cols)
            summary = from_plan(step, plan)
            unique = plan.unique_to_run()
            if self.options.preview is not None:
                unique = unique[: self.options.preview]
                summary.planned = len(unique)
            answering = run_step(step)
            provider = self._provider(step)
            estimate = provider.estimate(answering, [row_input(r) for r in unique])
            summary.tokens = estimate.tokens
            summary.estimated_cost_usd = estimate.cost_usd
            if self.options.batch and self.options.preview is None and has_batch_api(provider):
                summary.estimated_cost_usd /= 2  # what the Batch API charges
            summary.status = "planned"
            self._refuse_planned_writes(step, grid, cols, plan, unique)
            for row_plan in plan.to_run():
                grid_set(grid, row_plan.row, cols.values[0], f"{_PENDING}{row_plan.fingerprint}")
            planned.steps.append(summary)
            self._warn_if_history_lost(step, plan, planned)
            self._warn_of_input_errors(step, plan, planned)
        return planned

    def _refuse_planned_writes(
        self, step: Step, grid: Grid, cols: StepColumns, plan: StepPlan, unique: list[RowPlan]
    ) -> None:
        """Refuse, before any model call, a plan that would write into merged cells."""
        run_keys = {r.fingerprint for r in unique} if self.options.preview is not None else None
        cells = planned_cells(step, plan, grid, cols, run_keys=run_keys)
        if cells:
            self.writes_planned = True
            refuse_merged(step.sheet, step.name, grid[0], self._merged(step.sheet), cells)

    def _warn_of_input_errors(self, step: Step, plan: StepPlan, planned: RunSummary) -> None:
        errors = plan.counts[Category.INPUT_ERROR]
        if errors:
            planned.messages.append(
                f"step '{step.name}': {errors} rows skipped because an input cell shows an error "
                f"value (#N/A, #DIV/0! ...); each is flagged in '{step.output} flag'. Fix those "
                "cells (or the formulas' sources) and run again: the rows then run."
            )
            self.summary.messages.append(planned.messages[-1])

    def _warn_if_history_lost(self, step: Step, plan: StepPlan, planned: RunSummary) -> None:
        kept = plan.counts[Category.HUMAN_EDIT]
        if kept and not self._records(step):
            planned.messages.append(
                f"step '{step.name}': {kept} rows already hold answers sheetai has no record of "
                "(the step was renamed, or the hidden _sheetai_state tab was lost), so they are "
                "kept as if a person wrote them. Run with --force to answer them again."
            )
            self.summary.messages.append(planned.messages[-1])

    def _plan(self, step: Step, grid: Grid, cols: StepColumns) -> StepPlan:
        return plan_rows(
            grid,
            step_fingerprint=step.fingerprint(),
            input_cols=cols.inputs,
            owned_cols=cols.owned,
            flag_col=cols.flag,
            value_count=len(cols.values),
            records=self._records(step),
            force=self.options.force,
            only_flagged=self.options.only_flagged,
            formats=self._formats(step.sheet),
        )

    # -- running and writing --------------------------------------------------------------

    def _execute(self, step: Step) -> None:
        started = time.monotonic()
        grid = self.grids.setdefault(step.sheet, [[]])
        if not grid:
            grid.append([])
        cols = self._columns(step, grid)
        for col, name in cols.created.items():
            self.writer.set(step.sheet, 1, col + 1, name)
        collected = StepSummary(step=step.name, sheet=step.sheet, model=step.model)
        self.batches.collect(step, grid, cols, collected)
        plan = self._plan(step, grid, cols)
        summary = from_plan(step, plan)
        add_counts(summary, collected)
        self.summary.steps.append(summary)
        self.listener.step_started(step, summary.planned)
        provider = self._provider(step)
        try:
            if self.options.preview is None:
                self._write_flags(step, grid, cols, plan)
                self._fill_and_reflag(step, grid, cols, plan, summary)
            by_key = self._rows_by_key(plan)
            if self.options.preview is not None:
                summary.planned = sum(len(rows) for rows in by_key.values())
            unique = [row_input(rows[0]) for rows in by_key.values()]
            training = training_examples(
                step, grid, cols, plan, self.grids, trust_edits=bool(self._records(step))
            )
            results: Iterable[RowResult] = ()
            if self.options.batch and unique and self.options.preview is None:
                results = self.batches.submit(step, provider, unique, grid, cols, by_key, summary)
            elif unique and not self.budget.exhausted:
                results = self._run_provider(provider, run_step(step), unique, training)
            for result in results:
                self._apply(step, grid, cols, summary, result, by_key.get(result.key, []))
            if self.options.batch and self.options.wait and summary.batch_ids:
                self.writer.commit()
                self.batches.wait(step, grid, cols, summary)
        finally:
            summary.seconds = time.monotonic() - started
            for name, value in provider.take_stats().items():
                current = getattr(summary, name, None)
                if isinstance(current, (int, float)) and isinstance(value, (int, float)):
                    setattr(summary, name, current + value)
                elif isinstance(current, str) and isinstance(value, str) and value:
                    setattr(summary, name, value)  # e.g. the response format used
            record_outputs(summary, grid, cols)
        if self.budget.exhausted and summary.status == "done":
            summary.status = "cost_cap"
            self.summary.status = "cost_cap"
            self.summary.messages.append(
                f"stopped starting requests at the cost cap ${self.budget.cap_usd:.4f} "
                f"(spent ${self.budget.spent_usd:.4f}); rows not run stay planned: run again "
                "with a higher --max-cost to do them."
            )
        self.listener.step_finished(summary)

    def _rows_by_key(self, plan: StepPlan) -> dict[str, list[RowPlan]]:
        """Rows to run grouped by fingerprint (identical inputs run once), ``--preview`` cut."""
        preview = self.options.preview
        by_key: dict[str, list[RowPlan]] = {}
        for row_plan in plan.to_run():
            if (
                preview is not None
                and row_plan.fingerprint not in by_key
                and len(by_key) >= preview
            ):
                continue
            by_key.setdefault(row_plan.fingerprint, []).append(row_plan)
        return by_key

    def _apply(
        self,
        step: Step,
        grid: Grid,
        cols: StepColumns,
        summary: StepSummary,
        result: RowResult,
        rows: list[RowPlan],
    ) -> None:
        """Write one result to its rows and its state record; commit when a chunk is due."""
        outputs = compose_outputs(step, result)
        # Record, cells and counts change together: Ctrl-C or SIGTERM waits for the end of the
        # block, so what is saved on the way out always matches the summary and the state.
        with interrupts_held():
            self._records(step)[result.key] = StateRecord(
                norm_header(step.name), result.key, result.status, outputs, utc_now()
            )
            for row_plan in rows:
                self._write_row(step.sheet, grid, cols, row_plan.row, outputs)
            if self.options.preview is not None and rows:
                summary.preview.append(preview_row(rows[0], outputs))
            summary.model_calls += 0 if result.cached else 1
            summary.cached += 1 if result.cached else 0
            summary.tokens += result.tokens
            summary.cost_usd += result.cost_usd
            summary.processed += len(rows)
            if result.status == "failed":
                summary.failed += len(rows)
            elif outputs[-1]:
                summary.flagged += len(rows)
            self.writer.row_done(len(rows))
        self.listener.rows_done(step, len(rows))
        if self.writer.due():
            self.writer.commit()

    def _run_provider(
        self, provider: Provider, step: Step, rows: list[RowInput], training: list[Example]
    ) -> Any:
        """``provider.run`` with the run-wide options."""
        options = RunOptions(
            budget=self.budget,
            rpm=self.options.rpm,
            tpm=self.options.tpm,
            concurrency=self.options.concurrency,
            status=lambda text: self.listener.status(step, text),
        )
        return provider.run(step, rows, training, options)

    def _fill_and_reflag(
        self, step: Step, grid: Grid, cols: StepColumns, plan: StepPlan, summary: StepSummary
    ) -> None:
        """Rewrite answers already paid for (copied rows, cleared cells) and refresh flags."""
        filled = 0
        for row_plan in plan.rows:
            record = row_plan.record
            if record is None or record.status != "ok":
                continue
            if row_plan.category is Category.FILL:
                outputs = reflagged(step, record.outputs)
                self._write_row(step.sheet, grid, cols, row_plan.row, outputs)
                filled += 1
                if outputs[-1]:
                    summary.flagged += 1
            elif (refreshed := stale_flag(step, grid, cols, row_plan)) is not None:
                self.writer.set(step.sheet, row_plan.row, cols.flag + 1, refreshed[-1])
                grid_set(grid, row_plan.row, cols.flag, refreshed[-1])
                record.outputs = refreshed
                summary.reflagged += 1
        summary.filled_from_state = filled
        summary.processed += filled
        if filled:
            self.writer.row_done(filled)
            self.listener.rows_done(step, filled)

    def _write_flags(self, step: Step, grid: Grid, cols: StepColumns, plan: StepPlan) -> None:
        """Flag rows whose inputs show errors (no model call), and unflag fixed ones."""
        for row, flag in flag_updates(plan, grid, cols.flag):
            self.writer.set(step.sheet, row, cols.flag + 1, flag)
            grid_set(grid, row, cols.flag, flag)

    def _write_row(
        self, sheet: str, grid: Grid, cols: StepColumns, row: int, outputs: list[Any]
    ) -> None:
        for col, value in zip(cols.outputs, outputs, strict=True):
            self.writer.set(sheet, row, col + 1, value)
            grid_set(grid, row, col, value)

    def _check_writable(self) -> None:
        if not self.writable_checked:
            self.backend.check_writable()
            self.writable_checked = True

    def _write_state(self) -> None:
        self._check_writable()
        if STATE_TAB not in self.titles:
            self.backend.add_sheet(STATE_TAB, hidden=True)
            self.titles.append(STATE_TAB)
        grid = self.state.to_grid()
        self.backend.write([CellBlock(STATE_TAB, 1, 1, grid)])

    def _prune_state(self, steps: list[Step]) -> None:
        """Forget answers no row holds any more, so the state tab stays the size of the data.

        A step with rows whose inputs cannot be read (formulas without results, error values)
        keeps all its records: those rows are still there, only unreadable for now, and once
        fixed they must be told from a person's edit. Records of steps that are
        not in this run are kept too (a step left out for a run, or renamed back).
        """
        for step in steps:
            grid = self.grids.get(step.sheet) or [[]]
            plan = self._plan(step, grid, self._columns(step, grid))
            if plan.counts[Category.UNREADABLE] or plan.counts[Category.INPUT_ERROR]:
                continue
            present = {r.fingerprint for r in plan.rows}
            records = self._records(step)
            for key in [k for k in records if k not in present]:
                del records[key]

    def _finish(self, started: float) -> None:
        self.summary.seconds = time.monotonic() - started
        wrote = any(s.processed or s.failed or s.reflagged for s in self.summary.steps)
        if not (wrote or self.writer.pending):
            return
        if wrote or self.summary.status != "done":
            self._append_log()
        self.writer.commit()

    def _append_log(self) -> None:
        grid = self.grids.get(LOG_TAB)
        if LOG_TAB not in self.titles:
            self.backend.add_sheet(LOG_TAB)
            self.titles.append(LOG_TAB)
            grid = []
            # Room for the header, and for a timestamp in the first column.
            widths = {i: max(10, len(h) + 3) for i, h in enumerate(LOG_HEADERS, start=1)}
            self.backend.set_column_widths(LOG_TAB, {**widths, 1: 20})
        rows = log_rows(self.summary)
        blocks = []
        if not grid:
            rows = [LOG_HEADERS, *rows]
        elif header_outdated(grid[0]):
            blocks.append(CellBlock(LOG_TAB, 1, 1, [LOG_HEADERS]))
        blocks.append(CellBlock(LOG_TAB, len(grid or []) + 1, 1, rows))
        self.backend.write(blocks)
