"""Excel files on disk (.xlsx, .xlsm) through openpyxl.

Reads use openpyxl's fast read-only mode; the workbook is loaded for editing only when there
is something to write, so a sync that finds nothing to do never touches the file. Saving goes
to a temporary file in the same folder and then ``os.replace``, so a crash mid-save cannot leave
a half-written workbook.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from copy import copy
from pathlib import Path
from typing import Any

from ..errors import WorkbookError, WorkbookLockedError
from .base import Backend, CellBlock, Grid

__all__ = ["XlsxBackend", "Uncomputed", "lock_files"]

_MAX_CELL_CHARS = 32_767


class Uncomputed(str):
    """A formula cell whose result the file does not hold (saved by a tool that never computed
    it); its text is the formula. The engine skips rows whose inputs are uncomputed."""


def lock_files(path: Path) -> list[Path]:
    """Files that mean another program has ``path`` open (Excel's ``~$``, LibreOffice's lock)."""
    name = path.name
    candidates = [f"~${name}", f"~${name[2:]}", f".~lock.{name}#"]
    return [path.with_name(c) for c in candidates if path.with_name(c).exists()]


class XlsxBackend(Backend):
    """A workbook file. Use as a context manager or call :meth:`close`."""

    kind = "xlsx"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import openpyxl  # noqa: F401 - a core dependency; imported here to keep startup light

        self.path = Path(path)
        self.location = str(self.path)
        if not self.path.exists():
            raise WorkbookError(f"{self.path}: no such file. Check the path.")
        suffix = self.path.suffix.lower()
        if suffix not in {".xlsx", ".xlsm"}:
            hint = (
                " Open it in Excel and save it as .xlsx."
                if suffix in {".xls", ".ods", ".csv"}
                else ""
            )
            raise WorkbookError(
                f"{self.path}: sheetai reads .xlsx and .xlsm files, not '{suffix}'.{hint}"
            )
        self._keep_vba = suffix == ".xlsm"
        self._values_book: Any = None
        self._edit_book: Any = None
        self._pending: list[CellBlock] = []
        self._new_sheets: list[tuple[str, bool]] = []

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
        if self._values_book is None:
            self._values_book = self._load(read_only=True, data_only=True)
        return self._values_book

    def sheet_titles(self) -> list[str]:
        return list(self._values().sheetnames)

    def read(self, titles: Sequence[str]) -> dict[str, Grid]:
        book = self._values()
        wanted = [t for t in titles if t in book.sheetnames]
        grids = {title: _sheet_rows(book[title]) for title in wanted}
        formulas = None
        for title, grid in grids.items():
            if any(v is None for row in grid for v in row):
                formulas = formulas or self._load(read_only=True, data_only=False)
                _mark_uncomputed(grid, _sheet_rows(formulas[title]))
        if formulas is not None:
            formulas.close()
        return grids

    def _editable(self) -> Any:
        if self._edit_book is None:
            self._edit_book = self._load(keep_vba=self._keep_vba, keep_links=True, rich_text=False)
        return self._edit_book

    def add_sheet(self, title: str, *, hidden: bool = False) -> None:
        book = self._editable()
        sheet = book.create_sheet(title)
        if hidden:
            sheet.sheet_state = "hidden"

    def write(self, blocks: Sequence[CellBlock]) -> None:
        self._pending.extend(blocks)

    def commit(self) -> None:
        if not self._pending and self._edit_book is None:
            return
        book = self._editable()
        widths = {title: book[title].max_column for title in {b.sheet for b in self._pending}}
        for block in self._pending:
            sheet = book[block.sheet]
            for r, row_values in enumerate(block.values):
                for c, value in enumerate(row_values):
                    _set_cell(sheet.cell(row=block.row + r, column=block.col + c), value)
            if block.row == 1 and block.col + len(block.values[0]) - 1 > widths[block.sheet] > 1:
                _style_new_headers(
                    sheet, widths[block.sheet], block.col, block.col + len(block.values[0]) - 1
                )
        self._pending.clear()
        self._save(book)

    def _save(self, book: Any) -> None:
        locks = lock_files(self.path)
        if locks:
            raise WorkbookLockedError(
                f"{self.path} is open in Excel or another program (lock file {locks[0].name}). "
                "Close it there, then run sheetai again; nothing was written."
            )
        handle, temp_name = tempfile.mkstemp(
            prefix=".sheetai-", suffix=self.path.suffix, dir=self.path.parent
        )
        os.close(handle)
        try:
            book.save(temp_name)
            with contextlib.suppress(OSError):
                shutil.copymode(self.path, temp_name)
            os.replace(temp_name, self.path)
        except OSError as exc:
            raise WorkbookError(
                f"{self.path}: could not save ({exc}). Nothing was lost in the file."
            ) from exc
        finally:
            if os.path.exists(temp_name):
                os.unlink(temp_name)

    def check_writable(self) -> None:
        """Fail before any model call if the file cannot be written."""
        locks = lock_files(self.path)
        if locks:
            raise WorkbookLockedError(
                f"{self.path} is open in Excel or another program (lock file {locks[0].name}). "
                "Close it there, then run sheetai again; nothing was written."
            )
        if not os.access(self.path, os.W_OK) or not os.access(self.path.parent, os.W_OK):
            raise WorkbookError(f"{self.path}: no permission to write the file or its folder.")

    def close(self) -> None:
        if self._values_book is not None:
            self._values_book.close()
            self._values_book = None
        if self._edit_book is not None:
            self._edit_book.close()
            self._edit_book = None


def _sheet_rows(sheet: Any) -> Grid:
    # Some writers store a wrong <dimension>; read-only mode trusts it unless reset.
    if hasattr(sheet, "reset_dimensions"):
        sheet.reset_dimensions()
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    while rows and all(v is None for v in rows[-1]):
        rows.pop()
    return rows


def _mark_uncomputed(values: Grid, formulas: Grid) -> None:
    for r, row in enumerate(values):
        if r >= len(formulas):
            return
        for c, value in enumerate(row):
            if value is None and c < len(formulas[r]):
                formula = formulas[r][c]
                if isinstance(formula, str) and formula.startswith("="):
                    row[c] = Uncomputed(formula)


def _style_new_headers(sheet: Any, old_width: int, first: int, last: int) -> None:
    """Give output headers sheetai created the look of the table's last header."""
    model = sheet.cell(row=1, column=old_width)
    for col in range(max(first, old_width + 1), last + 1):
        cell = sheet.cell(row=1, column=col)
        if model.has_style:
            cell.font, cell.fill = copy(model.font), copy(model.fill)
            cell.border, cell.alignment = copy(model.border), copy(model.alignment)
        header = str(cell.value or "")
        width = 50 if header.endswith("reasoning") else max(12, min(30, len(header) + 4))
        sheet.column_dimensions[cell.column_letter].width = width


def _set_cell(cell: Any, value: Any) -> None:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)[:_MAX_CELL_CHARS]
        cell.value = value
        # An answer that starts with '=' is text, never a formula Excel would run.
        if value.startswith("="):
            cell.data_type = "s"
    else:
        cell.value = value
