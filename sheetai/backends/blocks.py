"""Merge cell writes into few rectangular blocks: one write per rectangle, not one per cell.

Every backend and the engine's writer send their writes through here, so a sheet of answers
becomes a handful of rectangles (one API range, one Excel ``Range.value``), whoever wrote them.

Index base: the sheet's own, 1-based rows and columns (A1 is row 1, column 1), as in
:class:`~sheetai.backends.base.CellBlock`. Pure functions over plain data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .base import CellBlock

__all__ = ["SheetCells", "cells_of", "rectangles", "merge_blocks"]

#: ``{sheet: {row: {col: value}}}``, 1-based.
SheetCells = dict[str, dict[int, dict[int, Any]]]

_NO_MARK = object()


def cells_of(blocks: Sequence[CellBlock], *, weak: Any = _NO_MARK) -> SheetCells:
    """Each cell the blocks write, with the value of the last block that writes it.

    Args:
        blocks: writes in the order they were made.
        weak: a marker value that never replaces a value already written to its cell (a
            backend's "reach this far, write nothing").

    >>> cells_of([CellBlock("S", 2, 1, [["a", "b"]]), CellBlock("S", 2, 2, [["B"]])])
    {'S': {2: {1: 'a', 2: 'B'}}}
    >>> cells_of([CellBlock("S", 1, 1, [["x"]]), CellBlock("S", 1, 1, [[None]])], weak=None)
    {'S': {1: {1: 'x'}}}
    """
    cells: SheetCells = {}
    for block in blocks:
        sheet = cells.setdefault(block.sheet, {})
        for r, row_values in enumerate(block.values):
            row = sheet.setdefault(block.row + r, {})
            for c, value in enumerate(row_values):
                if value is weak and (block.col + c) in row:
                    continue
                row[block.col + c] = value
    return cells


def rectangles(sheet: str, rows: Mapping[int, Mapping[int, Any]]) -> list[CellBlock]:
    """Blocks covering exactly the cells ``{row: {col: value}}`` of ``sheet``.

    Adjacent cells of a row form a run; runs of consecutive rows with the same first column and
    width become one block. Blocks come in the order of their first row, then column.

    >>> blocks = rectangles("S", {2: {5: "a", 6: 1, 9: "x"}, 3: {5: "b", 6: 2, 9: "y"}})
    >>> [(b.row, b.col, b.values) for b in blocks]
    [(2, 5, [['a', 1], ['b', 2]]), (2, 9, [['x'], ['y']])]
    """
    blocks: list[CellBlock] = []
    open_blocks: dict[tuple[int, int], CellBlock] = {}  # (first col, width) -> block
    for row_number in sorted(rows):
        for col, values in _runs(rows[row_number]):
            last = open_blocks.get((col, len(values)))
            if last is not None and last.row + len(last.values) == row_number:
                last.values.append(values)
            else:
                open_blocks[(col, len(values))] = CellBlock(sheet, row_number, col, [values])
                blocks.append(open_blocks[(col, len(values))])
    return blocks


def merge_blocks(blocks: Sequence[CellBlock]) -> list[CellBlock]:
    """Blocks covering exactly the cells ``blocks`` write (later blocks win), merged into
    rectangles.

    >>> merged = merge_blocks([CellBlock("S", 2, 1, [["a", "b"]]),
    ...                        CellBlock("S", 3, 1, [["c", "d"]]), CellBlock("S", 2, 2, [["B"]])])
    >>> [(b.sheet, b.row, b.col, b.values) for b in merged]
    [('S', 2, 1, [['a', 'B'], ['c', 'd']])]
    """
    return [b for sheet, rows in cells_of(blocks).items() for b in rectangles(sheet, rows)]


def _runs(row: Mapping[int, Any]) -> Iterator[tuple[int, list[Any]]]:
    """(first column, values) of each run of adjacent columns in ``row``."""
    cols = sorted(row)
    if not cols:
        return
    start, values = cols[0], [row[cols[0]]]
    for prev, col in zip(cols, cols[1:], strict=False):
        if col == prev + 1:
            values.append(row[col])
        else:
            yield start, values
            start, values = col, [row[col]]
    yield start, values
