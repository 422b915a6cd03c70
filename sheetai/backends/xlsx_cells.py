"""Writing values into a worksheet part's ``<sheetData>``, touching only the cells written.

Strings go in as inline strings (``t="inlineStr"``): the shared-strings part then stays byte
for byte as it was, no index of it needs building, and Excel folds them into its table on its
next save. Rows and cells stay in order, a cell keeps its style, and a formula overwritten by a
value loses its ``<f>`` (the caller then drops the calc chain, which would name a formula that
is gone).

In a split part (:mod:`.xlsx_rows`) a row other than the header is written as bytes: new cells
are spliced into it (:mod:`.xlsx_row_bytes`), and a row whose cells are overwritten is parsed
alone, changed and serialized again, so no tree of the rows written is kept.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import numbers
import re
from collections.abc import Callable, Iterable
from typing import Any

from lxml import etree

from ..a1 import cell_address, column_letter, quote_sheet
from ..a1 import column_number as col_number
from ..errors import WorkbookError
from .xlsx_package import NS
from .xlsx_row_bytes import (
    MAX_CELL_CHARS,
    cell_bytes,
    clean_text,
    insert_cells,
    new_row,
    row_shape,
)
from .xlsx_rows import SplitPart

__all__ = [
    "SheetCells",
    "MAX_CELL_CHARS",
    "WORKSHEET_ORDER",
    "clean_text",
    "col_number",
    "insert_child",
]

_ROW = f"{{{NS}}}row"
_C = f"{{{NS}}}c"
_V = f"{{{NS}}}v"
_IS = f"{{{NS}}}is"
_T = f"{{{NS}}}t"
_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
_REF = re.compile(r"([A-Z]+)(\d+)")

#: CT_Worksheet's children in schema order; a new element goes before every later one.
WORKSHEET_ORDER = [
    "sheetPr", "dimension", "sheetViews", "sheetFormatPr", "cols", "sheetData", "sheetCalcPr",
    "sheetProtection", "protectedRanges", "scenarios", "autoFilter", "sortState",
    "dataConsolidate", "customSheetViews", "mergeCells", "phoneticPr", "conditionalFormatting",
    "dataValidations", "hyperlinks", "printOptions", "pageMargins", "pageSetup", "headerFooter",
    "rowBreaks", "colBreaks", "customProperties", "cellWatches", "ignoredErrors", "smartTags",
    "drawing", "legacyDrawing", "legacyDrawingHF", "drawingHF", "picture", "oleObjects",
    "controls", "webPublishItems", "tableParts", "extLst",
]  # fmt: skip


def insert_child(root: etree._Element, child: etree._Element, order: list[str]) -> None:
    """Put ``child`` into ``root`` before the first sibling that the schema orders after it."""
    name = etree.QName(child).localname
    later = set(order[order.index(name) + 1 :])
    for index, sibling in enumerate(root):
        if isinstance(sibling.tag, str) and etree.QName(sibling).localname in later:
            root.insert(index, child)
            return
    root.append(child)


def _index_cells(row: etree._Element, number: int) -> dict[int, etree._Element]:
    """A row's ``<c>`` by column (a cell without its ``r`` is given one)."""
    cells = {}
    last = 0
    for cell in row.iter(_C):
        ref = cell.get("r")
        col = col_number(_REF.match(ref).group(1)) if ref else last + 1  # type: ignore[union-attr]
        if not ref:
            cell.set("r", cell_address(number, col))
        cells[col] = cell
        last = col
    return cells


def _add_cell(
    row: etree._Element, cells: dict[int, etree._Element], ref: str, col: int
) -> etree._Element:
    """A new ``<c>`` in ``row``, in column order, its ``spans`` widened over it."""
    cell = etree.Element(_C, r=ref)
    if cells and col < max(cells):
        cells[min(c for c in cells if c > col)].addprevious(cell)
    else:
        row.append(cell)
    cells[col] = cell
    spans = row.get("spans")
    if spans and ":" in spans:
        low, high = (int(x) for x in spans.split(":"))
        row.set("spans", f"{min(low, col)}:{max(high, col)}")
    return cell


