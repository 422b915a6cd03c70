"""An in-memory stand-in for the slice of xlwings' Book / Sheet / Range API sheetai uses.

Excel cannot run here, so the live-Excel backend and the macro are tested against this. It
keeps the behaviours that matter and that differ from a plain grid:

- ``Range.value`` reads a single cell as a scalar, one row or column as a flat list and a block
  as a list of lists; ``.options(ndim=2)`` always gives a list of lists. Empty cells are None,
  every number comes back as a float.
- Assigning a string works like typing it: ``"=..."`` becomes a formula (read back as None, as
  xlwings reads an error value), numeric text a number, ``TRUE``/``FALSE`` a boolean; a leading
  apostrophe keeps the rest as text and is not part of the value.
- A 2-D list assigned to one cell fills the block below and to the right of it; a flat list
  fills a row.
- ``used_range`` spans the cells holding values (just A1 on an empty sheet); ``expand()``
  follows filled cells down and right from a corner.
- Every ``.value`` assignment is logged in ``app.assignments``; while ``app.busy`` (a cell
  being edited) Excel rejects calls.
- ``sheets.add`` makes the new sheet the active one; hiding the active sheet activates the
  first visible one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import xlwings

_A1 = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")
_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$", re.IGNORECASE)


def a1_to_cell(address: str) -> tuple[int, int]:
    """``"B3"`` -> ``(3, 2)``."""
    match = _A1.match(address)
    if not match:
        raise ValueError(f"not a single-cell A1 address: {address!r}")
    col = 0
    for ch in match.group(1).upper():
        col = col * 26 + ord(ch) - 64
    return int(match.group(2)), col


def _as_stored(value: Any) -> tuple[Any, str | None]:
    """(value, formula) as Excel stores what was assigned."""
    if isinstance(value, bool) or value is None:
        return value, None
    if isinstance(value, int | float):
        return float(value), None
    if isinstance(value, str):
        if value.startswith("'"):
            return value[1:], None
        if value.startswith("=") and len(value) > 1:
            return None, value
        if _NUMBER.match(value):
            return float(value), None
        if value.strip().upper() in {"TRUE", "FALSE"}:
            return value.strip().upper() == "TRUE", None
        return (value if value != "" else None), None
    return value, None


class App:
    """The Excel application: a status bar and message boxes with scripted answers."""

    def __init__(self) -> None:
        self.status_bar: str | bool = False
        self.status_history: list[str] = []
        self.alerts: list[dict[str, Any]] = []
        self.answers: list[str] = []  # what the user clicks, in order; "ok" when empty
        # True while someone edits a cell: Excel then rejects every call from outside.
        self.busy = False
        self.assignments: list[tuple[str, int, int, int, int]] = []  # sheet, row, col, rows, cols
        self.books = Books(self)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "status_bar" and isinstance(value, str):
            self.status_history.append(value)
        super().__setattr__(name, value)

    def alert(
        self,
        prompt: str,
        title: str | None = None,
        buttons: str = "ok",
        mode: str | None = None,
        callback: str | None = None,
    ) -> str:
        self.alerts.append({"prompt": prompt, "title": title, "buttons": buttons, "mode": mode})
        return self.answers.pop(0) if self.answers else "ok"


class Books:
    """``xw.books``: the open workbooks and the active one."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._books: list[Book] = []
        self.active: Book | None = None

    def add(self, name: str) -> Book:
        book = Book(self.app, name)
        self._books.append(book)
        self.active = book
        return book

    def __iter__(self) -> Iterator[Book]:
        return iter(list(self._books))

    def __len__(self) -> int:
        return len(self._books)


class Book:
    def __init__(self, app: App, name: str) -> None:
        self.app = app
        self.name = name
        self.sheets = Sheets(self)
        self.selection: str | None = None

    def __repr__(self) -> str:
        return f"<Book [{self.name}]>"


class Sheets:
    def __init__(self, book: Book) -> None:
        self.book = book
        self._sheets: list[Sheet] = []
        self._active: Sheet | None = None

    @property
    def active(self) -> Sheet:
        assert self._active is not None, "a workbook always has an active sheet"
        return self._active

    def __iter__(self) -> Iterator[Sheet]:
        return iter(list(self._sheets))

    def __len__(self) -> int:
        return len(self._sheets)

    def __getitem__(self, key: int | str) -> Sheet:
        if isinstance(key, int):
            return self._sheets[key]
        for sheet in self._sheets:
            if sheet.name.casefold() == key.casefold():
                return sheet
        raise KeyError(key)

    def add(
        self, name: str | None = None, before: Sheet | None = None, after: Sheet | None = None
    ) -> Sheet:
        name = name or f"Sheet{len(self._sheets) + 1}"
        if any(s.name.casefold() == name.casefold() for s in self._sheets):
            raise ValueError(f"Sheet named '{name}' already present in workbook")
        sheet = Sheet(self.book, name)
        if before is not None:
            self._sheets.insert(self._sheets.index(before), sheet)
        elif after is not None:
            self._sheets.insert(self._sheets.index(after) + 1, sheet)
        else:
            # Excel puts a new sheet before the active one.
            self._sheets.insert(self._sheets.index(self._active) if self._active else 0, sheet)
        self._active = sheet
        return sheet


