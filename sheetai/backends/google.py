"""Google Sheets through the Sheets API v4 (gspread's HTTP client, google-auth credentials).

A sync costs a handful of requests whatever the size of the sheet:

* reads: one ``spreadsheets.get`` for the tabs and their grid sizes, one ``values:batchGet`` for
  every tab the engine asks for (formulas come back as their computed values);
* writes: per commit, one ``values:batchUpdate`` with every block (results and the state tab),
  preceded, only when needed, by one ``spreadsheets.batchUpdate`` that creates the state and
  log tabs (hidden where asked) and grows grids to fit (Google refuses writes outside the grid,
  and a sheet imported from CSV is exactly the size of its data).

Commits closer together than ``SHEETAI_GOOGLE_COMMIT_SECONDS`` are merged into the next one (or
into :meth:`close`), so a fast model cannot run a sync into Google's 60 writes per minute. The
state tab always travels in the same request as the results it vouches for.

Values are written ``RAW``: numbers stay numbers and an answer starting with ``=`` stays text.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dt_time
from typing import Any

from google.auth import exceptions as auth_exceptions
from gspread.exceptions import APIError

from ..a1 import cell_address, range_address
from ..cell_values import as_cell_error
from ..errors import WorkbookError
from ..settings import Settings
from ..tabs import LOG_TAB, STATE_TAB
from .base import Backend, CellBlock, CellRange, Grid
from .blocks import cells_of, rectangles
from .google_http import SheetsHTTPClient, connect, translate_api_error

__all__ = ["GoogleSheetsBackend", "cell_value", "quoted_range"]

_MAX_CELL_CHARS = 50_000  # Google's limit per cell
_NEW_SHEET_ROWS, _NEW_SHEET_COLS = 1000, 26  # what Google gives a new sheet
_OWN_TABS = (STATE_TAB, LOG_TAB)
_UNBOUNDED = 10**9  # a GridRange without an end runs to the edge of the sheet


def cell_value(value: Any) -> Any:
    """A Python value as JSON the API stores the way a user would have typed it.

    None, NaN and infinities clear the cell (JSON ``null`` would leave it unchanged).

    >>> [cell_value(v) for v in (None, float("nan"), 3, 0.5, True, "=1+1")]
    ['', '', 3, 0.5, True, '=1+1']
    """
    if value is None:
        return ""
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else ""
    if isinstance(value, datetime | date | dt_time):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    text = value if isinstance(value, str) else str(value)
    return text[:_MAX_CELL_CHARS]


def quoted_range(title: str, row: int, col: int, last_row: int, last_col: int) -> str:
    """An A1 range on a sheet, the title always quoted.

    >>> quoted_range("Bob's data", 1, 5, 201, 8)
    "'Bob''s data'!E1:H201"
    """
    return f"{_quoted(title)}!{range_address(row, col, last_row, last_col)}"


def _quoted(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


@dataclass
class _Tab:
    sheet_id: int
    title: str
    hidden: bool
    rows: int
    cols: int
    exists: bool = True  # False until the addSheet request has gone out
    merges: list[CellRange] = field(default_factory=list)


class GoogleSheetsBackend(Backend):
    """One Google spreadsheet, by key. Use as a context manager or call :meth:`close`.

    Args:
        key: the spreadsheet id (the long part of its URL).
        settings: credentials, API URL, retry and commit-spacing settings.
        http_client: an authenticated client to use instead of one built from ``settings``.
        account: who ``http_client`` acts as, for messages.
        clock: monotonic seconds, for commit spacing.
    """

    kind = "google"

    def __init__(
        self,
        key: str,
        settings: Settings | None = None,
        *,
        http_client: SheetsHTTPClient | None = None,
        account: str = "the service account",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        settings = settings or Settings()
        self.key = key
        self.location = f"https://docs.google.com/spreadsheets/d/{key}/edit"
        if http_client is None:
            http_client, account = connect(settings)
        self.http = http_client
        self.account = account
        self.commit_seconds = settings.google_commit_seconds
        self.clock = clock
        self._tabs: dict[str, _Tab] | None = None
        self._pending: list[CellBlock] = []
        self._requests: list[dict[str, Any]] = []
        self._last_flush: float | None = None
        #: Real write requests sent (``values:batchUpdate`` + ``spreadsheets.batchUpdate``).
        self.write_requests = 0

    # -- calls ------------------------------------------------------------------------------

    def _call(self, fn: Callable[..., Any], *args: Any, writing: bool = False) -> Any:
        try:
            return fn(*args)
        except APIError as exc:
            raise translate_api_error(
                exc, account=self.account, location=self.location, writing=writing
            ) from exc
        except auth_exceptions.GoogleAuthError as exc:
            raise WorkbookError(
                f"could not sign in to Google as {self.account}: {exc}. Check the credentials "
                "file (a service-account key may have been deleted)."
            ) from exc

    def _meta(self) -> dict[str, _Tab]:
        if self._tabs is None:
            data = self._call(self.http.fetch_sheet_metadata, self.key)
            tabs: dict[str, _Tab] = {}
            for sheet in data.get("sheets", []):
                props = sheet.get("properties", {})
                grid = props.get("gridProperties", {})
                tabs[props["title"]] = _Tab(
                    sheet_id=int(props.get("sheetId", 0)),
                    title=props["title"],
                    hidden=bool(props.get("hidden", False)),
                    rows=int(grid.get("rowCount", 0)),
                    cols=int(grid.get("columnCount", 0)),
                    merges=[_grid_range(m) for m in sheet.get("merges", [])],
                )
            self._tabs = tabs
        return self._tabs

    # -- Backend ------------------------------------------------------------------------------

    def sheet_titles(self) -> list[str]:
        return list(self._meta())

    def read(self, titles: Sequence[str]) -> dict[str, Grid]:
        tabs = self._meta()
        wanted = [t for t in titles if t in tabs and tabs[t].exists]
        if not wanted:
            return {}
        params = {
            "valueRenderOption": "UNFORMATTED_VALUE",
            "dateTimeRenderOption": "FORMATTED_STRING",
            "majorDimension": "ROWS",
        }
        data = self._call(
            self.http.values_batch_get, self.key, [_quoted(t) for t in wanted], params
        )
        grids: dict[str, Grid] = {}
        for title, value_range in zip(wanted, data.get("valueRanges", []), strict=False):
            # UNFORMATTED_VALUE gives an error value as its text ("#N/A"): mark it as one.
            rows = [
                [None if v == "" else as_cell_error(v) or v for v in row]
                for row in value_range.get("values", [])
            ]
            while rows and all(v is None for v in rows[-1]):
                rows.pop()
            grids[title] = rows
        return grids

    def merged_ranges(self, sheet: str) -> list[CellRange]:
        """Merged areas, from the metadata already read for the tabs (no extra request)."""
        tab = self._meta().get(sheet)
        return list(tab.merges) if tab is not None else []

    def add_sheet(self, title: str, *, hidden: bool = False) -> None:
        tabs = self._meta()
        if title in tabs:
            return
        used = {t.sheet_id for t in tabs.values()}
        sheet_id = random.randint(1, 2**31 - 1)
        while sheet_id in used:
            sheet_id = random.randint(1, 2**31 - 1)
        tabs[title] = _Tab(sheet_id, title, hidden, rows=0, cols=0, exists=False)

    def write(self, blocks: Sequence[CellBlock]) -> None:
        self._pending.extend(b for b in blocks if b.values and b.values[0])

    def set_dropdown(
        self, sheet: str, row: int, col: int, last_row: int, options: Sequence[str]
    ) -> bool:
        tab = self._meta().get(sheet)
        if tab is None or not options:
            return False
        rule = {
            "condition": {
                "type": "ONE_OF_LIST",
                "values": [{"userEnteredValue": str(o)} for o in options],
            },
            "showCustomUi": True,
            "strict": False,
        }
        grid = {
            "sheetId": tab.sheet_id,
            "startRowIndex": row - 1,
            "endRowIndex": last_row,
            "startColumnIndex": col - 1,
            "endColumnIndex": col,
        }
        self._requests.append({"setDataValidation": {"range": grid, "rule": rule}})
        # An empty block makes the grid grow to cover the validated range.
        self._pending.append(CellBlock(sheet, last_row, col, [[_KEEP]]))
        return True

    def commit(self) -> None:
        if not (self._pending or self._requests):
            return
        now = self.clock()
        if self._last_flush is not None and now - self._last_flush < self.commit_seconds:
            return  # merged into the next commit, or written by close()
        self.flush()

    def flush(self) -> None:
        """Send every buffered change now: at most one structural and one values request."""
        if not (self._pending or self._requests):
            return
        tabs = self._meta()
        # Later writes win cell by cell: merged commits send each cell once, its last value.
        cells = cells_of(self._pending, weak=_KEEP)
        requests = self._structure(tabs, cells) + self._requests
        if requests:
            self._call(self.http.batch_update, self.key, {"requests": requests}, writing=True)
            self.write_requests += 1
            for tab in tabs.values():
                tab.exists = True
        data, dates = [], []
        for title, by_row in cells.items():
            for block in rectangles(title, by_row):
                if all(v is _KEEP for row in block.values for v in row):
                    continue
                last_row = block.row + len(block.values) - 1
                last_col = block.col + len(block.values[0]) - 1
                values: list[list[Any]] = []
                for r, row in enumerate(block.values):
                    values.append([])
                    for c, v in enumerate(row):
                        if isinstance(v, datetime | date):
                            # RAW would store the text; a date must be "typed" to be a date.
                            cell = f"{_quoted(title)}!{cell_address(block.row + r, block.col + c)}"
                            dates.append({"range": cell, "values": [[cell_value(v)]]})
                            values[-1].append(None)
                        else:
                            values[-1].append(None if v is _KEEP else cell_value(v))
                data.append(
                    {
                        "range": quoted_range(title, block.row, block.col, last_row, last_col),
                        "values": values,
                    }
                )
        for option, entries in (("RAW", data), ("USER_ENTERED", dates)):
            if entries:
                body = {"valueInputOption": option, "data": entries}
                self._call(self.http.values_batch_update, self.key, body, writing=True)
                self.write_requests += 1
        self._pending.clear()
        self._requests.clear()
        self._last_flush = self.clock()

    def _structure(
        self, tabs: dict[str, _Tab], cells: dict[str, dict[int, dict[int, Any]]]
    ) -> list[dict[str, Any]]:
        """addSheet and grid-resize requests so that every pending cell is inside its grid."""
        requests: list[dict[str, Any]] = []
        data_rows = sum(t.rows for t in tabs.values() if t.exists and t.title not in _OWN_TABS)
        for title, by_row in cells.items():
            tab = tabs.get(title)
            if tab is None:
                raise WorkbookError(f"{self.location}: no sheet named '{title}' to write to.")
            need_rows = max(by_row)
            need_cols = max(max(cols) for cols in by_row.values())
            if not tab.exists:
                rows = max(need_rows, _NEW_SHEET_ROWS)
                if title == STATE_TAB:
                    # One state row per answered row: size it for the data once, not per chunk.
                    rows = max(rows, data_rows + 2)
                tab.rows, tab.cols = rows, max(need_cols, _NEW_SHEET_COLS)
                props: dict[str, Any] = {
                    "sheetId": tab.sheet_id,
                    "title": title,
                    "gridProperties": {"rowCount": tab.rows, "columnCount": tab.cols},
                }
                if tab.hidden:
                    props["hidden"] = True
                requests.append({"addSheet": {"properties": props}})
                continue
            if need_rows <= tab.rows and need_cols <= tab.cols:
                continue
            if need_rows > tab.rows:
                # sheetai's own tabs grow by doubling so they are resized rarely; a user's sheet
                # grows only by what is written.
                tab.rows = max(need_rows, 2 * tab.rows) if title in _OWN_TABS else need_rows
            tab.cols = max(tab.cols, need_cols)
            requests.append(
                {
                    "updateSheetProperties": {
                        "properties": {
                            "sheetId": tab.sheet_id,
                            "gridProperties": {"rowCount": tab.rows, "columnCount": tab.cols},
                        },
                        "fields": "gridProperties.rowCount,gridProperties.columnCount",
                    }
                }
            )
        return requests

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.http.session.close()


def _grid_range(grid: dict[str, Any]) -> CellRange:
    """A GridRange (0-based, end exclusive) as a 1-based inclusive CellRange.

    >>> _grid_range({"startRowIndex": 1, "endRowIndex": 3, "startColumnIndex": 2,
    ...              "endColumnIndex": 3})
    CellRange(first_row=2, first_col=3, last_row=3, last_col=3)
    """
    return CellRange(
        int(grid.get("startRowIndex", 0)) + 1,
        int(grid.get("startColumnIndex", 0)) + 1,
        int(grid.get("endRowIndex", _UNBOUNDED)),
        int(grid.get("endColumnIndex", _UNBOUNDED)),
    )


class _Keep:
    """A cell the backend must not touch (only marks how far a grid must reach)."""

    def __repr__(self) -> str:
        return "<keep>"


_KEEP = _Keep()
