"""One sync: read the workbook, plan every step, run what must run, write results in chunks.

The library never prints: progress goes to a :class:`Listener`, the outcome is a
:class:`~sheetai.engine.summary.RunSummary`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..backends.base import Backend, CellBlock, Grid
from ..config_tab import parse_config
from ..errors import BudgetExceededError, ConfigError, RunInterrupted
from ..providers.base import Provider, RowInput, RowResult
from ..providers.registry import get_provider
from ..settings import Settings
from ..state import STATE_TAB, StateRecord, StateStore
from ..steps import Example, Step
from ..text import cell_text, did_you_mean, is_blank, norm_header
from .columns import StepColumns, resolve_columns
from .plan import Category, RowPlan, StepPlan, plan_rows, row_text
from .runlog import LOG_HEADERS, LOG_TAB, log_rows
from .summary import RunSummary, StepSummary
from .writer import ChunkWriter

__all__ = ["SyncOptions", "Listener", "sync", "compose_outputs"]

_PENDING = "\x00pending"


@dataclass
class SyncOptions:
    """What the caller asked for (the CLI's flags)."""

    step: str | None = None
    dry_run: bool = False
    force: bool = False
    only_flagged: bool = False
    model: str | None = None
    max_cost_usd: float | None = None
    preview: int | None = None
    confirm: Callable[[RunSummary], bool] | None = None


class Listener:
    """Receives progress; the CLI draws bars, the service records job progress."""

    def plan_ready(self, summary: RunSummary) -> None:
        """Called once with the dry-run plan before anything runs."""

    def step_started(self, step: Step, total: int) -> None:
        """``total`` rows will be written by this step."""

    def rows_done(self, step: Step, count: int) -> None:
        """``count`` more rows of the current step are written (in memory)."""

    def step_finished(self, summary: StepSummary) -> None:
        """The step is complete, failed or interrupted."""


def compose_outputs(step: Step, result: RowResult) -> list[Any]:
    """The cells a result puts in the step's output columns, flag last.

    >>> from sheetai.steps import Task
    >>> s = Step(name="s", sheet="F", inputs=["x"], task=Task.CLASSIFY, output="O",
    ...          model="local", min_confidence=0.6)
    >>> compose_outputs(s, RowResult(key="k", values=["Pos"], reasoning="r", confidence=0.5))
    ['Pos', 'r', 0.5, 'LOW_CONFIDENCE']
    """
    count = len(step.output_columns().values)
    values = (list(result.values) + [None] * count)[:count]
    if result.status == "failed":
        error = " ".join(result.error.split())
        flag = "ERROR: " + (error[:120] or "unknown error")
    elif result.status == "invalid":
        flag = "INVALID_OUTPUT"
    elif result.confidence is not None and result.confidence < step.min_confidence:
        flag = "LOW_CONFIDENCE"
    else:
        flag = ""
    confidence = None if result.confidence is None else round(float(result.confidence), 3)
    return [*values, result.reasoning or None, confidence, flag or None]


def sync(
    backend: Backend,
    settings: Settings | None = None,
    options: SyncOptions | None = None,
    listener: Listener | None = None,
    provider_for: Callable[[str, Settings], Provider] = get_provider,
) -> RunSummary:
    """Sync every step of the workbook behind ``backend``; see the module docstring."""
    return _Sync(
        backend,
        settings or Settings(),
        options or SyncOptions(),
        listener or Listener(),
        provider_for,
    ).run()


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

    # -- reading and planning -------------------------------------------------------------

    def run(self) -> RunSummary:
        started = time.monotonic()
        titles = self.backend.sheet_titles()
        tab = self._config_tab(titles)
        self.grids: dict[str, Grid] = self.backend.read(titles)
        self.titles = titles
        headers = {t: (g[0] if g else []) for t, g in self.grids.items() if t not in (STATE_TAB,)}
        steps = parse_config(
            self.grids.get(tab, []), headers, tab=tab, default_model=self.settings.default_model
        )
        steps = self._selected(steps)
        for step in steps:
            self._provider(step).check(step)
        self.state = StateStore.from_grid(self.grids.get(STATE_TAB))

        planned = self._plan_all(steps)
        self.listener.plan_ready(planned)
        if self.options.dry_run:
            planned.seconds = time.monotonic() - started
            planned.status = "dry-run"
            return planned
        cap = (
            self.options.max_cost_usd
            if self.options.max_cost_usd is not None
            else self.settings.max_cost_usd
        )
        estimate = planned.total("estimated_cost_usd")
        if cap is not None and estimate > cap:
            raise BudgetExceededError(
                f"the estimated cost ${estimate:.4f} is above the cap ${cap:.4f}. Raise "
                "--max-cost, run one step with --step, or use a cheaper model."
            )
        if (
            self.options.confirm is not None
            and planned.total("planned")
            and not self.options.confirm(planned)
        ):
            planned.status = "cancelled"
            return planned
        if planned.total("planned") or any(s.flagged for s in planned.steps):
            check = getattr(self.backend, "check_writable", None)
            if check is not None:
                check()

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
            self.summary.status = "interrupted"
            if self.summary.steps:
                self.summary.steps[-1].status = "interrupted"
            self._finish(started)
            raise RunInterrupted(self.summary) from None
        except BaseException:
            self.summary.status = "error"
            if self.summary.steps:
                self.summary.steps[-1].status = "error"
            self._finish(started)
            raise
        self._finish(started)
        return self.summary

    def _config_tab(self, titles: Sequence[str]) -> str:
        wanted = norm_header(self.settings.config_tab)
        for title in titles:
            if norm_header(title) == wanted:
                return title
        hint = did_you_mean(self.settings.config_tab, titles)
        raise ConfigError(
            f"{self.backend.location}: the workbook has no '{self.settings.config_tab}' tab{hint}. "
            "Add a tab with one row per step, or create one with `sheetai init`."
        )

    def _selected(self, steps: list[Step]) -> list[Step]:
        if self.options.model:
            for step in steps:
                step.model = self.options.model
        if not self.options.step:
            return steps
        chosen = [s for s in steps if norm_header(s.name) == norm_header(self.options.step)]
        if not chosen:
            names = [s.name for s in steps]
            hint = did_you_mean(self.options.step, names)
            raise ConfigError(
                f"--step: no step named '{self.options.step}'{hint}. Steps: {', '.join(names)}."
            )
        return chosen

    def _provider(self, step: Step) -> Provider:
        key = step.model.strip().casefold()
        if key not in self.providers:
            self.providers[key] = self.provider_for(step.model, self.settings)
        return self.providers[key]

    def _plan_all(self, steps: list[Step]) -> RunSummary:
        """Plan every step on a copy of the sheets, as if upstream steps had run."""
        grids = {step.sheet: copy.deepcopy(self.grids.get(step.sheet, [])) for step in steps}
        planned = RunSummary(workbook=self.backend.location, dry_run=True)
        for step in steps:
            grid = grids[step.sheet] or [[]]
            cols = resolve_columns(step, grid[0])
            plan = self._plan(step, grid, cols)
            summary = self._counts(step, plan)
            unique = plan.unique_to_run()
            estimate = self._provider(step).estimate(step, [self._row_input(r) for r in unique])
            summary.tokens = estimate.tokens
            summary.estimated_cost_usd = estimate.cost_usd
            summary.status = "planned"
            for row_plan in plan.to_run():
                _set(grid, row_plan.row, cols.values[0], f"{_PENDING}{row_plan.fingerprint}")
            planned.steps.append(summary)
        return planned

    def _plan(self, step: Step, grid: Grid, cols: StepColumns) -> StepPlan:
        return plan_rows(
            grid,
            step_fingerprint=step.fingerprint(),
            input_cols=cols.inputs,
            owned_cols=cols.owned,
            flag_col=cols.flag,
            value_count=len(cols.values),
            records=self.state.for_step(step.name),
            force=self.options.force,
            only_flagged=self.options.only_flagged,
        )

    @staticmethod
    def _counts(step: Step, plan: StepPlan) -> StepSummary:
        counts = plan.counts
        runs = sum(n for c, n in counts.items() if c.runs)
        return StepSummary(
            step=step.name,
            sheet=step.sheet,
            model=step.model,
            planned=runs + counts[Category.FILL],
            skipped_unchanged=counts[Category.UNCHANGED],
            kept_human_edits=counts[Category.HUMAN_EDIT],
            new=counts[Category.NEW],
            changed=counts[Category.CHANGED] + counts[Category.FORCED] + counts[Category.FLAGGED],
            retried=counts[Category.RETRY],
            blank_inputs=counts[Category.BLANK],
            unreadable_inputs=counts[Category.UNREADABLE],
        )

    @staticmethod
    def _row_input(row_plan: RowPlan) -> RowInput:
        return RowInput(
            key=row_plan.fingerprint, text=row_text(row_plan.inputs), inputs=row_plan.inputs
        )

    # -- running and writing --------------------------------------------------------------

    def _execute(self, step: Step) -> None:
        started = time.monotonic()
        grid = self.grids.setdefault(step.sheet, [[]])
        if not grid:
            grid.append([])
        cols = resolve_columns(step, grid[0])
        for col, name in cols.created.items():
            self.writer.set(step.sheet, 1, col + 1, name)
        plan = self._plan(step, grid, cols)
        summary = self._counts(step, plan)
        self.summary.steps.append(summary)
        self.listener.step_started(step, summary.planned)
        records = self.state.for_step(step.name)
        try:
            if self.options.preview is None:
                self._fill_and_reflag(step, grid, cols, plan, summary)
            by_key: dict[str, list[RowPlan]] = {}
            for row_plan in plan.to_run():
                preview = self.options.preview
                if (
                    preview is not None
                    and row_plan.fingerprint not in by_key
                    and len(by_key) >= preview
                ):
                    continue
                by_key.setdefault(row_plan.fingerprint, []).append(row_plan)
            if self.options.preview is not None:
                summary.planned = sum(len(rows) for rows in by_key.values())
            unique = [self._row_input(rows[0]) for rows in by_key.values()]
            training = self._training(step, grid, cols, plan)
            provider = self._provider(step)
            for result in provider.run(step, unique, training) if unique else ():
                outputs = compose_outputs(step, result)
                rows = by_key.get(result.key, [])
                for row_plan in rows:
                    self._write_row(step.sheet, grid, cols, row_plan.row, outputs)
                if self.options.preview is not None and rows:
                    summary.preview.append(_preview_row(rows[0], outputs))
                records[result.key] = StateRecord(
                    step.name, result.key, result.status, outputs, _now()
                )
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
        finally:
            summary.seconds = time.monotonic() - started
        self.listener.step_finished(summary)

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
                outputs = self._reflagged(step, record.outputs)
                self._write_row(step.sheet, grid, cols, row_plan.row, outputs)
                filled += 1
                if outputs[-1]:
                    summary.flagged += 1
            elif row_plan.category is Category.UNCHANGED:
                outputs = self._reflagged(step, record.outputs)
                current = _get(grid, row_plan.row, cols.flag)
                if cell_text(current) != cell_text(outputs[-1]):
                    self.writer.set(step.sheet, row_plan.row, cols.flag + 1, outputs[-1])
                    _set(grid, row_plan.row, cols.flag, outputs[-1])
                    record.outputs = outputs
        summary.filled_from_state = filled
        summary.processed += filled
        if filled:
            self.writer.row_done(filled)
            self.listener.rows_done(step, filled)

    @staticmethod
    def _reflagged(step: Step, outputs: list[Any]) -> list[Any]:
        count = len(step.output_columns().values)
        confidence = outputs[count + 1] if len(outputs) > count + 1 else None
        result = RowResult(
            key="",
            values=outputs[:count],
            reasoning=cell_text(outputs[count]) if len(outputs) > count else "",
        )
        try:
            result.confidence = None if is_blank(confidence) else float(str(confidence))
        except (TypeError, ValueError):
            result.confidence = None
        return compose_outputs(step, result)

    def _write_row(
        self, sheet: str, grid: Grid, cols: StepColumns, row: int, outputs: list[Any]
    ) -> None:
        for col, value in zip(cols.outputs, outputs, strict=True):
            self.writer.set(sheet, row, col + 1, value)
            _set(grid, row, col, value)

    def _training(self, step: Step, grid: Grid, cols: StepColumns, plan: StepPlan) -> list[Example]:
        """Rows a person labelled: a gold column, and answers they typed over ours."""
        names = {norm_header(n): n for n in step.label_names}
        examples: list[Example] = []
        for row_plan in plan.rows:
            if row_plan.category in (Category.BLANK, Category.UNREADABLE):
                continue
            label = None
            if cols.gold is not None:
                label = names.get(norm_header(_get(grid, row_plan.row, cols.gold)))
            if label is None and row_plan.category is Category.HUMAN_EDIT:
                label = names.get(norm_header(_get(grid, row_plan.row, cols.values[0])))
            if label is not None:
                examples.append(Example(text=row_text(row_plan.inputs), label=label))
        return examples

    def _write_state(self) -> None:
        if STATE_TAB not in self.titles:
            self.backend.add_sheet(STATE_TAB, hidden=True)
            self.titles.append(STATE_TAB)
        grid = self.state.to_grid()
        self.backend.write([CellBlock(STATE_TAB, 1, 1, grid)])

    def _prune_state(self, steps: list[Step]) -> None:
        """Forget answers no row holds any more, so the state tab stays the size of the data."""
        for step in steps:
            grid = self.grids.get(step.sheet) or [[]]
            cols = resolve_columns(step, grid[0])
            plan = self._plan(step, grid, cols)
            present = {r.fingerprint for r in plan.rows}
            records = self.state.for_step(step.name)
            for key in [k for k in records if k not in present]:
                del records[key]
        if not self.options.step:
            names = {s.name for s in steps}
            for name in [n for n in self.state.records if n not in names]:
                del self.state.records[name]

    def _finish(self, started: float) -> None:
        self.summary.seconds = time.monotonic() - started
        wrote = any(s.processed or s.failed for s in self.summary.steps)
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
        rows = log_rows(self.summary)
        if not grid:
            rows = [LOG_HEADERS, *rows]
        self.backend.write([CellBlock(LOG_TAB, len(grid or []) + 1, 1, rows)])


def _preview_row(row_plan: RowPlan, outputs: list[Any]) -> dict[str, Any]:
    return {
        "row": row_plan.row,
        "input": row_text(row_plan.inputs),
        "result": outputs[0] if len(outputs) == 4 else outputs[:-3],
        "reasoning": outputs[-3],
        "confidence": outputs[-2],
        "flag": outputs[-1],
    }


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _get(grid: Grid, row: int, col: int) -> Any:
    cells = grid[row - 1] if row - 1 < len(grid) else []
    return cells[col] if col < len(cells) else None


def _set(grid: Grid, row: int, col: int, value: Any) -> None:
    while len(grid) < row:
        grid.append([])
    cells = grid[row - 1]
    if len(cells) <= col:
        cells.extend([None] * (col + 1 - len(cells)))
    cells[col] = value
