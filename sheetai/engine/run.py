"""The run object: what one sync's stages share (read → plan → run → write back → log).

:class:`Run` holds the caller's options, the workbook as read, the state records, the budget
and the providers; :class:`StepWork` is one step's slice of it while the step runs. Rows and
columns are the sheet's 1-based numbers, as in every engine module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..backends.base import Backend, CellRange, Grid
from ..providers.base import Budget, Provider
from ..settings import Settings
from ..state import STATE_TAB, StateRecord, StateStore
from ..steps import Step
from ..text import norm_header
from .columns import StepColumns, resolve_columns, used_width
from .options import Listener, SyncOptions
from .plan import Category, RowPlan, StepPlan, plan_rows, row_keys
from .relearn import Relearning, teach
from .summary import RunSummary, StepSummary
from .workbook import Workbook

__all__ = ["Providers", "Run", "StepWork"]

_UNREADABLE = (Category.UNREADABLE, Category.INPUT_ERROR)


class Providers:
    """One provider per model for the whole run; all closed when it ends."""

    def __init__(self, provider_for: Callable[[str, Settings], Provider], settings: Settings):
        self._provider_for = provider_for
        self._settings = settings
        self._by_model: dict[str, Provider] = {}

    def named(self, model: str) -> Provider:
        """The provider of ``model``, made on first use."""
        key = model.strip().casefold()
        if key not in self._by_model:
            self._by_model[key] = self._provider_for(model, self._settings)
        return self._by_model[key]

    def for_step(self, step: Step) -> Provider:
        """The provider that answers ``step`` this run (``--model`` applied)."""
        return self.named(step.run_model or step.model)

    def close(self) -> None:
        """Providers hold cache databases and clients for the run; none outlives it."""
        for provider in self._by_model.values():
            provider.close()


class Run:
    """Everything one sync's stages share, made once the workbook is read."""

    def __init__(
        self,
        backend: Backend,
        settings: Settings,
        options: SyncOptions,
        listener: Listener,
        providers: Providers,
        book: Workbook,
        summary: RunSummary,
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.options = options
        self.listener = listener
        self.providers = providers
        self.book = book
        self.summary = summary
        #: How long reading the workbook took: what a save is expected to take at first.
        self.read_seconds = 0.0
        self.state = StateStore.from_grid(book.grids.get(STATE_TAB))
        cap = options.max_cost_usd if options.max_cost_usd is not None else settings.max_cost_usd
        # The cap is enforced while running: no request starts once spent + in flight would
        # pass it; rows not started stay planned for the next run.
        self.budget = Budget(cap)
        #: What each step does with its stale answers, by normalised step name (planning.py).
        self.relearning: dict[str, Relearning] = {}
        self._formats: dict[str, dict[tuple[int, int], str]] = {}
        self._merged: dict[str, list[CellRange]] = {}
        self._writable_checked = False
        #: Plans made while planning, by normalised step name, with the sheet's write count
        #: then: the run reuses one while nothing has been written to its sheet since.
        self._planned: dict[str, tuple[int, StepPlan]] = {}
        self._writes: dict[str, int] = {}
        #: Writes by (sheet, column), and the plan each step ran with beside the writes to its
        #: input columns then: its fingerprints hold while those columns are not written.
        self._column_writes: dict[tuple[str, int], int] = {}
        self._used: dict[str, tuple[int, StepPlan]] = {}

    @property
    def steps(self) -> list[Step]:
        return self.book.steps

    def records(self, step: Step) -> dict[str, StateRecord]:
        """The step's state records by fingerprint, kept under its normalised name."""
        # "Sentiment" and "sentiment " are the same step.
        return self.state.for_step(norm_header(step.name))

    def columns(self, step: Step, grid: Grid) -> StepColumns:
        """The step's columns on ``grid``; missing output headers are added to its row 1."""
        return resolve_columns(step, grid[0], used_width(grid))

    def plan(self, step: Step, grid: Grid, cols: StepColumns) -> StepPlan:
        """Which rows of ``grid`` the step runs, with this run's options, state and what its
        model learns from (stale rows are re-answered when the run decided so)."""
        records = self.records(step)
        plan = plan_rows(
            grid,
            step_fingerprint=step.fingerprint(),
            cols=cols,
            records=records,
            force=self.options.force,
            only_flagged=self.options.only_flagged,
            formats=self.formats(step.sheet),
        )
        teach(
            plan,
            step,
            grid,
            cols,
            self.book.grids,
            history=bool(records),
            provider=self.providers.for_step(step),
            settings=self.settings,
            decided=self.relearning.get(norm_header(step.name)),
        )
        return plan

    def keep_plan(self, step: Step, plan: StepPlan) -> None:
        """Keep a plan made on the sheet as it was read, for :meth:`step_plan` to reuse."""
        self._planned[norm_header(step.name)] = (self._writes.get(step.sheet, 0), plan)

    def step_plan(self, step: Step, grid: Grid, cols: StepColumns) -> StepPlan:
        """The step's plan when it starts: the one kept while planning if its sheet has not been
        written since (the rows, state and decisions it was made from are the same), else
        :meth:`plan` anew. A kept plan is used once."""
        kept = self._planned.pop(norm_header(step.name), None)
        if kept is not None and kept[0] == self._writes.get(step.sheet, 0):
            plan = kept[1]
        else:
            plan = self.plan(step, grid, cols)
        self._used[norm_header(step.name)] = (self._input_writes(step, cols), plan)
        return plan

    def row_keys(self, step: Step, grid: Grid, cols: StepColumns) -> tuple[set[str], bool]:
        """:func:`~.plan.row_keys` of the step's rows, taken from the plan it ran with while
        no input cell of it has been written since."""
        used = self._used.get(norm_header(step.name))
        if used is not None and used[0] == self._input_writes(step, cols):
            rows = used[1].rows
            if len(rows) == len(grid) - 1:
                unreadable = any(r.category in _UNREADABLE for r in rows)
                return {r.fingerprint for r in rows}, unreadable
        return row_keys(grid, step_fingerprint=step.fingerprint(), cols=cols)

    def _input_writes(self, step: Step, cols: StepColumns) -> int:
        return sum(self._column_writes.get((step.sheet, c), 0) for c in cols.inputs.values())

    def wrote(self, sheet: str, columns: Iterable[int] = ()) -> None:
        """Note a write to ``columns`` of ``sheet``'s grid: plans kept for it may no longer
        hold."""
        self._writes[sheet] = self._writes.get(sheet, 0) + 1
        for col in columns:
            key = sheet, col
            self._column_writes[key] = self._column_writes.get(key, 0) + 1

    def formats(self, sheet: str) -> dict[tuple[int, int], str]:
        """Number-format codes of ``sheet`` by (row, col), read once per run."""
        if sheet not in self._formats:
            self._formats[sheet] = self.backend.number_formats(sheet)
        return self._formats[sheet]

    def merged(self, sheet: str) -> list[CellRange]:
        """Merged areas of ``sheet``, read once per run."""
        if sheet not in self._merged:
            self._merged[sheet] = self.backend.merged_ranges(sheet)
        return self._merged[sheet]

    def check_writable(self) -> None:
        """Ask the backend once per run whether the workbook can be written."""
        if not self._writable_checked:
            self.backend.check_writable()
            self._writable_checked = True


@dataclass
class StepWork:
    """One step while it runs: its sheet, columns, plan, rows to answer and counts."""

    step: Step
    grid: Grid
    cols: StepColumns
    plan: StepPlan
    summary: StepSummary
    #: Rows to answer grouped by fingerprint (identical inputs run once), ``--preview`` cut.
    by_key: dict[str, list[RowPlan]]
