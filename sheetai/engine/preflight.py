"""Checks that could refuse a sync's writes, run on the plan before any model is called.

A refusal found while writing comes after the model was paid for; found here, it costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..a1 import quote_sheet, range_address
from ..backends.base import CellRange
from ..errors import WorkbookError
from ..text import cell_text
from .columns import StepColumns
from .plan import Category, StepPlan

__all__ = ["planned_cells", "refuse_merged"]


def planned_cells(
    plan: StepPlan,
    cols: StepColumns,
    *,
    flag_rows: Iterable[int] = (),
    run_keys: set[str] | None = None,
) -> dict[int, set[int]]:
    """The cells a step will write: 1-based row -> 0-based columns.

    Args:
        plan: the step's plan.
        cols: its columns; headers it creates are written in row 1.
        flag_rows: rows whose flag cell alone is written (input errors, refreshed flags).
        run_keys: with ``--preview``, the fingerprints that run; rows filled from the state
            or collected from a batch are then not written either.
    """
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
            cells.setdefault(row_plan.row, set()).update(cols.outputs)
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

    >>> refuse_merged("F", "s", ["Review", "Mood"], [CellRange(2, 2, 3, 2)], {4: {1}})
    >>> refuse_merged("F", "s", ["Review", "Mood"], [CellRange(2, 2, 3, 2)], {3: {1}})
    Traceback (most recent call last):
    ...
    sheetai.errors.WorkbookError: F!B2:B3 is merged, and step 's' needs to write there (column 'Mood'). Unmerge those cells (or move that column away from them), then run again; nothing was written and no model was called.
    """  # noqa: E501
    for area in merged:
        for row in sorted(r for r in cells if area.first_row <= r <= area.last_row):
            hit = sorted(c for c in cells.get(row, ()) if area.first_col <= c + 1 <= area.last_col)
            if not hit:
                continue
            name = cell_text(header[hit[0]]) if hit[0] < len(header) else ""
            where = f" (column '{name}')" if name else ""
            address = range_address(area.first_row, area.first_col, area.last_row, area.last_col)
            raise WorkbookError(
                f"{quote_sheet(sheet)}!{address} is merged, and step '{step}' needs to write "
                f"there{where}. Unmerge those cells (or move that column away from them), then "
                "run again; nothing was written and no model was called."
            )
