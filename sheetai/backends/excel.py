"""A workbook open in Excel (Windows or macOS), read and written live through xlwings.

Only xlwings' open-source Book / Sheet / Range API is used (``sheets``, ``used_range``,
``.options(ndim=2).value``, ``sheets.add``, ``visible``). Values land in Excel the moment they
are assigned and there is no file to save, so :meth:`XlwingsBackend.commit` is where the
buffered writes are merged into as few Range assignments as the cells allow.

Excel reads a string assigned to ``Range.value`` the way it reads typed input: ``"=..."``
becomes a formula, ``"0012"`` the number 12, ``"TRUE"`` a boolean, ``"1/2"`` a date. Such
strings are written with a leading apostrophe, which Excel keeps out of the cell's value, so the
cell holds exactly the text sheetai wrote.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

from ..cell_values import as_cell_error
from ..errors import WorkbookError
from ..settings import Settings
from .base import Backend, CellBlock, Grid
from .blocks import merge_blocks

__all__ = ["XlwingsBackend", "excel_literal"]

_MAX_CELL_CHARS = 32_767
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
# Strings Excel would not keep as text when assigned to a cell: formulas and escapes, numbers
# (with thousands separators, currency, percent, exponent), booleans, dates and times.
_NOT_TEXT = re.compile(
    r"""^\s*(?:
        [=+\-@']                                             # formula, sign or escape
      | [$€£¥(]?\s*[\d.,]+(?:e[+-]?\d+)?\s*%?\)?\s*$       # 12, 1,234.5, 50%, $3, 1e5
      | true\s*$ | false\s*$
      | \d{1,4}\s*[-/.:]\s*\d{1,4}                           # 1/2, 2024-05-01, 10:30
      | \d{1,2}[\s-]*"""
    + _MONTH
    + r"""                              # 5 May, 5-May-24
      | """
    + _MONTH
    + r"""[\s-]*\d{1,4}                       # May 5, Jan-24
    )""",
    re.IGNORECASE | re.VERBOSE,
)


def excel_literal(value: Any) -> Any:
    """The value to assign so that the cell holds exactly ``value``.

    >>> excel_literal("=SUM(A1)"), excel_literal("0012"), excel_literal("Positive")
    ("'=SUM(A1)", "'0012", 'Positive')
    >>> excel_literal("2024-05-01T10:00:00"), excel_literal("TRUE"), excel_literal(0.5)
    ("'2024-05-01T10:00:00", "'TRUE", 0.5)
    >>> excel_literal("May 5"), excel_literal("Mayhem"), excel_literal("3 stars")
    ("'May 5", 'Mayhem', '3 stars')
    """
    if not isinstance(value, str):
        return value
    text = value[: _MAX_CELL_CHARS - 1]
    return "'" + text if _NOT_TEXT.match(text) else text


def _excel_errors() -> tuple[type[BaseException], ...]:
    """The exceptions Excel's automation layer raises on this platform."""
    import xlwings

    errors: list[type[BaseException]] = [xlwings.XlwingsError]
    with contextlib.suppress(ImportError):
        import pywintypes  # type: ignore[import-not-found]  # Windows: COM errors

        errors.append(pywintypes.com_error)
    with contextlib.suppress(ImportError):
        from aem.aemsend import EventError  # type: ignore[import-not-found]  # macOS

        errors.append(EventError)
    with contextlib.suppress(ImportError):
        from appscript.reference import CommandError  # type: ignore[import-not-found]

        errors.append(CommandError)
    return tuple(errors)


class XlwingsBackend(Backend):
    """A workbook open in Excel.

    Args:
        book: ``"active"`` for the active workbook, a workbook's name (``"Feedback.xlsx"``, with or
            without the extension), or an xlwings ``Book`` (as given by ``xw.Book.caller()``).
        settings: unused today; taken for the same signature as the other backends.
        books: the open workbooks to look ``book`` up in; xlwings' ``xw.books`` by default.
    """

    kind = "excel"

    def __init__(
        self, book: Any = "active", settings: Settings | None = None, *, books: Any = None
    ) -> None:
        self._errors = _excel_errors()
        self.book = self._find(book, books) if isinstance(book, str) else book
        with self._translate("read the workbook's name"):
            self.location = f"excel:{self.book.name}"
        self._pending: list[CellBlock] = []
        self._new_sheets: list[tuple[str, bool]] = []

    def _find(self, name: str, books: Any) -> Any:
        self.location = f"excel:{name}"
        with self._translate("list the open workbooks"):
            if books is None:
                import xlwings

                books = xlwings.books
            if name.strip().casefold() in {"", "active"}:
                active = books.active
                if active is None:
                    raise WorkbookError("Excel has no workbook open. Open one, then run again.")
                return active
            wanted = name.strip().casefold()
            open_books = list(books)
            for candidate in open_books:
                title = str(candidate.name)
                if wanted in {title.casefold(), title.rsplit(".", 1)[0].casefold()}:
                    return candidate
        names = ", ".join(str(b.name) for b in open_books) or "none"
        raise WorkbookError(
            f"no workbook named '{name}' is open in Excel (open: {names}). Open it in Excel, or "
            "name one of those."
        )

    @contextlib.contextmanager
    def _translate(self, what: str) -> Iterator[None]:
        try:
            yield
        except self._errors as exc:
            if "only supported on Windows and macOS" in str(exc):
                raise WorkbookError(
                    "live Excel (--excel) works on Windows and macOS with Excel running. Here, "
                    "save the workbook and run: sheetai run FILE.xlsx"
                ) from exc
            raise WorkbookError(
                f"{self.location}: Excel refused to {what} ({exc}). If a cell is being edited, "
                "press Enter or Esc in Excel, then run again."
            ) from exc

    def sheet_titles(self) -> list[str]:
        with self._translate("list the sheets"):
            titles = [str(sheet.name) for sheet in self.book.sheets]
        return titles + [t for t, _ in self._new_sheets if t not in titles]

    def read(self, titles: Sequence[str]) -> dict[str, Grid]:
        grids: dict[str, Grid] = {}
        with self._translate("read the sheets"):
            present = {str(sheet.name): sheet for sheet in self.book.sheets}
            for title in titles:
                if title in present:
                    grids[title] = _sheet_rows(present[title])
        return grids

    def add_sheet(self, title: str, *, hidden: bool = False) -> None:
        self._new_sheets.append((title, hidden))

    def write(self, blocks: Sequence[CellBlock]) -> None:
        self._pending.extend(blocks)

    def commit(self) -> None:
        if self._new_sheets:
            with self._translate("add a sheet"):
                self._add_sheets()
        blocks = merge_blocks(self._pending)
        with self._translate("write the results"):
            sheets = {str(sheet.name): sheet for sheet in self.book.sheets}
            for block in blocks:
                values = [[excel_literal(v) for v in row] for row in block.values]
                sheets[block.sheet].range((block.row, block.col)).value = values
        self._pending.clear()

    def _add_sheets(self) -> None:
        sheets = self.book.sheets
        # Adding a sheet activates it; the user keeps looking at the sheet they had open.
        active = sheets.active
        existing = {str(sheet.name).casefold(): sheet for sheet in sheets}
        to_hide = []
        for title, hidden in self._new_sheets:
            sheet = existing.get(title.casefold())
            if sheet is None:
                sheet = sheets.add(title, after=sheets[len(sheets) - 1])
                existing[title.casefold()] = sheet
            if hidden:
                to_hide.append(sheet)
        active.activate()
        for sheet in to_hide:
            sheet.visible = False
        self._new_sheets.clear()


def _sheet_rows(sheet: Any) -> Grid:
    """The sheet's values from A1 to the end of its used range; trailing empty rows dropped."""
    used = sheet.used_range
    # Without err_to_str xlwings reads an error value (#N/A) as None, an empty cell.
    values = [
        [as_cell_error(v) or v for v in row]
        for row in used.options(ndim=2, err_to_str=True).value or []
    ]
    top, left = int(used.row), int(used.column)
    width = left - 1 + max((len(r) for r in values), default=0)
    rows: Grid = [[None] * width for _ in range(top - 1)]
    rows.extend([None] * (left - 1) + list(r) for r in values)
    while rows and all(v is None for v in rows[-1]):
        rows.pop()
    return rows
