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

from lxml import etree

from ..a1 import cell_address, quote_sheet
from ..cell_values import Uncomputed, as_cell_error
from ..errors import WorkbookError, WorkbookLockedError
from .base import Backend, CellBlock, CellRange, ChartSpec, Grid
from .xlsx_package import Package, merged_refs

__all__ = ["XlsxBackend", "Uncomputed", "lock_files"]

_MAX_CELL_CHARS = 32_767


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
        if self._values_book is None:
            self._stamp = self._file_stamp()
            self._values_book = self._load(read_only=True, data_only=True)
        return self._values_book

    def sheet_titles(self) -> list[str]:
        return list(self._values().sheetnames)

    def read(self, titles: Sequence[str]) -> dict[str, Grid]:
        book = self._values()
        wanted = [t for t in titles if t in book.sheetnames]
        grids = {}
        for title in wanted:
            grids[title], self._formats[title] = _rows_and_formats(book[title])
        formulas = None
        for title, grid in grids.items():
            for row in grid:
                for c, value in enumerate(row):
                    error = as_cell_error(value)
                    if error is not None:
                        row[c] = error
            if any(v is None for row in grid for v in row):
                formulas = formulas or self._load(read_only=True, data_only=False)
                _mark_uncomputed(grid, _sheet_rows(formulas[title]))
        if formulas is not None:
            formulas.close()
        return grids

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

    def _editable(self) -> Any:
        if self._edit_book is None:
            self._check_unchanged()
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
        _refuse_merged(book, self._pending)
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

    def set_dropdown(
        self, sheet: str, row: int, col: int, last_row: int, options: Sequence[str]
    ) -> bool:
        """A list validation on the range; an earlier one overlapping it is replaced.

        Excel keeps an inline list to 255 characters and splits it at commas, so options that
        do not fit that form get no dropdown (False).
        """
        from openpyxl.worksheet.datavalidation import DataValidation

        joined = ",".join(options)
        if not options or len(joined) > 255 or any(("," in o or '"' in o) for o in options):
            return False
        ws = self._editable()[sheet]
        _drop_overlapping_validations(ws, row, col, last_row)
        validation = DataValidation(
            type="list", formula1=f'"{joined}"', allow_blank=True, showDropDown=False
        )
        validation.error = "Pick one of the labels from the list."
        validation.errorTitle = "Not a label"
        validation.add(f"{cell_address(row, col)}:{cell_address(last_row, col)}")
        ws.add_data_validation(validation)
        return True

    def add_chart(self, sheet: str, spec: ChartSpec) -> bool:
        """An openpyxl bar chart; a chart already anchored at ``spec.anchor`` is replaced."""
        from openpyxl.chart import BarChart, Reference
        from openpyxl.utils.cell import coordinate_to_tuple

        ws = self._editable()[sheet]
        anchor_row, anchor_col = coordinate_to_tuple(spec.anchor)
        ws._charts = [c for c in ws._charts if _anchor_of(c) != (anchor_row, anchor_col)]
        chart = BarChart()
        chart.type = "col"
        chart.title = spec.title
        chart.x_axis.title = spec.x_title or None
        chart.y_axis.title = spec.y_title or None
        if spec.y_max is not None:
            chart.y_axis.scaling.min = 0
            chart.y_axis.scaling.max = spec.y_max
        # openpyxl >= 3.1 hides axes unless told otherwise.
        chart.x_axis.delete = False
        chart.y_axis.delete = False
        chart.height, chart.width = 7.5, 15
        for col in spec.series:
            data = Reference(ws, min_col=col, min_row=spec.header_row, max_row=spec.last_row)
            chart.add_data(data, titles_from_data=True)
        labels = Reference(
            ws, min_col=spec.categories, min_row=spec.first_row, max_row=spec.last_row
        )
        chart.set_categories(labels)
        ws.add_chart(chart, spec.anchor)
        return True

    def set_links(self, sheet: str, links: Sequence[tuple[int, int, str, int]]) -> bool:
        """Internal hyperlinks (``#'Sheet'!A12``): a click jumps to the row."""
        from openpyxl.worksheet.hyperlink import Hyperlink

        ws = self._editable()[sheet]
        for row, col, target, target_row in links:
            cell = ws.cell(row=row, column=col)
            cell.hyperlink = Hyperlink(
                ref=cell.coordinate, location=f"{quote_sheet(target)}!A{target_row}"
            )
            cell.style = "Hyperlink"
        return True

    def _save(self, book: Any) -> None:
        locks = lock_files(self.path)
        if locks:
            raise WorkbookLockedError(
                f"{self.path} is open in Excel or another program (lock file {locks[0].name}). "
                "Close it there, then run sheetai again; nothing was written."
            )
        self._check_unchanged()
        temp_name = ""
        try:
            handle, temp_name = tempfile.mkstemp(
                prefix=".sheetai-", suffix=self.path.suffix, dir=self.path.parent
            )
            os.close(handle)
            book.save(temp_name)
            with contextlib.suppress(OSError):
                shutil.copymode(self.path, temp_name)
            os.replace(temp_name, self.path)
            self._stamp = self._file_stamp()
        except OSError as exc:
            raise WorkbookError(
                f"{self.path}: could not save ({exc}). The file is as it was before this save."
            ) from exc
        finally:
            if temp_name and os.path.exists(temp_name):
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


def _refuse_merged(book: Any, blocks: Sequence[CellBlock]) -> None:
    """Stop before writing into merged cells, which openpyxl cannot write."""
    for block in blocks:
        if block.sheet not in book.sheetnames or not block.values:
            continue
        last_row = block.row + len(block.values) - 1
        last_col = block.col + max(len(r) for r in block.values) - 1
        for merged in book[block.sheet].merged_cells.ranges:
            if (
                merged.min_row <= last_row
                and block.row <= merged.max_row
                and merged.min_col <= last_col
                and block.col <= merged.max_col
            ):
                raise WorkbookError(
                    f"{quote_sheet(block.sheet)}!{merged.coord} is merged, and sheetai needs to "
                    "write there. Unmerge those cells (or move the output columns), then run again."
                )


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


def _drop_overlapping_validations(ws: Any, row: int, col: int, last_row: int) -> None:
    kept = []
    for validation in ws.data_validations.dataValidation:
        overlaps = any(
            r.min_col <= col <= r.max_col and r.min_row <= last_row and row <= r.max_row
            for r in validation.sqref.ranges
        )
        if not overlaps:
            kept.append(validation)
    ws.data_validations.dataValidation = kept


def _anchor_of(chart: Any) -> tuple[int, int] | None:
    """(row, col) of a chart's top-left corner, 1-based, whether new or read from a file."""
    anchor = chart.anchor
    if isinstance(anchor, str):
        from openpyxl.utils.cell import coordinate_to_tuple

        return coordinate_to_tuple(anchor)
    marker = getattr(anchor, "_from", None)
    if marker is None:
        return None
    return marker.row + 1, marker.col + 1


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
