"""The interface every spreadsheet backend implements, and nothing else.

The engine reads everything it needs in one call, buffers its writes with :meth:`write`, and
makes them durable with :meth:`commit` (a file save, one ``values:batchUpdate``, one
``Excel.run`` batch). Rows and columns are 1-based; row 1 is the header row.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Backend", "CellBlock", "ChartSpec", "Grid", "CellRange"]

Grid = list[list[Any]]


@dataclass
class CellBlock:
    """A rectangle of values to write, its top-left corner at (row, col)."""

    sheet: str
    row: int
    col: int
    values: Grid


@dataclass(frozen=True)
class CellRange:
    """A rectangle of cells, 1-based and inclusive (a merged area, say)."""

    first_row: int
    first_col: int
    last_row: int
    last_col: int

    def overlaps(self, row: int, col: int, last_row: int, last_col: int) -> bool:
        """Whether the rectangle ``row..last_row`` x ``col..last_col`` shares a cell with this.

        >>> CellRange(2, 3, 4, 3).overlaps(4, 1, 9, 3), CellRange(2, 3, 4, 3).overlaps(5, 3, 9, 3)
        (True, False)
        """
        return (
            self.first_row <= last_row
            and row <= self.last_row
            and self.first_col <= last_col
            and col <= self.last_col
        )


@dataclass
class ChartSpec:
    """A bar chart of values already written to a sheet (optional capability, see add_chart).

    ``categories`` is the 1-based column of the category labels and ``series`` the columns of
    the values; ``header_row`` holds the series names and rows ``first_row``..``last_row`` the
    data. ``anchor`` is the top-left cell (A1) where the chart is placed.
    """

    title: str
    anchor: str
    categories: int
    series: list[int]
    header_row: int
    first_row: int
    last_row: int
    x_title: str = ""
    y_title: str = ""
    y_max: float | None = None


class Backend(ABC):
    """A workbook the engine can read and write."""

    #: Short name shown in messages and the run log ("xlsx", "google", "excel", "memory").
    kind: str = ""
    #: Where the workbook is (a path or URL), for messages; never holds a secret.
    location: str = ""

    @abstractmethod
    def sheet_titles(self) -> list[str]:
        """Titles of all sheets, hidden ones included, in workbook order."""

    @abstractmethod
    def read(self, titles: Sequence[str]) -> dict[str, Grid]:
        """Values of the named sheets (missing ones left out), row 1 first, in one round trip.

        Formulas are read as their computed values; empty cells as None.
        """

    @abstractmethod
    def add_sheet(self, title: str, *, hidden: bool = False) -> None:
        """Create an empty sheet (buffered until :meth:`commit` where the backend allows)."""

    @abstractmethod
    def write(self, blocks: Sequence[CellBlock]) -> None:
        """Buffer values to write; nothing is durable before :meth:`commit`."""

    @abstractmethod
    def commit(self) -> None:
        """Make every buffered change durable, in as few calls as the backend allows."""

    def check_writable(self) -> None:  # noqa: B027 - most backends can always write
        """Raise :class:`~sheetai.errors.WorkbookError` now if a later commit could not write."""

    def merged_ranges(self, sheet: str) -> list[CellRange]:
        """Merged areas of ``sheet`` (read with :meth:`read`); a write into one is refused."""
        return []

    def number_formats(self, sheet: str) -> dict[tuple[int, int], str]:
        """Display formats of ``sheet``'s non-text cells, read with :meth:`read`.

        Keys are 1-based ``(row, col)``; only cells whose format is not ``General`` are listed,
        so inputs can be shown to a model as the sheet shows them (dates, percentages).
        """
        return {}

    def set_column_widths(self, sheet: str, widths: Mapping[int, float]) -> bool:
        """Set widths (in characters) of 1-based columns; False if the backend cannot."""
        return False

    def set_dropdown(
        self, sheet: str, row: int, col: int, last_row: int, options: Sequence[str]
    ) -> bool:
        """Offer ``options`` as a dropdown in a column range; False if the backend cannot."""
        return False

    def add_chart(self, sheet: str, spec: ChartSpec) -> bool:
        """Place a chart on ``sheet`` (replacing one at the same anchor); False if unsupported."""
        return False

    def set_links(self, sheet: str, links: Sequence[tuple[int, int, str, int]]) -> bool:
        """Make cells links to rows: ``(row, col, target_sheet, target_row)``; False if unsupported.

        The cells keep their values; only the link is added.
        """
        return False

    def close(self) -> None:  # noqa: B027 - most backends hold nothing to release
        """Release files or connections."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