class Sheet:
    def __init__(self, book: Book, name: str) -> None:
        self.book = book
        self.name = name
        self.cells: dict[tuple[int, int], Any] = {}
        self.formulas: dict[tuple[int, int], str] = {}
        #: Cells showing an error value (``#N/A``): None unless read with ``err_to_str``.
        self.errors: dict[tuple[int, int], str] = {}
        self._visible = True

    def __repr__(self) -> str:
        return f"<Sheet [{self.book.name}]{self.name}>"

    @property
    def visible(self) -> bool:
        return self._visible

    @visible.setter
    def visible(self, value: bool) -> None:
        self._visible = bool(value)
        sheets = self.book.sheets
        if not value and sheets.active is self:
            sheets._active = next(s for s in sheets if s.visible)

    def activate(self) -> None:
        assert self._visible, "Excel cannot activate a hidden sheet"
        self.book.sheets._active = self

    def range(
        self, cell1: str | tuple[int, int], cell2: str | tuple[int, int] | None = None
    ) -> Range:
        first = a1_to_cell(cell1) if isinstance(cell1, str) else cell1
        last = (a1_to_cell(cell2) if isinstance(cell2, str) else cell2) if cell2 else first
        return Range(self, first, last)

    @property
    def used_range(self) -> Range:
        if not (self.cells or self.errors):
            return Range(self, (1, 1), (1, 1))
        rows = [r for r, _ in [*self.cells, *self.errors]]
        cols = [c for _, c in [*self.cells, *self.errors]]
        return Range(self, (min(rows), min(cols)), (max(rows), max(cols)))

    def show_error(self, row: int, col: int, error: str) -> None:
        """Make a cell show an error value, as a formula that failed would."""
        self.store(row, col, None)
        self.errors[(row, col)] = error

    def store(self, row: int, col: int, value: Any) -> None:
        stored, formula = _as_stored(value)
        self.errors.pop((row, col), None)
        self.cells.pop((row, col), None)
        self.formulas.pop((row, col), None)
        if stored is not None:
            self.cells[(row, col)] = stored
        if formula is not None:
            self.formulas[(row, col)] = formula


class Range:
    def __init__(
        self,
        sheet: Sheet,
        first: tuple[int, int],
        last: tuple[int, int],
        ndim: int | None = None,
        err_to_str: bool = False,
    ) -> None:
        self.sheet = sheet
        self.row, self.column = first
        self.last_row, self.last_column = last
        self._ndim = ndim
        self._err_to_str = err_to_str

    @property
    def shape(self) -> tuple[int, int]:
        return self.last_row - self.row + 1, self.last_column - self.column + 1

    def options(self, convert: Any = None, **options: Any) -> Range:
        unknown = set(options) - {"ndim", "err_to_str"}
        assert convert is None and not unknown, f"the stand-in models ndim, err_to_str: {unknown}"
        return Range(
            self.sheet,
            (self.row, self.column),
            (self.last_row, self.last_column),
            options.get("ndim"),
            bool(options.get("err_to_str")),
        )

    def expand(self, mode: str = "table") -> Range:
        row, col = self.last_row, self.last_column
        if mode in ("table", "down"):
            while (row + 1, self.column) in self.sheet.cells:
                row += 1
        if mode in ("table", "right"):
            while (self.row, col + 1) in self.sheet.cells:
                col += 1
        return Range(self.sheet, (self.row, self.column), (row, col), self._ndim)

    @property
    def value(self) -> Any:
        errors = self.sheet.errors if self._err_to_str else {}
        grid = [
            [
                self.sheet.cells.get((r, c), errors.get((r, c)))
                for c in range(self.column, self.last_column + 1)
            ]
            for r in range(self.row, self.last_row + 1)
        ]
        if self._ndim == 2:
            return grid
        rows, cols = self.shape
        if rows == 1 and cols == 1:
            return grid[0][0]
        if rows == 1:
            return grid[0]
        if cols == 1:
            return [r[0] for r in grid]
        return grid

    @value.setter
    def value(self, data: Any) -> None:
        app = self.sheet.book.app
        if app.busy:
            raise xlwings.XlwingsError("Call was rejected by callee.")
        if isinstance(data, list | tuple):
            rows = (
                [list(r) for r in data]
                if data and isinstance(data[0], list | tuple)
                else [list(data)]
            )
        else:
            rows = [[data]]
        for r, line in enumerate(rows):
            for c, value in enumerate(line):
                self.sheet.store(self.row + r, self.column + c, value)
        app.assignments.append((self.sheet.name, self.row, self.column, len(rows), len(rows[0])))

    def select(self) -> None:
        self.sheet.book.selection = f"{self.sheet.name}!{self.row},{self.column}"


def make_book(
    sheets: dict[str, list[list[Any]]], name: str = "Book1.xlsx", app: App | None = None
) -> Book:
    """A workbook open in a stand-in Excel, its sheets filled from A1; the first sheet active."""
    app = app or App()
    book = app.books.add(name)
    for title, rows in sheets.items():
        sheet = book.sheets.add(
            title, after=book.sheets[len(book.sheets) - 1] if len(book.sheets) else None
        )
        if rows:
            sheet.range((1, 1)).value = [list(r) for r in rows]
    if len(book.sheets):
        book.sheets[0].activate()
    return book
