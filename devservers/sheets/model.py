"""The spreadsheets behind FakeSheets: sheets, their cells, and the changes the API makes.

Coordinates are 0-based and end-exclusive, as in the API's ``GridRange``; A1 text is read and
written with :mod:`sheetai.a1` at the edge. Values are stored as written: ``RAW`` input as is,
``USER_ENTERED`` ISO dates (``2024-01-15``, the only typed input sheetai sends) as a date
whose serial number ``UNFORMATTED_VALUE`` returns. Formulas are never evaluated.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sheetai.a1 import cell_address, column_letter, parse_range, quote_sheet, split_range

from .errors import bad_request

__all__ = ["Bounds", "Sheet", "Spreadsheet", "Write", "apply_requests", "plan_write"]

SKIP = object()  # JSON null in a write: leave the cell alone
EMPTY = object()  # "" in a write: clear the cell
Rect = tuple[int, int, int, int]  # first row, end row, first column, end column


class Bounds(NamedTuple):
    """A rectangle; an end of ``None`` runs to the grid's edge."""

    r0: int
    r1: int | None
    c0: int
    c1: int | None


class Date(int):
    """A date typed in as ``yyyy-mm-dd``: its serial number (days since 1899-12-30)."""

    text: str

    def __new__(cls, text: str) -> Date:
        serial = super().__new__(cls, (dt.date.fromisoformat(text) - dt.date(1899, 12, 30)).days)
        serial.text = text
        return serial


def parse_input(value: Any, option: str) -> Any:
    """What a written value becomes in the cell: a value, ``SKIP`` or ``EMPTY``."""
    if value is None:
        return SKIP
    if value == "":
        return EMPTY
    typed = value.strip() if option == "USER_ENTERED" and isinstance(value, str) else ""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", typed):
        try:
            return Date(typed)
        except ValueError:
            return value  # not a real date (2024-02-30): stays text, as Google keeps it
    return value


