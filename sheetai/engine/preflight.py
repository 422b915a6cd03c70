"""Checks that could refuse a sync's writes, run on the plan before any model is called.

A refusal found while writing comes after the model was paid for; found here, it costs nothing.
Rows and columns are the sheet's 1-based numbers, as in every engine module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..a1 import quote_sheet, range_address
from ..backends.base import CellRange, Grid
from ..errors import WorkbookError
from ..providers.routing import route
from ..row_outputs import RowOutputs
from ..steps import Step
from ..text import cell_text
from .columns import StepColumns
from .grid import grid_get
from .outputs import reflagged, reflagged_flag
from .plan import Category, RowPlan, StepPlan, flag_updates

__all__ = ["planned_cells", "refuse_merged", "stale_flag", "unpriced_refusal"]


def stale_flag(step: Step, grid: Grid, cols: StepColumns, row_plan: RowPlan) -> RowOutputs | None:
    """An unchanged row's outputs reflagged, when the flag sheetai wrote there is now stale
    (``Min confidence`` moved); None when its flag cell stays as it is."""
    record = row_plan.record
    if row_plan.category is not Category.UNCHANGED or record is None or record.status != "ok":
        return None
    outputs = record.outputs
    written = cell_text(outputs.flag)
    if written == cell_text(reflagged_flag(step, outputs)):
        return None  # the flag sheetai wrote still holds: most rows, so the cell is not read
    # Only a flag sheetai wrote is refreshed; a person's note there is theirs.
    if cell_text(grid_get(grid, row_plan.row, cols.flag)) == written:
        return reflagged(step, outputs)
    return None


def planned_cells(
    step: Step,
    plan: StepPlan,
    grid: Grid,
    cols: StepColumns,
    *,
    run_keys: set[str] | None = None,
) -> dict[int, set[int]]:
    """The cells a step will write: row -> columns.

    Args:
        step: the step.
        plan: its plan.
        grid: its sheet as planned (upstream steps' answers pending).
        cols: its columns; headers it creates are written in row 1.
        run_keys: with ``--preview``, the fingerprints that run; rows filled from the state,
            collected from a batch or only re-flagged are then not written.
    """
    flag_rows: Iterable[int] = ()
    if run_keys is None:
        flag_rows = [row for row, _ in flag_updates(plan, grid, cols.flag)]
        flag_rows += [r.row for r in plan.rows if stale_flag(step, grid, cols, r) is not None]
    cells: dict[int, set[int]] = {}
    if cols.created:
        cells[1] = set(cols.created)
    for row_plan in plan.rows:
        if run_keys is None:
            writes = row_plan.category.runs or row_plan.category in (
                Category.FILL,
                Category.PENDING,
            )
        else:
            writes = row_plan.category.runs and row_plan.fingerprint in run_keys
        if writes:
            cells.setdefault(row_plan.row, set()).update(cols.all)
    for row in flag_rows:
        cells.setdefault(row, set()).add(cols.flag)
    return cells


def refuse_merged(
    sheet: str,
    step: str,
    header: Sequence[Any],
    merged: Sequence[CellRange],
    cells: dict[int, set[int]],
) -> None:
    """Raise :class:`~sheetai.errors.WorkbookError` if a planned cell lies in a merged area.

    >>> refuse_merged("F", "s", ["Review", "Mood"], [CellRange(2, 2, 3, 2)], {4: {2}})
    >>> refuse_merged("F", "s", ["Review", "Mood"], [CellRange(2, 2, 3, 2)], {3: {2}})
    Traceback (most recent call last):
    ...
    sheetai.errors.WorkbookError: F!B2:B3 is merged, and step 's' needs to write there (column 'Mood'). Unmerge those cells (or move that column away from them), then run again; nothing was written and no model was called.
    """  # noqa: E501
    for area in merged:
        for row in sorted(r for r in cells if area.first_row <= r <= area.last_row):
            hit = sorted(c for c in cells.get(row, ()) if area.first_col <= c <= area.last_col)
            if not hit:
                continue
            name = cell_text(header[hit[0] - 1]) if hit[0] <= len(header) else ""
            where = f" (column '{name}')" if name else ""
            address = range_address(area.first_row, area.first_col, area.last_row, area.last_col)
            raise WorkbookError(
                f"{quote_sheet(sheet)}!{address} is merged, and step '{step}' needs to write "
                f"there{where}. Unmerge those cells (or move that column away from them), then "
                "run again; nothing was written and no model was called."
            )


def unpriced_refusal(step: Step, where: str, cap: str) -> str:
    """Why a step whose model has no price cannot run under the cost cap ``cap``, and the fix.

    >>> step = Step(name="s", sheet="F", inputs=["A"], task="classify", output="B",
    ...     model="anthropic/my-claude")
    >>> print(unpriced_refusal(step, "sheetai!H2", "--max-cost"))  # doctest: +ELLIPSIS
    sheetai!H2: step 's' uses model 'anthropic/my-claude', which has no price, so --max-cost ... {"my-claude": [0.5, 1.5]} ...
    """  # noqa: E501
    model = step.run_model or step.model
    name = route(model).model
    prefix, sep, rest = name.partition(":")
    if sep and prefix.strip().casefold() in ("azure", "openai"):
        name = rest.strip()  # priced by the deployment's or model's own name
    return (
        f"{where}: step '{step.name}' uses model '{model}', which has no price, so {cap} cannot "
        "cap what it spends; nothing was sent. Give its price in a JSON file named by "
        f'SHEETAI_PRICES_FILE, e.g. {{"{name}": [0.5, 1.5]}} (USD per million input and '
        "output tokens), or run it without a cost cap."
    )
