"""What quality control reads from a workbook: each classify step's answers and the labels a
person vouched for (the ``sheetai review`` tab's ``Correct label`` column and ``<Output> (gold)``
columns on the data sheet).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..a1 import cell_address, quote_sheet
from ..backends.base import Grid
from ..engine.columns import resolve_columns
from ..engine.grid import grid_get
from ..engine.plan import Category, plan_rows, row_text
from ..engine.relearn import REVIEWED
from ..engine.reviews import read_reviews
from ..engine.workbook import select_steps
from ..errors import ConfigError
from ..state import STATE_TAB, StateStore
from ..steps import Step, Task
from ..text import cell_text, did_you_mean, is_blank, norm_header
from .sampling import LOW_STRATUM

__all__ = ["SheetRow", "StepData", "step_data", "classify_steps", "LOW_STRATUM"]


@dataclass
class SheetRow:
    """One answered (or reviewed) data row of a step. ``row`` is the sheet's row number."""

    row: int
    text: str
    answer: str | None
    confidence: float | None
    flag: str
    gold: str | None = None
    source: str = ""  # where the gold label came from: "review" or "gold column"
    stratum: str = ""  # the review tab's Stratum, when the row was drawn by `sheetai review`
    stratum_rows: int | None = None  # answered rows in that stratum when it was drawn
    edited: bool = False  # a person typed this answer over sheetai's (per the state tab)
    from_review: bool = False  # sheetai wrote the reviewer's label here (engine.relearn)


@dataclass
class StepData:
    """A classify step's rows and the problems met while reading its reviews."""

    step: Step
    rows: list[SheetRow]
    warnings: list[str] = field(default_factory=list)

    @property
    def answered(self) -> list[SheetRow]:
        return [r for r in self.rows if r.answer is not None and not r.flag.startswith("ERROR")]

    @property
    def reviewed(self) -> list[SheetRow]:
        return [r for r in self.rows if r.gold is not None]


def classify_steps(steps: list[Step], name: str | None) -> list[Step]:
    """The classify steps, or the one named ``name`` (an error if it is not a classify step)."""
    chosen = select_steps(steps, name)
    if name is None:
        return [s for s in chosen if s.task is Task.CLASSIFY]
    if chosen[0].task is not Task.CLASSIFY:
        raise ConfigError(
            f"--step: step '{chosen[0].name}' is a '{chosen[0].task.value}' step; review and qc "
            "measure classify steps only."
        )
    return chosen


def _confidence(value: Any) -> float | None:
    if is_blank(value):
        return None
    try:
        number = float(str(value).strip().rstrip("%"))
    except ValueError:
        return None
    return number / 100 if number > 1 else number


def _edited_rows(step: Step, grid: Grid, grids: Mapping[str, Grid]) -> set[int]:
    """Rows whose answer a person typed over sheetai's, as the next sync would keep them."""
    records = StateStore.from_grid(grids.get(STATE_TAB)).for_step(norm_header(step.name))
    if not records:
        return set()
    cols = resolve_columns(step, list(grid[0]))
    plan = plan_rows(grid, step_fingerprint=step.fingerprint(), cols=cols, records=records)
    return {r.row for r in plan.rows if r.category is Category.HUMAN_EDIT}


def step_data(step: Step, grids: Mapping[str, Grid]) -> StepData:
    """The step's rows with answers and reviewed labels (review tab first, then gold column).

    Review-tab rows are read and checked by :func:`~sheetai.engine.reviews.read_reviews`, the
    same reading the engine learns from; a row it cannot use is skipped with a warning naming
    the cell.
    """
    grid = grids.get(step.sheet) or [[]]
    cols = resolve_columns(step, list(grid[0]))
    names = {norm_header(n): n for n in step.label_names}
    data = StepData(step, [])
    edited = _edited_rows(step, grid, grids)
    by_row: dict[int, SheetRow] = {}
    for row in range(2, len(grid) + 1):
        inputs = {name: grid_get(grid, row, col) for name, col in cols.inputs.items()}
        if all(is_blank(v) for v in inputs.values()):
            continue
        outputs = cols.read(grid[row - 1])
        answer = outputs.values[0]
        sheet_row = SheetRow(
            row=row,
            text=row_text(inputs),
            answer=names.get(norm_header(answer)) if not is_blank(answer) else None,
            confidence=_confidence(outputs.confidence),
            flag=cell_text(outputs.flag),
            edited=row in edited,
            from_review=cell_text(outputs.reasoning) == REVIEWED,
        )
        gold = grid_get(grid, row, cols.gold)
        if not is_blank(gold):
            label = names.get(norm_header(gold))
            if label is None:
                where = f"{quote_sheet(step.sheet)}!{cell_address(row, cols.gold or 1)}"
                data.warnings.append(
                    f"{where}: '{cell_text(gold)}' is not a label of step '{step.name}'"
                    f"{did_you_mean(cell_text(gold), step.label_names)}; row skipped."
                )
            else:
                sheet_row.gold, sheet_row.source = label, "gold column"
        data.rows.append(sheet_row)
        by_row[row] = sheet_row
    for entry in read_reviews(grids, step, data.warnings):
        target = by_row.get(entry.row)
        if target is None:  # the row is on the sheet but its input is blank now
            continue
        target.gold, target.source = entry.label, "review"
        target.stratum, target.stratum_rows = entry.stratum, entry.stratum_rows
        if target.from_review:
            # The sheet now shows the reviewer's label; what the model answered is what the
            # unreviewed rows' answers are measured by, so judge the row by that.
            target.answer = names.get(norm_header(entry.answer))
    return data
