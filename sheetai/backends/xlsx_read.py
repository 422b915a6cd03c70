"""A worksheet's values, number formats and formulas, read in one pass of its XML.

openpyxl's read-only mode builds a cell object per cell and parses each inline string through
its descriptor machinery; on a sheet sheetai wrote (its answers are inline strings) that is
most of a sync that has nothing to do. This reader walks the part's ``<row>`` elements with
lxml and gives the same values openpyxl's ``data_only`` read gives (shared strings, dates by
the cell's style, booleans, errors, cached formula results), taking the workbook-level parts
(shared strings, date styles, number formats, the 1904 epoch) from openpyxl's read-only book.
The formulas come from the same pass, so telling a formula without a stored result from an
empty one never needs a second parse.
"""

from __future__ import annotations

import io
from typing import Any

from lxml import etree

from ..cell_values import Uncomputed, as_cell_error
from ..collector import collector_paused
from .base import Grid
from .xlsx_book import Book
from .xlsx_package import NS
from .xlsx_scan import scan_cells

__all__ = ["read_sheet", "can_read"]

_ROW = f"{{{NS}}}row"
_C = f"{{{NS}}}c"
_V = f"{{{NS}}}v"
_F = f"{{{NS}}}f"
_IS = f"{{{NS}}}is"
_T = f"{{{NS}}}t"
_R = f"{{{NS}}}r"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def can_read(book: Any, title: str) -> bool:
    """Whether ``book`` (a :class:`~.xlsx_book.Book`, or openpyxl's read-only book) exposes
    what :func:`read_sheet` needs."""
    if isinstance(book, Book):
        return title in book.parts
    sheet = book[title]
    return all(hasattr(book, name) for name in ("_archive", "_date_formats", "epoch")) and all(
        hasattr(sheet, name) for name in ("_worksheet_path", "_shared_strings")
    )


def _column(ref: str) -> int:
    """The 1-based column of an A1 reference.

    >>> _column("C12"), _column("AA3")
    (3, 27)
    """
    number = 0
    for char in ref:
        index = _LETTERS.find(char)
        if index < 0:
            break
        number = number * 26 + index + 1
    return number


def read_sheet(book: Any, title: str) -> tuple[Grid, dict[tuple[int, int], str]]:
    """The values of sheet ``title`` (rows of the sheet, trailing empty rows dropped) and the
    number formats of its non-text cells that are not General, by 1-based (row, col).

    Error values become :class:`~sheetai.cell_values.CellError`; a formula without a stored
    result becomes :class:`~sheetai.cell_values.Uncomputed` when no formula of the sheet has
    one (a file no spreadsheet ever calculated), else ``""`` (an Excel formula that gives "").
    """
    if isinstance(book, Book):
        sheet, part = None, book.parts[title]
    else:
        sheet = book[title]
        part = sheet._worksheet_path
    reader = _Reader(book, sheet)
    with (book.archive if sheet is None else book._archive).open(part) as source:
        data = source.read()
    with collector_paused():
        grid = scan_cells(data, reader)
        if grid is None:
            reader = _Reader(book, sheet)  # the scan may have noted some cells before it gave up
            grid = reader.rows(io.BytesIO(data))
    del data
    while grid and all(v is None for v in grid[-1]):
        grid.pop()
    reader.mark_uncomputed(grid)
    return grid, reader.formats