def render(value: Any, dates_as_text: bool) -> Any:
    """A stored value as ``UNFORMATTED_VALUE`` returns it (dates as typed if asked)."""
    if isinstance(value, Date):
        return value.text if dates_as_text else int(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def shown(title: str, r0: int, r1: int, c0: int, c1: int) -> str:
    """A rectangle as the API writes it in replies: ``Feedback!A1:F201``, ``'My tab'!C2``."""
    start = cell_address(r0 + 1, c0 + 1)
    end = "" if (r1 - r0, c1 - c0) == (1, 1) else f":{cell_address(r1, c1)}"
    return f"{quote_sheet(title)}!{start}{end}"


@dataclass
class Sheet:
    """One tab: its grid size and what is in it."""

    sheet_id: int
    title: str
    rows: int
    cols: int
    hidden: bool = False
    cells: dict[tuple[int, int], Any] = field(default_factory=dict)
    validations: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    merges: list[dict[str, int]] = field(default_factory=list)  # GridRanges

    def properties(self, index: int) -> dict[str, Any]:
        """The sheet's ``properties`` as ``spreadsheets.get`` returns them."""
        props: dict[str, Any] = {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": index,
            "sheetType": "GRID",
            "gridProperties": {"rowCount": self.rows, "columnCount": self.cols},
        }
        if self.hidden:
            props["hidden"] = True
        return props

    def resize(self, rows: int, cols: int) -> None:
        """Set the grid's size; cells outside it are lost."""
        self.rows, self.cols = rows, cols
        self.cells = {k: v for k, v in self.cells.items() if k[0] < rows and k[1] < cols}

    def clip(self, b: Bounds) -> Rect:
        """Close an open rectangle at the grid's edge; reads never go past it."""
        r1 = min(b.r1 if b.r1 is not None else self.rows, self.rows)
        c1 = min(b.c1 if b.c1 is not None else self.cols, self.cols)
        return b.r0, r1, b.c0, c1

    def read(self, rect: Rect, dates_as_text: bool = False) -> list[list[Any]]:
        """Rows of values, trailing empty cells and rows trimmed as the API does."""
        r0, r1, c0, c1 = rect
        inside = [(r, c) for (r, c) in self.cells if r0 <= r < r1 and c0 <= c < c1]
        if not inside:
            return []
        last_r = max(r for r, _ in inside) + 1
        last_c = max(c for _, c in inside) + 1
        out = []
        for r in range(r0, last_r):
            line = [self.cells.get((r, c), EMPTY) for c in range(c0, last_c)]
            while line and line[-1] is EMPTY:
                line.pop()
            out.append(["" if v is EMPTY else render(v, dates_as_text) for v in line])
        while out and not out[-1]:
            out.pop()
        return out


@dataclass
class Spreadsheet:
    """A spreadsheet and who may open it (email -> ``"reader"`` or ``"writer"``)."""

    id: str
    title: str
    sheets: list[Sheet] = field(default_factory=list)
    shared: dict[str, str] = field(default_factory=dict)

    def sheet(self, title: str) -> Sheet | None:
        """The sheet with this title; like Google, case is ignored if no title matches exactly."""
        exact = next((s for s in self.sheets if s.title == title), None)
        return exact or next((s for s in self.sheets if s.title.lower() == title.lower()), None)

    def sheet_by_id(self, sheet_id: Any) -> Sheet | None:
        return next((s for s in self.sheets if s.sheet_id == sheet_id), None)

    def resolve(self, text: str) -> tuple[Sheet, Bounds, bool]:
        """Parse ``'T''s'!A1:B2``, ``T!A:C`` or ``T``: the sheet, the bounds, one cell or not."""
        try:
            title, a1 = split_range(text)
            if title is None:
                title, a1 = a1, None
            sheet = self.sheet(title or "")
            row, col, last_row, last_col = (1, 1, None, None) if a1 is None else parse_range(a1)
        except ValueError:
            sheet = None
        if sheet is None:
            raise bad_request(f"Unable to parse range: {text}")
        one_cell = a1 is not None and ":" not in a1
        return sheet, Bounds(row - 1, last_row, col - 1, last_col), one_cell


@dataclass
class Write:
    """Parsed values (a value, ``SKIP`` or ``EMPTY`` each) to put from a top-left cell on."""

    sheet: Sheet
    r0: int
    c0: int
    values: list[list[Any]]

    def rect(self) -> Rect:
        width = max((len(row) for row in self.values), default=0)
        return self.r0, self.r0 + len(self.values), self.c0, self.c0 + width

    def apply(self) -> dict[str, Any]:
        """Change the cells; return the ``UpdateValuesResponse`` (without ``spreadsheetId``)."""
        rows, cols, cells = set(), set(), 0
        for i, row in enumerate(self.values):
            for j, value in enumerate(row):
                if value is SKIP:
                    continue
                key = (self.r0 + i, self.c0 + j)
                if value is EMPTY:
                    self.sheet.cells.pop(key, None)
                else:
                    self.sheet.cells[key] = value
                rows.add(i)
                cols.add(j)
                cells += 1
        r0, r1, c0, c1 = self.rect()
        result: dict[str, Any] = {
            "updatedRange": shown(self.sheet.title, r0, max(r1, r0 + 1), c0, max(c1, c0 + 1))
        }
        if cells:
            result.update(updatedRows=len(rows), updatedColumns=len(cols), updatedCells=cells)
        return result


def plan_write(ss: Spreadsheet, text: str, values: Any, option: str) -> Write:
    """Check a write of ``values`` to range ``text``; a single cell is its top-left corner."""
    sheet, b, one_cell = ss.resolve(text)
    if not isinstance(values, list) or not all(isinstance(row, list) for row in values):
        raise bad_request("Invalid values: expected a list of lists")
    if one_cell:
        b = Bounds(b.r0, None, b.c0, None)
    write = Write(sheet, b.r0, b.c0, [[parse_input(v, option) for v in row] for row in values])
    r0, r1, c0, c1 = write.rect()
    if b.r1 is not None and r1 > b.r1:
        raise bad_request(
            f"Requested writing within range [{text}], but tried writing to row [{r1}]"
        )
    if b.c1 is not None and c1 > b.c1:
        raise bad_request(
            f"Requested writing within range [{text}], but tried writing to column "
            f"[{column_letter(c1)}]"
        )
    r1 = b.r1 if b.r1 is not None else max(r1, r0 + 1)
    c1 = b.c1 if b.c1 is not None else max(c1, c0 + 1)
    if r1 > sheet.rows or c1 > sheet.cols:
        # sheetai must grow a grid before it writes past its edge: this is Google's answer.
        where = shown(sheet.title, r0, r1, c0, c1)
        raise bad_request(
            f"Range ({where}) exceeds grid limits. Max rows: {sheet.rows}, "
            f"max columns: {sheet.cols}"
        )
    return write


# -- spreadsheets.batchUpdate: the requests sheetai sends -----------------------------------


class RequestError(Exception):
    """A request in a batchUpdate that Google would refuse (the whole batch fails)."""


def _sheet_of(ss: Spreadsheet, sheet_id: Any) -> Sheet:
    sheet = ss.sheet_by_id(sheet_id)
    if sheet is None:
        raise RequestError(f"No grid with id: {sheet_id}")
    return sheet


def _add_sheet(ss: Spreadsheet, p: Mapping[str, Any], new_id: Callable[[], int]) -> dict:
    props = p.get("properties") or {}
    title = props.get("title") or f"Sheet{len(ss.sheets) + 1}"
    if ss.sheet(title) is not None:
        raise RequestError(
            f'A sheet with the name "{title}" already exists. Please enter another name.'
        )
    sheet_id = props["sheetId"] if "sheetId" in props else new_id()
    grid = {"rowCount": 1000, "columnCount": 26, **(props.get("gridProperties") or {})}
    sheet = Sheet(sheet_id, title, grid["rowCount"], grid["columnCount"], bool(props.get("hidden")))
    ss.sheets.append(sheet)
    return {"addSheet": {"properties": sheet.properties(len(ss.sheets) - 1)}}


def _update_sheet_properties(ss: Spreadsheet, p: Mapping[str, Any], _: Any) -> dict:
    props = p.get("properties") or {}
    sheet = _sheet_of(ss, props.get("sheetId", 0))
    grid = props.get("gridProperties") or {}
    for path in (p.get("fields") or "").split(","):
        if path.strip() == "gridProperties.rowCount":
            sheet.resize(int(grid["rowCount"]), sheet.cols)
        elif path.strip() == "gridProperties.columnCount":
            sheet.resize(sheet.rows, int(grid["columnCount"]))
        else:
            raise RequestError(f"FakeSheets does not update the field {path!r}")
    return {}


def _set_data_validation(ss: Spreadsheet, p: Mapping[str, Any], _: Any) -> dict:
    grid = p.get("range") or {}
    sheet = _sheet_of(ss, grid.get("sheetId", 0))
    rows = range(grid.get("startRowIndex", 0), grid.get("endRowIndex", sheet.rows))
    cols = range(grid.get("startColumnIndex", 0), grid.get("endColumnIndex", sheet.cols))
    if rows.stop > sheet.rows or cols.stop > sheet.cols:
        raise RequestError(
            f"Range ({shown(sheet.title, rows.start, rows.stop, cols.start, cols.stop)}) exceeds "
            f"grid limits. Max rows: {sheet.rows}, max columns: {sheet.cols}"
        )
    for r in rows:
        for c in cols:
            sheet.validations[(r, c)] = copy.deepcopy(p["rule"])
    return {}


_REQUESTS = {
    "addSheet": _add_sheet,
    "updateSheetProperties": _update_sheet_properties,
    "setDataValidation": _set_data_validation,
}


def apply_requests(
    ss: Spreadsheet, requests: list[Any], new_id: Callable[[], int]
) -> tuple[Spreadsheet, list[dict]]:
    """Apply a batchUpdate to a copy of ``ss``: all or nothing, as Google does.

    Returns the changed copy and the replies; raises :class:`GoogleError` (400) for a request
    Google would refuse or FakeSheets does not model.
    """
    if not requests:
        raise bad_request("Must specify at least one request.")
    work = copy.deepcopy(ss)
    replies = []
    for i, request in enumerate(requests):
        ((kind, payload),) = request.items()
        if kind not in _REQUESTS:
            raise bad_request(
                f'Invalid JSON payload received. Unknown name "{kind}" at '
                f"'requests[{i}]': Cannot find field."
            )
        try:
            replies.append(_REQUESTS[kind](work, payload or {}, new_id))
        except RequestError as exc:
            raise bad_request(f"Invalid requests[{i}].{kind}: {exc}") from None
    return work, replies
