"""The write-back stage: answers into the sheet and the state tab, always together.

Cells go through a :class:`~sheetai.engine.writer.ChunkWriter`, whose every commit first
rewrites the state tab, so what is saved always matches what the state vouches for. Rows and
columns are the sheet's 1-based numbers, as in every engine module.
"""

from __future__ import annotations

from ..backends.base import CellBlock, Grid
from ..interrupts import interrupts_held
from ..providers.base import RowResult
from ..row_outputs import RowOutputs
from ..state import STATE_TAB, StateRecord, StateWrite
from ..steps import Step
from ..text import norm_header
from .columns import StepColumns
from .grid import grid_set
from .outputs import compose_outputs, preview_row, reflagged, utc_now
from .plan import Category, RowPlan, flag_updates
from .preflight import stale_flag
from .run import Run, StepWork
from .writer import ChunkWriter

__all__ = ["WriteBack"]


class WriteBack:
    """Writes one run's results: cells in chunks, state records with them."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.writer = ChunkWriter(
            run.backend,
            chunk_rows=run.settings.chunk_rows,
            chunk_seconds=run.settings.chunk_seconds,
            before_commit=self.save_state,
            after_commit=self._state_saved,
            expected_save_seconds=run.read_seconds,
        )
        self._state_write: StateWrite | None = None

    def close(self) -> None:
        """Let go of the writer's callbacks once the run has saved. They refer back to this
        write-back, whose run holds every sheet, plan and state record: left in that cycle, a
        100k-row run's objects wait for the cycle collector (0.7 s, or as long at exit) instead
        of going when the sync returns."""
        self.writer.before_commit = self.writer.after_commit = None

    def headers(self, step: Step, cols: StepColumns) -> None:
        """Write the output headers this run adds to the step's sheet."""
        for col, name in cols.created.items():
            self.writer.set(step.sheet, 1, col, name)

    def apply(self, work: StepWork, result: RowResult, rows: list[RowPlan]) -> None:
        """Write one result to its rows and its state record; commit when a chunk is due."""
        step, summary = work.step, work.summary
        outputs = compose_outputs(step, result)
        # Record, cells and counts change together: Ctrl-C or SIGTERM waits for the end of the
        # block, so what is saved on the way out always matches the summary and the state.
        with interrupts_held():
            self.run.records(step)[result.key] = StateRecord(
                norm_header(step.name),
                result.key,
                result.status,
                outputs,
                utc_now(),
                work.plan.taught,
            )
            for row_plan in rows:
                self.write_row(step.sheet, work.grid, work.cols, row_plan.row, outputs)
            if self.run.options.preview is not None and rows:
                summary.preview.append(preview_row(rows[0], outputs))
            summary.model_calls += 0 if result.cached else 1
            summary.cached += 1 if result.cached else 0
            summary.tokens += result.tokens
            summary.cost_usd += result.cost_usd
            summary.processed += len(rows)
            if result.status == "failed":
                summary.failed += len(rows)
            elif outputs.flag:
                summary.flagged += len(rows)
            self.writer.row_done(len(rows))
        self.run.listener.rows_done(step, len(rows))
        if self.writer.due():
            self.writer.commit()

    def write_row(
        self, sheet: str, grid: Grid, cols: StepColumns, row: int, outputs: RowOutputs
    ) -> None:
        """Put ``outputs`` in one row's output cells, on the sheet and in ``grid``."""
        self.run.wrote(sheet, cols.all)
        for col, value in zip(cols.all, outputs.all, strict=True):
            self.writer.set(sheet, row, col, value)
            grid_set(grid, row, col, value)

    def write_flag(self, sheet: str, grid: Grid, cols: StepColumns, row: int, flag: object) -> None:
        """Put ``flag`` in one row's flag cell, on the sheet and in ``grid``."""
        self.run.wrote(sheet, (cols.flag,))
        self.writer.set(sheet, row, cols.flag, flag)
        grid_set(grid, row, cols.flag, flag)

    def write_flags(self, work: StepWork) -> None:
        """Flag rows whose inputs show errors (no model call), and unflag fixed ones."""
        for row, flag in flag_updates(work.plan, work.grid, work.cols.flag):
            self.write_flag(work.step.sheet, work.grid, work.cols, row, flag)

    def fill_and_reflag(self, work: StepWork) -> None:
        """Rewrite answers already paid for (copied rows, cleared cells) and refresh flags."""
        step, grid, cols, summary = work.step, work.grid, work.cols, work.summary
        filled = 0
        for row_plan in work.plan.rows:
            record = row_plan.record
            if record is None or record.status != "ok":
                continue
            if row_plan.category is Category.FILL:
                outputs = reflagged(step, record.outputs)
                self.write_row(step.sheet, grid, cols, row_plan.row, outputs)
                filled += 1
                if outputs.flag:
                    summary.flagged += 1
            elif (refreshed := stale_flag(step, grid, cols, row_plan)) is not None:
                self.write_flag(step.sheet, grid, cols, row_plan.row, refreshed.flag)
                record.outputs = refreshed
                summary.reflagged += 1
        summary.filled_from_state = filled
        summary.processed += filled
        if filled:
            self.writer.row_done(filled)
            self.run.listener.rows_done(step, filled)

    def commit(self) -> None:
        """Save what is buffered now (the state tab first)."""
        self.writer.commit()

    def save_state(self) -> None:
        """Write the rows of the hidden state tab (created on first use) that changed: the
        writer's pre-commit hook."""
        self.run.check_writable()
        backend, titles = self.run.backend, self.run.book.titles
        if STATE_TAB not in titles:
            backend.add_sheet(STATE_TAB, hidden=True)
            titles.append(STATE_TAB)
        write = self._state_write = self.run.state.changes()
        blocks = [CellBlock(STATE_TAB, row, 1, rows) for row, rows in write.blocks]
        if blocks:
            backend.write(blocks)

    def _state_saved(self) -> None:
        if self._state_write is not None:
            self.run.state.written(self._state_write)
            self._state_write = None

    def prune_state(self) -> None:
        """Forget answers no row holds any more, so the state tab stays the size of the data.

        A step with rows whose inputs cannot be read (formulas without results, error values)
        keeps all its records: those rows are still there, only unreadable for now, and once
        fixed they must be told from a person's edit. Records of steps that are
        not in this run are kept too (a step left out for a run, or renamed back).
        """
        for step in self.run.steps:
            grid = self.run.book.grids.get(step.sheet) or [[]]
            cols = self.run.columns(step, grid)
            present, unreadable = self.run.row_keys(step, grid, cols)
            if unreadable:
                continue
            records = self.run.records(step)
            for key in [k for k in records if k not in present]:
                del records[key]