class _Reader:
    """Turns a cell's type and text into its value; ``book`` is a :class:`~.xlsx_book.Book`,
    or an openpyxl read-only book with ``sheet`` one of its sheets."""

    def __init__(self, book: Any, sheet: Any = None) -> None:
        self._book = book
        self._sheet = sheet
        if isinstance(book, Book):
            self.strings = book.strings
            self._dates, self._timedeltas = book.dates, book.timedeltas
        else:
            self.strings = sheet._shared_strings
            self._dates = book._date_formats
            self._timedeltas = getattr(book, "_timedelta_formats", set())
        self._epoch = book.epoch
        self._codes: dict[int, str] = {}
        self._columns: dict[str, int] = {}
        self._shared: dict[str, Any] = {}
        self.formats: dict[tuple[int, int], str] = {}
        #: (row index, col index, computed, formula) of every formula cell, 0-based.
        self.formulas: list[tuple[int, int, bool, str]] = []

    def rows(self, source: Any) -> Grid:
        grid: Grid = []
        number = 0
        for _, row in etree.iterparse(source, events=("end",), tag=_ROW, huge_tree=True):
            ref = row.get("r")
            index = _row_number(ref) if ref else number + 1
            if index > number:
                while len(grid) < index - 1:
                    grid.append([])  # rows the part leaves out are empty
                grid.append(self._cells(row, index))
                number = index
            row.clear()
            while row.getprevious() is not None:
                del row.getparent()[0]
        return grid

    def _cells(self, row: Any, number: int) -> list[Any]:
        values: list[Any] = []
        col = 0
        last = 0
        for cell in row:
            if cell.tag != _C:
                continue
            ref = cell.get("r")
            if ref:
                letters = ref.rstrip("0123456789")
                col = self._columns.get(letters) or self._columns.setdefault(
                    letters, _column(letters)
                )
            else:
                col += 1
            last = col
            value = self._value(cell, number, col)
            if value is None:
                continue
            if col > len(values):
                values.extend([None] * (col - len(values)))
            values[col - 1] = value
        if len(values) < last:
            values.extend([None] * (last - len(values)))
        del values[last:]
        return values

    def _value(self, cell: Any, number: int, col: int) -> Any:
        kind = cell.get("t", "n")
        text = formula = inline = None
        for child in cell:
            tag = child.tag
            if tag == _V:
                text = child.text
            elif tag == _F:
                formula = child
            elif tag == _IS:
                inline = child
        style = int(cell.get("s", 0) or 0)
        value: Any = None
        if kind == "inlineStr":
            if inline is not None:
                value = _inline_text(inline)
        elif text:
            value = self.typed(kind, text, style, cell.get("r"))
        if formula is not None:
            self._formula(cell, formula, number, col, value is not None)
        if value is None:
            return None
        return self.shown(value, style, number, col)

    def typed(self, kind: str, text: str, style: int, ref: str | None) -> Any:
        """The value of a cell of type ``kind`` whose ``<v>`` holds ``text`` (not empty)."""
        if kind == "n":
            value = float(text) if ("." in text or "E" in text or "e" in text) else int(text)
            if style in self._dates:
                return self._date(value, style, ref)
            return value
        if kind == "s":
            return self.strings[int(text)]
        if kind == "b":
            return bool(int(text))
        if kind == "d":
            from openpyxl.utils.datetime import from_ISO8601

            return from_ISO8601(text)
        return text  # "str" (a formula's text result), "e" (an error value)

    def is_date(self, style: int) -> bool:
        """Whether numbers of cell style ``style`` are dates (or times)."""
        return style in self._dates

    def number_format(self, style: int) -> str:
        """The number format code of cell style ``style``."""
        code = self._codes.get(style)
        if code is None:
            try:
                if self._sheet is None:
                    code = self._book.number_format(style)
                else:
                    from openpyxl.cell.read_only import ReadOnlyCell

                    probe = ReadOnlyCell(self._sheet, 1, 1, None, style_id=style)
                    code = str(probe.number_format or "General")
            except IndexError:  # a style the stylesheet does not have
                code = "General"
            self._codes[style] = code
        return code

    def shown(self, value: Any, style: int, number: int, col: int) -> Any:
        """A cell's value as the grid holds it (error texts as errors); notes its format."""
        if isinstance(value, str):
            if "#" in value:
                error = as_cell_error(value)
                if error is not None:
                    return error
            return value
        if style:
            code = self.number_format(style)
            if code != "General":
                self.formats[number, col] = code
        return value

    def _date(self, value: Any, style: int, ref: str | None) -> Any:
        from openpyxl.utils.datetime import from_excel

        try:
            return from_excel(value, self._epoch, timedelta=style in self._timedeltas)
        except (OverflowError, ValueError):
            # openpyxl shows such a cell as #VALUE!, and so does sheetai
            return "#VALUE!"

    def _formula(self, cell: Any, formula: Any, number: int, col: int, computed: bool) -> None:
        """Note a formula cell; its text (as openpyxl gives it) only matters without a result."""
        kind = formula.get("t")
        if kind in ("array", "dataTable"):
            return  # not plain text formulas: openpyxl never marks them either
        text = "=" + (formula.text or "")
        if kind == "shared":
            index = formula.get("si")
            ref = cell.get("r")
            if index in self._shared:
                if not computed:
                    text = self._shared[index].translate_formula(ref)
            elif text != "=":
                from openpyxl.formula.translate import Translator

                self._shared[index] = Translator(text, ref)
        self.note_formula(number, col, computed, text)

    def note_formula(self, number: int, col: int, computed: bool, text: str) -> None:
        self.formulas.append((number - 1, col - 1, computed, text))

    def mark_uncomputed(self, grid: Grid) -> None:
        """Tell formulas without a stored result from formulas whose result is empty.

        A file Excel saved holds every formula's result, so there an empty one means "" (as
        ``=IF(B2="","",B2)`` gives). A file without any stored result (written by a tool that
        never calculates, or by openpyxl) has uncomputed formulas.
        """
        # A formula with a result has a value, so it is never in the trailing empty rows the
        # grid dropped: whether any has one can be asked of them all.
        any_computed = any(computed for _, _, computed, _ in self.formulas)
        rows = len(grid)
        for r, c, computed, text in self.formulas:
            if not computed and r < rows:
                row = grid[r]
                if c < len(row) and row[c] is None:
                    row[c] = "" if any_computed else Uncomputed(text)


def _row_number(ref: str) -> int:
    try:
        return int(ref)
    except ValueError:
        return int(float(ref))


def _inline_text(inline: Any) -> str:
    """An inline string's text, runs joined, phonetic guides left out (openpyxl's ``content``)."""
    parts = []
    for child in inline:
        if child.tag == _T:
            if child.text is not None:
                parts.append(child.text)
        elif child.tag == _R:
            t = child.find(_T)
            if t is not None and t.text is not None:
                parts.append(t.text)
    return "".join(parts)
