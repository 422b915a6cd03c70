"""Excel files on disk (.xlsx, .xlsm): read in one pass, written by patching the package.

Reads take the workbook's parts straight from the package (:mod:`.xlsx_book`; openpyxl's
read-only mode for a package that is not plain) and each sheet in one pass (:mod:`.xlsx_read`).
Writes never go through openpyxl (which drops images, sparklines, slicers and cached formula
results): :class:`~.xlsx_edit.EditSession` patches only the worksheet parts sheetai writes,
copies every other zip entry byte for byte, and replaces the file atomically (temp file in the
same folder, then ``os.replace``). A sync that finds nothing to do never touches the file.
"""

from __future__ import annotations

import contextlib
import os
import warnings
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from lxml import etree

from ..a1 import quote_sheet
from ..cell_values import Uncomputed, as_cell_error
from ..errors import WorkbookError, WorkbookLockedError
from .base import Backend, CellBlock, CellRange, ChartSpec, Grid
from .xlsx_book import open_book
from .xlsx_edit import EditSession
from .xlsx_package import Package, merged_refs
from .xlsx_parts import has_formulas_in
from .xlsx_read import can_read, read_sheet

__all__ = ["XlsxBackend", "lock_files"]

_CONVERT_HINTS = {
    ".xls": " Open it in Excel and save it as .xlsx (File > Save As > Excel Workbook), or run "
    "soffice --headless --convert-to xlsx FILE.",
    ".ods": " Save it as .xlsx from LibreOffice (File > Save As > Excel 2007-365), or run "
    "soffice --headless --convert-to xlsx FILE.",
    ".csv": " Open it in Excel or LibreOffice and save it as .xlsx, or run "
    "soffice --headless --convert-to xlsx FILE (a .csv holds no tabs for the config and state).",
}


def lock_files(path: Path) -> list[Path]:
    """Files that mean another program has ``path`` open (Excel's ``~$``, LibreOffice's lock)."""
    name = path.name
    candidates = [f"~${name}", f"~${name[2:]}", f".~lock.{name}#"]
    return [path.with_name(c) for c in candidates if path.with_name(c).exists()]


