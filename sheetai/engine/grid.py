"""Cells of an in-memory sheet (a grid: a list of rows, header row first).

Every engine module counts rows and columns as the sheet does: 1-based, header = row 1,
column A = 1. Only this module (and :func:`~sheetai.engine.plan.plan_rows`'s inner loop)
subtracts one to index the Python lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backends.base import Grid

__all__ = ["grid_get", "grid_set", "row_get"]


def row_get(cells: Sequence[Any], col: int | None) -> Any:
    """The value in 1-based column ``col`` of one row's cells; None past the edge or for None.

    >>> row_get(["a", "b"], 2), row_get(["a"], 3), row_get(["a"], None)
    ('b', None, None)
    """
    if col is None or col > len(cells):
        return None
    return cells[col - 1]


def grid_get(grid: Sequence[Sequence[Any]], row: int, col: int | None) -> Any:
    """The value at 1-based ``row`` and ``col``, None past the edges.

    >>> grid_get([["H"], ["x", "y"]], 2, 2)
    'y'
    """
    return row_get(grid[row - 1], col) if row <= len(grid) else None


def grid_set(grid: Grid, row: int, col: int, value: Any) -> None:
    """Set the value at 1-based ``row`` and ``col``, growing the grid as needed.

    >>> grid = [["H"]]; grid_set(grid, 3, 2, "v"); grid
    [['H'], [], [None, 'v']]
    """
    while len(grid) < row:
        grid.append([])
    cells = grid[row - 1]
    if len(cells) < col:
        cells.extend([None] * (col - len(cells)))
    cells[col - 1] = value
