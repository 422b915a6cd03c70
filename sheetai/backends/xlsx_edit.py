"""One write session on a workbook file: parsed parts kept across commits, saved by patching.

The session parses only the worksheet parts sheetai writes (and the styles part when it needs a
new cell format). A commit serialises the parts changed since the last one into a copy of the
package; every other entry is copied byte for byte (see :mod:`.xlsx_package`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lxml import etree

from ..a1 import quote_sheet
from ..errors import WorkbookError
from .base import CellBlock, CellRange
from .xlsx_cells import SheetCells
from .xlsx_package import Package, StreamedPart, merged_refs, part_xml, write_package
from .xlsx_parts import (
    Styles,
    add_worksheet,
    drop_calc_chain,
    has_formulas,
    recalc_on_load,
    serialize,
)
from .xlsx_rows import split_part
from .xlsx_sheet_parts import (
    add_internal_links,
    grow_autofilter,
    grow_tables,
    header_width,
    set_list_validation,
    set_widths,
)

__all__ = ["EditSession", "header_column_width"]


def header_column_width(header: str) -> float:
    """The width sheetai gives an output column it created, from its header.

    >>> header_column_width("sentiment"), header_column_width("sentiment reasoning")
    (13, 50)
    """
    return 50 if header.endswith("reasoning") else max(12, min(30, len(header) + 4))


class EditSession:
    """Changes to one workbook file, made durable by :meth:`save`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.package = Package(path)
        self.styles = Styles(self.package)
        self._sheets: dict[str, SheetCells] = {}
        self._widths: dict[str, int] = {}
        self._merged: dict[str, list[CellRange]] = {}
        self._dirty: set[str] = set()
        self._created: set[str] = set()
        self._formulas: bool | None = None
        self._recalc = False
        self._original = set(self.package.sheet_parts())

    def close(self) -> None:
        self.package.close()

    def titles(self) -> list[str]:
        return list(self.package.sheet_parts())

    def sheet(self, title: str) -> SheetCells:
        """The parsed cells of ``title`` (parsed once per session)."""
        cells = self._sheets.get(title)
        if cells is None:
            part = self.package.sheet_parts().get(title)
            if part is None:
                raise WorkbookError(
                    f"{self.path}: no sheet {quote_sheet(title)} to write to. Was it renamed "
                    "or deleted while sheetai ran? Run sheetai again."
                )
            data = self.package.read(part)
            split = split_part(data)
            root = part_xml(data) if split is None else split.frame
            del data
            cells = SheetCells(title, root, self.styles.date_style, self.styles.is_date, split)
            cells.preload([1])
            self._sheets[title] = cells
            self._widths[title] = header_width(root)
        return cells

    def _touch(self, title: str) -> etree._Element:
        self._dirty.add(title)
        return self.sheet(title).root

    def add_sheet(self, title: str, hidden: bool) -> None:
        add_worksheet(self.package, title, hidden)
        self._created.add(title)

    def merged(self, title: str) -> list[CellRange]:
        if title not in self._merged:
            from openpyxl.utils.cell import range_boundaries

            part = self.package.sheet_parts().get(title)
            ranges = []
            for ref in merged_refs(self.package.read(part)) if part else []:
                min_col, min_row, max_col, max_row = range_boundaries(ref)
                ranges.append(CellRange(min_row, min_col, max_row or min_row, max_col or min_col))
            self._merged[title] = ranges
        return self._merged[title]

    def refuse_merged(self, blocks: Sequence[CellBlock]) -> None:
        """Stop before writing into merged cells: Excel shows only the first cell of a merge."""
        from ..a1 import range_address

        for block in blocks:
            if not block.values:
                continue
            last_row = block.row + len(block.values) - 1
            last_col = block.col + max(len(r) for r in block.values) - 1
            for area in self.merged(block.sheet):
                if area.overlaps(block.row, block.col, last_row, last_col):
                    where = range_address(
                        area.first_row, area.first_col, area.last_row, area.last_col
                    )
                    raise WorkbookError(
                        f"{quote_sheet(block.sheet)}!{where} is merged, and sheetai needs to "
                        "write there. Unmerge those cells (or move the output columns), then "
                        "run again."
                    )

    def write_blocks(self, blocks: Sequence[CellBlock]) -> None:
        """Write ``blocks``, in order."""
        for block in blocks:
            self.write(block)

    def write(self, block: CellBlock) -> None:
        cells = self.sheet(block.sheet)
        self._touch(block.sheet)
        old_width = self._widths[block.sheet]
        cells.write_block(block.row, block.col, block.values)
        if block.sheet in self._original and block.sheet not in self._created:
            self._recalc = True
        last = block.col + max((len(r) for r in block.values), default=0) - 1
        if block.row == 1 and last > old_width > 1:
            self._new_headers(block.sheet, old_width, last)
        if block.row == 1:
            self._widths[block.sheet] = max(old_width, header_width(cells.root))

    def _new_headers(self, title: str, old_width: int, last: int) -> None:
        """Output headers sheetai created look like the table's last header and join its table
        or autofilter."""
        cells = self.sheet(title)
        style = cells.style_of(1, old_width)
        headers: dict[int, str] = {}
        for col in range(old_width + 1, last + 1):
            cell = cells.cell(1, col, create=False)
            text = "" if cell is None else "".join(cell.itertext())
            if cell is None or not text:
                continue
            if style is not None:
                cell.set("s", style)
            headers[col] = text
        set_widths(cells.root, {col: header_column_width(h) for col, h in headers.items()})
        # Only columns right next to the table join it; a gap means they were put elsewhere.
        joined = []
        for col in range(old_width + 1, last + 1):
            if col not in headers:
                break
            joined.append(headers[col])
        if joined:
            part = self.package.sheet_parts()[title]
            grow_tables(self.package, part, old_width, joined)
            grow_autofilter(self.package, cells.root, title, old_width, old_width + len(joined))

    def set_widths(self, title: str, widths: Mapping[int, float]) -> None:
        set_widths(self._touch(title), widths)

    def set_dropdown(self, title: str, row: int, col: int, last_row: int, joined: str) -> None:
        set_list_validation(self._touch(title), row, col, last_row, joined)

    def set_links(self, title: str, links: Sequence[tuple[int, int, str, int]]) -> None:
        root = self._touch(title)
        cells = self.sheet(title)
        style = str(self.styles.link_style())
        for row, col in add_internal_links(root, links):
            cell = cells.cell(row, col)
            assert cell is not None
            cell.set("s", style)

    def add_chart(self, title: str, spec: Any) -> None:
        from .xlsx_charts import place_chart

        place_chart(self.package, self.package.sheet_parts()[title], self._touch(title), spec)

    def save(self) -> None:
        """Write the changed parts into a copy of the file and put it in place atomically."""
        dropped = False
        for title in sorted(self._dirty):
            cells = self._sheets[title]
            cells.update_dimension()
            dropped = dropped or cells.dropped_formula
            frame = serialize(cells.root)
            data: bytes | StreamedPart = frame
            split = cells.split
            if split is not None:
                data = StreamedPart(functools.partial(split.pieces, frame), split.size_hint())
                # The rows now sit in the new file: split it again if it is written again.
                del self._sheets[title]
            self.package.put(self.package.sheet_parts()[title], data)
        if dropped:
            drop_calc_chain(self.package)
        if self._recalc:
            if self._formulas is None:
                self._formulas = has_formulas(self.package)
            if self._formulas:
                recalc_on_load(self.package)
        self.styles.flush()
        write_package(self.package, self.path)
        self._dirty.clear()
        self.package = Package(self.path)
        self.styles.package = self.package