class XlsxBackend(Backend):
    """A workbook file. Use as a context manager or call :meth:`close`."""

    kind = "xlsx"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        if not self.path.exists():
            raise WorkbookError(f"{self.path}: no such file. Check the path.")
        suffix = self.path.suffix.lower()
        if suffix not in {".xlsx", ".xlsm"}:
            raise WorkbookError(
                f"{self.path}: sheetai reads .xlsx and .xlsm files, not '{suffix}'."
                f"{_CONVERT_HINTS.get(suffix, '')}"
            )
        self._values_book: Any = None
        self._session: EditSession | None = None
        self._pending: list[CellBlock] = []
        self._changed = False
        self._stamp: tuple[int, int] | None = None
        self._formats: dict[str, dict[tuple[int, int], str]] = {}

    def _file_stamp(self) -> tuple[int, int]:
        stat = self.path.stat()
        return stat.st_mtime_ns, stat.st_size

    def _check_unchanged(self) -> None:
        """Refuse to write over a file someone saved since sheetai read it: rows could shift."""
        if self._stamp is not None and self._file_stamp() != self._stamp:
            raise WorkbookError(
                f"{self.path} was changed by another program while sheetai was working, so "
                "its rows may have moved. Nothing more was written; run sheetai again (rows "
                "already saved are kept)."
            )

    def _load(self, **options: Any) -> Any:
        import openpyxl

        try:
            return openpyxl.load_workbook(self.path, **options)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
            raise WorkbookError(
                f"{self.path}: cannot be read as an Excel workbook ({type(exc).__name__}: {exc}). "
                "Is it a real .xlsx file, and not open in another program?"
            ) from exc

    def _values(self) -> Any:
        """The book values are read from: sheetai's own light read of the package, or
        openpyxl's read-only load for a package that read does not find plain."""
        if self._values_book is None:
            if self._stamp is None:
                self._stamp = self._file_stamp()
            self._values_book = open_book(self.path) or self._load(read_only=True, data_only=True)
        return self._values_book

    def sheet_titles(self) -> list[str]:
        return list(self._values().sheetnames)

    def read(self, titles: Sequence[str]) -> dict[str, Grid]:
        with warnings.catch_warnings():
            # openpyxl warns that it will drop extensions (sparklines, x14 validations) it
            # cannot read; sheetai never saves through openpyxl, so they stay in the file.
            warnings.filterwarnings("ignore", r".*extension is not supported", UserWarning)
            return self._read(titles)

    def _read(self, titles: Sequence[str]) -> dict[str, Grid]:
        book = self._values()
        grids = {}
        for title in [t for t in titles if t in book.sheetnames]:
            if can_read(book, title):
                grids[title], self._formats[title] = read_sheet(book, title)
            else:
                grids[title] = self._read_slowly(book, title)
        return grids

    def _read_slowly(self, book: Any, title: str) -> Grid:
        """Through openpyxl's cells, for an openpyxl that hides what :func:`read_sheet` needs."""
        grid, self._formats[title] = _rows_and_formats(book[title])
        for row in grid:
            for c, value in enumerate(row):
                error = as_cell_error(value)
                if error is not None:
                    row[c] = error
        if any(v is None for row in grid for v in row) and self._has_formulas(title):
            formulas = self._load(read_only=True, data_only=False)
            try:
                _mark_uncomputed(grid, _sheet_rows(formulas[title]))
            finally:
                formulas.close()
        return grid

    def _has_formulas(self, title: str) -> bool:
        """Whether the sheet's part holds any formula: a raw scan, far cheaper than a parse."""
        try:
            with Package(self.path) as package:
                part = package.sheet_parts().get(title)
                return part is None or has_formulas_in(package.read(part))
        except (zipfile.BadZipFile, KeyError, OSError, etree.XMLSyntaxError):
            return True

    def merged_ranges(self, sheet: str) -> list[CellRange]:
        """Merged areas, from the sheet part's ``<mergeCells>`` (read-only openpyxl hides them)."""
        from openpyxl.utils.cell import range_boundaries

        try:
            with Package(self.path) as package:
                part = package.sheet_parts().get(sheet)
                refs = merged_refs(package.read(part)) if part else []
        except (zipfile.BadZipFile, KeyError, OSError, etree.XMLSyntaxError) as exc:
            raise WorkbookError(
                f"{self.path}: cannot read the merged cells of sheet {quote_sheet(sheet)} ({exc})."
            ) from exc
        ranges = []
        for ref in refs:
            min_col, min_row, max_col, max_row = range_boundaries(ref)
            ranges.append(CellRange(min_row, min_col, max_row or min_row, max_col or min_col))
        return ranges

    def number_formats(self, sheet: str) -> dict[tuple[int, int], str]:
        """Formats of the non-text cells of ``sheet`` that are not General, from the last read."""
        if sheet not in self._formats:
            self.read([sheet])
        return dict(self._formats.get(sheet, {}))

    def _edits(self) -> EditSession:
        if self._session is None:
            self._check_unchanged()
            with self._patching("opened for writing"):
                self._session = EditSession(self.path)
        return self._session

    @contextlib.contextmanager
    def _patching(self, doing: str) -> Iterator[None]:
        """Turn a part sheetai cannot parse or find into a WorkbookError naming the file; the
        session is dropped, so nothing half-patched is saved later."""
        try:
            yield
        except (zipfile.BadZipFile, KeyError, ValueError, etree.XMLSyntaxError) as exc:
            self._drop_session()
            raise WorkbookError(
                f"{self.path}: cannot be {doing} ({type(exc).__name__}: {exc}). Is it a real "
                ".xlsx file, saved by Excel or LibreOffice? Nothing was written."
            ) from exc
        except WorkbookError:
            self._drop_session()
            raise

    def _drop_session(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def add_sheet(self, title: str, *, hidden: bool = False) -> None:
        with self._patching("given a new sheet"):
            self._edits().add_sheet(title, hidden)
        self._changed = True

    def write(self, blocks: Sequence[CellBlock]) -> None:
        self._pending.extend(blocks)

    def commit(self) -> None:
        if not self._pending and not self._changed:
            return
        self._refuse_locked()
        self._check_unchanged()
        # The read-only book holds the file open, which os.replace cannot replace on Windows.
        if self._values_book is not None:
            self._values_book.close()
            self._values_book = None
        try:
            with self._patching("written"):
                session = self._edits()
                session.refuse_merged(self._pending)
                session.write_blocks(self._pending)
                session.save()
        except OSError as exc:
            self._drop_session()
            raise WorkbookError(
                f"{self.path}: could not save ({exc}). The file is as it was before this save."
            ) from exc
        self._pending.clear()
        self._changed = False
        self._stamp = self._file_stamp()

    def set_column_widths(self, sheet: str, widths: Mapping[int, float]) -> bool:
        """Widths in characters, as Excel counts them; buffered until :meth:`commit`."""
        with self._patching("written"):
            self._edits().set_widths(sheet, widths)
        self._changed = True
        return True

    def set_dropdown(
        self, sheet: str, row: int, col: int, last_row: int, options: Sequence[str]
    ) -> bool:
        """A list validation on the range; an earlier one overlapping it is replaced.

        Excel keeps an inline list to 255 characters and splits it at commas, so options that
        do not fit that form get no dropdown (False).
        """
        joined = ",".join(options)
        if not options or len(joined) > 255 or any(("," in o or '"' in o) for o in options):
            return False
        with self._patching("written"):
            self._edits().set_dropdown(sheet, row, col, last_row, joined)
        self._changed = True
        return True

    def add_chart(self, sheet: str, spec: ChartSpec) -> bool:
        """A column chart; a chart already anchored at ``spec.anchor`` is replaced."""
        with self._patching("written"):
            self._edits().add_chart(sheet, spec)
        self._changed = True
        return True

    def set_links(self, sheet: str, links: Sequence[tuple[int, int, str, int]]) -> bool:
        """Internal hyperlinks (``#'Sheet'!A12``): a click jumps to the row."""
        if not links:
            return True
        with self._patching("written"):
            self._edits().set_links(sheet, links)
        self._changed = True
        return True

    def _refuse_locked(self) -> None:
        locks = lock_files(self.path)
        if locks:
            raise WorkbookLockedError(_locked_message(self.path, locks[0]))

    def check_writable(self) -> None:
        """Fail before any model call if the file cannot be written."""
        self._refuse_locked()
        if not os.access(self.path, os.W_OK) or not os.access(self.path.parent, os.W_OK):
            raise WorkbookError(f"{self.path}: no permission to write the file or its folder.")

    def close(self) -> None:
        if self._values_book is not None:
            self._values_book.close()
            self._values_book = None
        self._drop_session()


def _rows_and_formats(sheet: Any) -> tuple[Grid, dict[tuple[int, int], str]]:
    """Values of a read-only sheet, and the number formats of its non-text, non-empty cells."""
    if hasattr(sheet, "reset_dimensions"):
        sheet.reset_dimensions()
    rows: Grid = []
    formats: dict[tuple[int, int], str] = {}
    by_style: dict[int, str] = {}
    for r, cells in enumerate(sheet.iter_rows(), start=1):
        values = []
        for c, cell in enumerate(cells, start=1):
            value = cell.value
            values.append(value)
            style = getattr(cell, "_style_id", 0)
            if style and value is not None and not isinstance(value, str):
                code = by_style.get(style)
                if code is None:
                    code = by_style[style] = str(cell.number_format or "General")
                if code != "General":
                    formats[r, c] = code
        rows.append(values)
    while rows and all(v is None for v in rows[-1]):
        rows.pop()
    return rows, formats


def _sheet_rows(sheet: Any) -> Grid:
    # Some writers store a wrong <dimension>; read-only mode trusts it unless reset.
    if hasattr(sheet, "reset_dimensions"):
        sheet.reset_dimensions()
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    while rows and all(v is None for v in rows[-1]):
        rows.pop()
    return rows


def _mark_uncomputed(values: Grid, formulas: Grid) -> None:
    """Tell formulas without a stored result from formulas whose result is empty.

    A file Excel saved holds every formula's result, so there an empty one means "" (as
    ``=IF(B2="","",B2)`` gives). A file without any stored result (written by a tool that never
    calculates, or by openpyxl) has uncomputed formulas.
    """
    cells = [
        (r, c, formula)
        for r, row in enumerate(formulas[: len(values)])
        for c, formula in enumerate(row)
        if isinstance(formula, str) and formula.startswith("=") and c < len(values[r])
    ]
    computed = any(values[r][c] is not None for r, c, _ in cells)
    for r, c, formula in cells:
        if values[r][c] is None:
            values[r][c] = "" if computed else Uncomputed(formula)


def _locked_message(path: Path, lock: Path) -> str:
    # Excel's ~$ owner files are usually hidden on Windows; LibreOffice's sit beside the file.
    remove = f'delete "{lock}"' if lock.name.startswith("~$") else f'rm "{lock}"'
    return (
        f"{path} is open in Excel or LibreOffice (lock file {lock.name}); nothing was written. "
        "Close it there, then run sheetai again. If no program has the file open, the lock was "
        f"left by a program that crashed: {remove}, then run again."
    )