class SheetCells:
    """The rows of one parsed worksheet part, indexed once, written cell by cell."""

    def __init__(
        self,
        title: str,
        root: etree._Element,
        date_style: Callable[[Any], int],
        is_date_style: Callable[[int], bool],
        split: SplitPart | None = None,
    ) -> None:
        self.title = title
        self.root = root
        #: When set, ``root`` is the part's frame and rows are parsed as writes reach them.
        self.split = split
        data = root.find(f"{{{NS}}}sheetData")
        if data is None:
            data = etree.Element(f"{{{NS}}}sheetData")
            insert_child(root, data, WORKSHEET_ORDER)
        self.data = data
        self._date_style = date_style
        self._is_date_style = is_date_style
        self.rows: dict[int, etree._Element] = {}
        self._cells: dict[int, dict[int, etree._Element]] = {}
        self.dropped_formula = False
        self._letters: dict[int, str] = {}
        self.max_row = 0
        self.max_col = 0
        last = 0
        for row in data.iter(_ROW):
            number = int(row.get("r") or last + 1)
            row.set("r", str(number))
            self.rows[number] = row
            last = number
        self._row_numbers = sorted(self.rows)

    def preload(self, numbers: Iterable[int]) -> None:
        """Parse the part's rows ``numbers`` now, in one go (a split part parses rows lazily)."""
        if self.split is None:
            return
        wanted = sorted(n for n in set(numbers) if n not in self.rows and self.split.has(n))
        for row in self.split.load(wanted):
            self._place(row, int(row.get("r") or 0))

    def _existing(self, number: int) -> etree._Element | None:
        row = self.rows.get(number)
        if row is None and self.split is not None and self.split.has(number):
            self.preload([number])
            row = self.rows.get(number)
        return row

    def _row(self, number: int) -> etree._Element:
        row = self._existing(number)
        if row is not None:
            return row
        return self._place(etree.Element(_ROW, r=str(number)), number)

    def _place(self, row: etree._Element, number: int) -> etree._Element:
        """Put ``row`` into ``<sheetData>`` in row order."""
        if not self._row_numbers or self._row_numbers[-1] < number:
            self.data.append(row)
            self._row_numbers.append(number)
        else:
            at = bisect.bisect_left(self._row_numbers, number)
            self.rows[self._row_numbers[at]].addprevious(row)
            self._row_numbers.insert(at, number)
        self.rows[number] = row
        return row

    def _cells_of(self, number: int, row: etree._Element) -> dict[int, etree._Element]:
        cells = self._cells.get(number)
        if cells is None:
            cells = self._cells[number] = _index_cells(row, number)
        return cells

    def _ref(self, row_number: int, col: int) -> str:
        letters = self._letters.get(col)
        if letters is None:
            letters = self._letters[col] = column_letter(col)
        return f"{letters}{row_number}"

    def cell(self, row_number: int, col: int, create: bool = True) -> etree._Element | None:
        """The ``<c>`` at (row, col), created in order if missing and ``create``."""
        row = self._row(row_number) if create else self._existing(row_number)
        if row is None:
            return None
        cells = self._cells_of(row_number, row)
        cell = cells.get(col)
        if cell is not None or not create:
            return cell
        return _add_cell(row, cells, self._ref(row_number, col), col)

    def style_of(self, row_number: int, col: int) -> str | None:
        cell = self.cell(row_number, col, create=False)
        return None if cell is None else cell.get("s")

    def write_block(self, row: int, col: int, values: Iterable[Iterable[Any]]) -> None:
        for r, row_values in enumerate(values):
            number = row + r
            if self._as_bytes(number):
                self._patch(number, list(enumerate(row_values, start=col)))
                continue
            for c, value in enumerate(row_values):
                self.set(number, col + c, value)

    def _as_bytes(self, number: int) -> bool:
        """Whether row ``number`` is written as bytes: in a split part, out of the frame (the
        header row, read for widths and styles, always is in it)."""
        return self.split is not None and number > 1 and number not in self.rows

    def set(self, row_number: int, col: int, value: Any) -> None:
        """Write one value, keeping the cell's style."""
        if self._as_bytes(row_number):
            self._patch(row_number, [(col, value)])
            return
        cell = self.cell(row_number, col, create=False)
        if cell is None:
            if value is None:
                return
            cell = self.cell(row_number, col)
            assert cell is not None
            self._fill(cell, True, row_number, col, value)
        else:
            self._fill(cell, False, row_number, col, value)

    def _patch(self, number: int, writes: list[tuple[int, Any]]) -> None:
        """Write one row of a split part as bytes: new cells spliced in, or the row parsed
        alone when a cell written is already there."""
        split = self.split
        assert split is not None
        current = split.row_bytes(number)
        shape = None if current is None else row_shape(current, split.prefix)
        if current is not None and (shape is None or any(c in shape.starts for c, _ in writes)):
            self._rewrite(split, number, current, writes)
            return
        prefix = split.prefix.decode()
        cells: dict[int, bytes] = {}
        for col, value in writes:
            data = cell_bytes(prefix, self._ref(number, col), value, self._date_style)
            if data is None:
                cells.pop(col, None)
                continue
            cells[col] = data
            self._grow(number, col)
        if not cells:
            return
        if current is None or shape is None:
            split.put_row(number, new_row(prefix, number, [cells[c] for c in sorted(cells)]))
        else:
            split.put_row(number, insert_cells(current, split.prefix, shape, cells))

    def _rewrite(
        self, split: SplitPart, number: int, current: bytes, writes: list[tuple[int, Any]]
    ) -> None:
        """Write into one row's own tree (parsed alone), then keep only its bytes."""
        wrapper = split.parse(current)
        row = next(r for r in wrapper if isinstance(r.tag, str))
        cells = _index_cells(row, number)
        for col, value in writes:
            cell = cells.get(col)
            if cell is None:
                if value is None:
                    continue
                cell = _add_cell(row, cells, self._ref(number, col), col)
                self._fill(cell, True, number, col, value)
            else:
                self._fill(cell, False, number, col, value)
        split.put_row(number, split.unparse(wrapper))

    def _grow(self, row_number: int, col: int) -> None:
        if row_number > self.max_row:
            self.max_row = row_number
        if col > self.max_col:
            self.max_col = col

    def _fill(
        self, cell: etree._Element, fresh: bool, row_number: int, col: int, value: Any
    ) -> None:
        """Put ``value`` in ``cell`` (emptied first unless ``fresh``), keeping its style."""
        if not fresh and (len(cell) or cell.attrib):
            self._drop_formula(cell)
            for child in list(cell):
                cell.remove(child)
            for attribute in ("t", "cm", "vm", "ph"):
                cell.attrib.pop(attribute, None)
        self._grow(row_number, col)
        if value is None:
            return
        kind = type(value)
        if kind is str:
            self._text(cell, value)
        elif kind is float and math.isfinite(value):
            etree.SubElement(cell, _V).text = repr(value)
        elif kind is int:
            etree.SubElement(cell, _V).text = str(value)
        elif isinstance(value, bool):
            cell.set("t", "b")
            etree.SubElement(cell, _V).text = "1" if value else "0"
        elif isinstance(value, numbers.Integral):
            etree.SubElement(cell, _V).text = str(int(value))
        elif isinstance(value, numbers.Real) and math.isfinite(value):
            etree.SubElement(cell, _V).text = repr(float(value))
        elif isinstance(value, (dt.datetime, dt.date, dt.time)):
            from openpyxl.utils.datetime import to_excel

            style = cell.get("s")
            if style is None or not self._is_date_style(int(style)):
                cell.set("s", str(self._date_style(value)))
            etree.SubElement(cell, _V).text = repr(float(to_excel(value)))
        else:
            self._text(cell, str(value))

    @staticmethod
    def _text(cell: etree._Element, value: str) -> None:
        # An answer that starts with '=' is text too: only <f> makes a formula.
        text = clean_text(value)
        cell.set("t", "inlineStr")
        t = etree.SubElement(etree.SubElement(cell, _IS), _T)
        t.text = text
        if text != text.strip() or "\n" in text:
            t.set(_XML_SPACE, "preserve")

    def _drop_formula(self, cell: etree._Element) -> None:
        formula = cell.find(f"{{{NS}}}f")
        if formula is None:
            return
        kind = formula.get("t")
        ref = formula.get("ref")
        if kind in {"shared", "array", "dataTable"} and ref and ":" in ref:
            raise WorkbookError(
                f"{quote_sheet(self.title)}!{cell.get('r')} holds a formula shared with "
                f"{ref} (a {kind} formula), and sheetai needs to write there. Enter the formula "
                "in each cell on its own (or move the output column), then run again; "
                "nothing was written."
            )
        self.dropped_formula = True

    def update_dimension(self) -> None:
        """Make ``<dimension>`` cover the cells written (it may be missing or stale)."""
        if not self.max_row:
            return
        dimension = self.root.find(f"{{{NS}}}dimension")
        first_row, first_col, last_row, last_col = 1, 1, self.max_row, self.max_col
        if dimension is not None:
            found = _REF.findall(str(dimension.get("ref", "")))
            if found:
                first_col, first_row = col_number(found[0][0]), int(found[0][1])
                last_col, last_row = (col_number(found[-1][0]), int(found[-1][1]))
        else:
            dimension = etree.Element(f"{{{NS}}}dimension")
            insert_child(self.root, dimension, WORKSHEET_ORDER)
        last_row, last_col = max(last_row, self.max_row), max(last_col, self.max_col)
        first = cell_address(first_row, first_col)
        last = cell_address(last_row, last_col)
        dimension.set("ref", first if first == last else f"{first}:{last}")
