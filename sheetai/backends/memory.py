"""A workbook held in memory: for the Excel add-in's sync endpoint and for tests.

It records what was written so that a caller (the ``/v1/excel/sync`` endpoint) can send the
same writes on to a workbook it cannot reach directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..cell_values import as_cell_error
from ..errors import WorkbookError
from .base import Backend, CellBlock, CellRange, ChartSpec, Grid

__all__ = ["MemoryBackend"]


class MemoryBackend(Backend):
    """Sheets as lists of rows; ``committed`` holds every block written, in order.

    Args:
        sheets: title -> rows, header first.
        hidden: titles of hidden sheets.
        merged: title -> merged areas (a write into one is refused at commit, as Excel would).
        formats: title -> number-format codes by 1-based ``(row, col)``.
    """

    kind = "memory"

    def __init__(
        self,
        sheets: Mapping[str, Grid],
        hidden: Sequence[str] = (),
        *,
        merged: Mapping[str, Sequence[CellRange]] | None = None,
        formats: Mapping[str, Mapping[tuple[int, int], str]] | None = None,
    ) -> None:
        self.sheets: dict[str, Grid] = {
            title: [list(r) for r in rows] for title, rows in sheets.items()
        }
        self.merged = {title: list(areas) for title, areas in (merged or {}).items()}
        self.formats = {title: dict(codes) for title, codes in (formats or {}).items()}
        self.hidden: set[str] = set(hidden)
        self.new_sheets: list[tuple[str, bool]] = []
        self.committed: list[CellBlock] = []
        self.commits = 0
        self._pending: list[CellBlock] = []
        self.location = "memory"
        # Optional capabilities, recorded so callers (and tests) can see what was asked.
        self.dropdowns: list[tuple[str, int, int, int, list[str]]] = []
        self.charts: list[tuple[str, ChartSpec]] = []
        self.links: list[tuple[str, int, int, str, int]] = []

    def sheet_titles(self) -> list[str]:
        return list(self.sheets)

    def read(self, titles: Sequence[str]) -> dict[str, Grid]:
        # Office.js (the add-in feeding this backend) sends error values as text ("#N/A").
        return {
            t: [[as_cell_error(v) or v for v in r] for r in self.sheets[t]]
            for t in titles
            if t in self.sheets
        }

    def merged_ranges(self, sheet: str) -> list[CellRange]:
        return list(self.merged.get(sheet, []))

    def number_formats(self, sheet: str) -> dict[tuple[int, int], str]:
        return dict(self.formats.get(sheet, {}))

    def add_sheet(self, title: str, *, hidden: bool = False) -> None:
        self.sheets[title] = []
        self.new_sheets.append((title, hidden))
        if hidden:
            self.hidden.add(title)

    def write(self, blocks: Sequence[CellBlock]) -> None:
        self._pending.extend(blocks)

    def commit(self) -> None:
        for block in self._pending:
            last_row = block.row + len(block.values) - 1
            last_col = block.col + max((len(r) for r in block.values), default=1) - 1
            for area in self.merged.get(block.sheet, []):
                if area.overlaps(block.row, block.col, last_row, last_col):
                    self._pending.clear()
                    raise WorkbookError(f"{block.sheet}: a write into merged cells was refused.")
        for block in self._pending:
            grid = self.sheets[block.sheet]
            for r, row_values in enumerate(block.values):
                row_index = block.row - 1 + r
                while len(grid) <= row_index:
                    grid.append([])
                row = grid[row_index]
                for c, value in enumerate(row_values):
                    col_index = block.col - 1 + c
                    while len(row) <= col_index:
                        row.append(None)
                    row[col_index] = value
            self.committed.append(block)
        self._pending.clear()
        self.commits += 1

    def set_dropdown(
        self, sheet: str, row: int, col: int, last_row: int, options: Sequence[str]
    ) -> bool:
        self.dropdowns = [d for d in self.dropdowns if not _overlaps(d, sheet, row, col, last_row)]
        self.dropdowns.append((sheet, row, col, last_row, list(options)))
        return True

    def add_chart(self, sheet: str, spec: ChartSpec) -> bool:
        self.charts = [(s, c) for s, c in self.charts if (s, c.anchor) != (sheet, spec.anchor)]
        self.charts.append((sheet, spec))
        return True

    def set_links(self, sheet: str, links: Sequence[tuple[int, int, str, int]]) -> bool:
        self.links.extend((sheet, *link) for link in links)
        return True


def _overlaps(
    dropdown: tuple[str, int, int, int, list[str]], sheet: str, row: int, col: int, last: int
) -> bool:
    title, first, column, last_row, _ = dropdown
    return title == sheet and column == col and first <= last and row <= last_row
