"""A local Google Sheets API v4 server that real gspread talks to over HTTP.

``FakeSheets`` keeps spreadsheets in memory and answers the REST shapes gspread 6 uses
(``spreadsheets.get``, ``values.get/batchGet/update/append/clear/batchClear/batchUpdate`` and
``spreadsheets.batchUpdate``), with Google's error bodies, so gspread raises the same
``APIError`` it raises against Google. It also plays Google's OAuth token endpoint: google-auth's
service-account flow signs a JWT, ``POST /token`` verifies it with the public key registered by
``make_service_account`` and issues a bearer token that every API call must carry.

Wiring real gspread to it::

    with FakeSheets() as server:
        info = make_service_account(server)
        sid = server.add_spreadsheet("Reviews", {"Feedback": rows},
                                     share_with=[info["client_email"]])
        client = gspread.service_account_from_dict(info, http_client=gspread.HTTPClient)
        redirect_session(client.http_client.session, server)  # or: connect_gspread(server, info)
        worksheet = client.open_by_key(sid).worksheet("Feedback")

Deliberate simplifications (everything else aims to match Google):

* Formulas are stored (``USER_ENTERED`` "=…") but never evaluated: every render option returns
  the formula text. ``USER_ENTERED`` parses numbers, ``TRUE``/``FALSE``, a leading apostrophe and
  formulas and ISO dates (``2024-01-15``: a serial number, rendered back as typed for
  ``FORMATTED_VALUE`` or ``dateTimeRenderOption=FORMATTED_STRING``); other date forms,
  percentages, currency and thousands separators stay strings.
* ``FORMATTED_VALUE`` renders numbers in Google's "automatic" format, approximately
  (integral -> ``"12"``, otherwise 10 significant digits); ``dateTimeRenderOption`` is accepted
  and ignored.
* ``values.append`` finds the "table" as the first block of contiguous non-empty rows inside the
  range (for a single-cell range: starting on that cell's row, else the cell itself) and writes
  below it, starting at the table's first column; the grid grows as needed.
* Reads are clipped to the grid; a read that starts outside the grid is a 400 like a write.
* ``repeatCell``, ``updateCells``, ``updateDimensionProperties`` and other formatting requests are
  validated (the sheet must exist) and recorded, not applied.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime as dt
import functools
import json
import random
import re
import secrets
import socket
import string
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from requests.adapters import HTTPAdapter

__all__ = [
    "DEFAULT_SERVICE_ACCOUNT",
    "SCOPE_SHEETS",
    "Bounds",
    "FakeSheets",
    "GoogleError",
    "RecordedRequest",
    "col_to_letters",
    "connect_gspread",
    "format_range",
    "letters_to_col",
    "make_service_account",
    "parse_a1",
    "quote_title",
    "redirect_session",
]

DEFAULT_SERVICE_ACCOUNT = "sheetai-bot@test-project.iam.gserviceaccount.com"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
JWT_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE_SHEETS = "https://www.googleapis.com/auth/spreadsheets"
SCOPE_DRIVE = "https://www.googleapis.com/auth/drive"
_READ_SCOPES = {
    SCOPE_SHEETS,
    SCOPE_SHEETS + ".readonly",
    SCOPE_DRIVE,
    SCOPE_DRIVE + ".readonly",
    SCOPE_DRIVE + ".file",
}
_WRITE_SCOPES = {SCOPE_SHEETS, SCOPE_DRIVE, SCOPE_DRIVE + ".file"}
MAX_CELLS = 10_000_000
MAX_COLUMNS = 18_278  # ZZZ
PROJECT_NUMBER = "123456789012"
_VALUE_RENDER = ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA")
_DATETIME_RENDER = ("SERIAL_NUMBER", "FORMATTED_STRING")
_DIMENSIONS = ("ROWS", "COLUMNS")
_INPUT_OPTIONS = ("RAW", "USER_ENTERED")
_STATUS_BY_CODE = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_DEFAULT_MESSAGES = {
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
    504: "The service is currently unavailable.",
}
_AUTH_HINT = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)


class GoogleError(Exception):
    """An API error, rendered as Google's ``{"error": {"code", "message", "status"}}`` body."""

    def __init__(
        self,
        code: int,
        message: str,
        status: str | None = None,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or _STATUS_BY_CODE.get(code, "UNKNOWN")
        self.details = details
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def _bad_request(message: str) -> GoogleError:
    return GoogleError(400, message)


# --------------------------------------------------------------------------------------------
# A1 notation (pure functions)


def col_to_letters(col: int) -> str:
    """Turn a 1-based column number into letters.

    >>> col_to_letters(1), col_to_letters(26), col_to_letters(27), col_to_letters(703)
    ('A', 'Z', 'AA', 'AAA')
    """
    letters = ""
    while col > 0:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def letters_to_col(letters: str) -> int:
    """Turn column letters into a 1-based column number.

    >>> letters_to_col("A"), letters_to_col("z"), letters_to_col("AA"), letters_to_col("ZZZ")
    (1, 26, 27, 18278)
    """
    col = 0
    for ch in letters.upper():
        col = col * 26 + ord(ch) - 64
    return col


class Bounds(NamedTuple):
    """A rectangle, 0-based and half-open; ``r1``/``c1`` of ``None`` run to the grid's edge."""

    r0: int
    r1: int | None
    c0: int
    c1: int | None
    cell: bool = False  # a single cell; a write treats it as the top-left anchor


_A1_PART = re.compile(r"\$?([A-Za-z]{1,3})?\$?([0-9]+)?")


def parse_a1(a1: str) -> Bounds | None:
    """Parse the A1 part of a range (no sheet name); ``None`` if it is not A1 notation.

    >>> parse_a1("B3")
    Bounds(r0=2, r1=3, c0=1, c1=2, cell=True)
    >>> parse_a1("A2:F")
    Bounds(r0=1, r1=None, c0=0, c1=6, cell=False)
    >>> parse_a1("2:5")
    Bounds(r0=1, r1=5, c0=0, c1=None, cell=False)
    >>> parse_a1("Feedback") is None
    True
    """
    parts = a1.split(":")
    if len(parts) not in (1, 2):
        return None
    parsed = []
    for part in parts:
        m = _A1_PART.fullmatch(part)
        if not m or not (m.group(1) or m.group(2)):
            return None
        col = letters_to_col(m.group(1)) if m.group(1) else None
        row = int(m.group(2)) if m.group(2) else None
        if row == 0 or (col is not None and col > MAX_COLUMNS):
            return None
        parsed.append((col, row))
    if len(parsed) == 1:
        col, row = parsed[0]
        if col is None or row is None:
            return None
        return Bounds(row - 1, row, col - 1, col, cell=True)
    (ca, ra), (cb, rb) = parsed
    if ra is not None and rb is not None and ra > rb:
        ra, rb = rb, ra
    if ca is not None and cb is not None and ca > cb:
        ca, cb = cb, ca
    r0 = ra - 1 if ra is not None else 0
    c0 = ca - 1 if ca is not None else 0
    return Bounds(r0, rb, c0, cb)


_PLAIN_TITLE = re.compile(r"[^\W\d]\w*")
_CELL_LIKE = re.compile(r"[A-Za-z]{1,3}[0-9]+|[Rr][0-9]*[Cc][0-9]*")


def quote_title(title: str, *, always: bool = False) -> str:
    """Quote a sheet title the way the API writes it in ranges.

    >>> quote_title("Feedback"), quote_title("My Sheet"), quote_title("Bob's"), quote_title("A1")
    ('Feedback', "'My Sheet'", "'Bob''s'", "'A1'")
    """
    if not always and _PLAIN_TITLE.fullmatch(title) and not _CELL_LIKE.fullmatch(title):
        return title
    return "'" + title.replace("'", "''") + "'"


def _a1(r0: int, r1: int, c0: int, c1: int) -> str:
    start = f"{col_to_letters(c0 + 1)}{r0 + 1}"
    if r1 - r0 <= 1 and c1 - c0 <= 1:
        return start
    return f"{start}:{col_to_letters(c1)}{r1}"


def _shown(sheet: Any, b: Bounds) -> str:
    """A requested rectangle as Google prints it in grid-limit errors (title always quoted)."""
    r1 = b.r1 if b.r1 is not None else max(sheet.rows, b.r0 + 1)
    c1 = b.c1 if b.c1 is not None else max(sheet.cols, b.c0 + 1)
    return f"{quote_title(sheet.title, always=True)}!{_a1(b.r0, r1, b.c0, c1)}"


def format_range(title: str, r0: int, r1: int, c0: int, c1: int, *, quote_always=False) -> str:
    """Write a closed 0-based half-open rectangle in the API's canonical form.

    >>> format_range("Feedback", 0, 201, 0, 6)
    'Feedback!A1:F201'
    >>> format_range("Bob's sheet", 1, 2, 2, 3)
    "'Bob''s sheet'!C2"
    """
    return f"{quote_title(title, always=quote_always)}!{_a1(r0, r1, c0, c1)}"


# --------------------------------------------------------------------------------------------
# Cell values


@dataclass(frozen=True)
class _Formula:
    text: str


_SKIP = object()  # JSON null in a write: leave the cell alone
_EMPTY = object()  # "" in a write: clear the cell
_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _parse_input(value: Any, option: str, where: str) -> Any:
    if value is None:
        return _SKIP
    if isinstance(value, (bool, int, float)):
        return value
    if not isinstance(value, str):
        kind = "list_value" if isinstance(value, list) else "struct_value"
        raise _bad_request(f"Invalid {where}: {kind} {json.dumps(value)}")
    if value == "":
        return _EMPTY
    if option == "RAW":
        return value
    if value.startswith("'"):
        return value[1:] or _EMPTY
    if value.startswith("=") and len(value) > 1:
        return _Formula(value)
    stripped = value.strip()
    if stripped.upper() in ("TRUE", "FALSE"):
        return stripped.upper() == "TRUE"
    if _INTEGER.fullmatch(stripped):
        return int(stripped)
    if _NUMBER.fullmatch(stripped):
        return float(stripped)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", stripped):
        # An ISO date typed in becomes a date: Google stores its serial number (days since
        # 1899-12-30), which UNFORMATTED_VALUE returns.
        try:
            return _Date(stripped)
        except ValueError:
            return value
    return value


def _format_number(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.10g}".upper()


class _Date(int):
    """A date typed in as ``yyyy-mm-dd``: its serial number, formatted as it was typed."""

    text: str

    def __new__(cls, text: str) -> _Date:
        serial = super().__new__(cls, (dt.date.fromisoformat(text) - dt.date(1899, 12, 30)).days)
        serial.text = text
        return serial


def _render(value: Any, option: str) -> Any:
    option, _, dates = option.partition("+")
    if isinstance(value, _Date) and (option == "FORMATTED_VALUE" or dates == "FORMATTED_STRING"):
        return value.text
    if isinstance(value, _Formula):
        return value.text
    if option == "FORMATTED_VALUE":
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, (int, float)):
            return _format_number(value)
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _cell_data(value: Any) -> dict[str, Any]:
    if isinstance(value, _Formula):
        return {"userEnteredValue": {"formulaValue": value.text}, "formattedValue": value.text}
    if isinstance(value, bool):
        key = "boolValue"
    elif isinstance(value, (int, float)):
        key = "numberValue"
    else:
        key = "stringValue"
    typed = {key: value}
    return {
        "userEnteredValue": typed,
        "effectiveValue": typed,
        "formattedValue": _render(value, "FORMATTED_VALUE"),
    }


# --------------------------------------------------------------------------------------------
# The in-memory model


Cells = dict[tuple[int, int], Any]


def _remap(cells: dict[tuple[int, int], Any], axis: int, fn: Callable[[int], int | None]) -> dict:
    out = {}
    for key, value in cells.items():
        new = fn(key[axis])
        if new is not None:
            out[(new, key[1]) if axis == 0 else (key[0], new)] = value
    return out


@dataclass
class _Sheet:
    props: dict[str, Any]
    cells: Cells = field(default_factory=dict)
    validations: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    charts: list[dict[str, Any]] = field(default_factory=list)
    merges: list[dict[str, Any]] = field(default_factory=list)  # GridRanges

    @property
    def sheet_id(self) -> int:
        return self.props["sheetId"]

    @property
    def title(self) -> str:
        return self.props["title"]

    @property
    def rows(self) -> int:
        return self.props["gridProperties"]["rowCount"]

    @property
    def cols(self) -> int:
        return self.props["gridProperties"]["columnCount"]

    def api_props(self, index: int) -> dict[str, Any]:
        props = {"sheetId": self.sheet_id, "title": self.title, "index": index}
        props.update({k: copy.deepcopy(v) for k, v in self.props.items() if k not in props})
        if not props.get("hidden"):
            props.pop("hidden", None)
        return props

    def resize(self, rows: int | None = None, cols: int | None = None) -> None:
        grid = self.props["gridProperties"]
        if rows is not None:
            grid["rowCount"] = rows
        if cols is not None:
            grid["columnCount"] = cols
        keep = lambda k: k[0] < self.rows and k[1] < self.cols  # noqa: E731
        self.cells = {k: v for k, v in self.cells.items() if keep(k)}
        self.validations = {k: v for k, v in self.validations.items() if keep(k)}

    def shift(self, axis: int, fn: Callable[[int], int | None]) -> None:
        self.cells = _remap(self.cells, axis, fn)
        self.validations = _remap(self.validations, axis, fn)

    def clip(self, b: Bounds, shown: str) -> tuple[int, int, int, int]:
        """Close an open rectangle at the grid's edge; 400 if it starts outside the grid."""
        if b.r0 >= self.rows or b.c0 >= self.cols:
            raise self.grid_error(shown)
        r1 = min(b.r1 if b.r1 is not None else self.rows, self.rows)
        c1 = min(b.c1 if b.c1 is not None else self.cols, self.cols)
        return b.r0, r1, b.c0, c1

    def grid_error(self, shown: str) -> GoogleError:
        return _bad_request(
            f"Range ({shown}) exceeds grid limits. Max rows: {self.rows}, max columns: {self.cols}"
        )

    def read(self, rect: tuple[int, int, int, int], render: str, major: str) -> list[list[Any]]:
        r0, r1, c0, c1 = rect
        inside = [(r, c) for (r, c) in self.cells if r0 <= r < r1 and c0 <= c < c1]
        if not inside:
            return []
        last_r = max(r for r, _ in inside) + 1
        last_c = max(c for _, c in inside) + 1
        outer, inner = (range(r0, last_r), range(c0, last_c))
        if major == "COLUMNS":
            outer, inner = inner, outer
        out = []
        for i in outer:
            keys = [(i, j) if major == "ROWS" else (j, i) for j in inner]
            line = [self.cells.get(k, _EMPTY) for k in keys]
            while line and line[-1] is _EMPTY:
                line.pop()
            out.append(["" if v is _EMPTY else _render(v, render) for v in line])
        while out and not out[-1]:
            out.pop()
        return out


@dataclass
class _Spreadsheet:
    id: str
    title: str
    sheets: list[_Sheet]
    shared: dict[str, str] = field(default_factory=dict)  # email -> "reader" | "writer"
    recorded: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    created: str = ""
    modified: str = ""

    def sheet(self, title: str) -> _Sheet | None:
        for sheet in self.sheets:
            if sheet.title == title:
                return sheet
        lowered = title.lower()
        return next((s for s in self.sheets if s.title.lower() == lowered), None)

    def sheet_by_id(self, sheet_id: Any) -> _Sheet | None:
        return next((s for s in self.sheets if s.sheet_id == sheet_id), None)

    def resolve(self, text: str) -> tuple[_Sheet, Bounds]:
        """Parse a range like the API: ``'T''s'!A1:B2``, ``T!A:C``, ``T``, ``A1`` (first sheet)."""
        title, a1 = _split_range(text)
        if title is None:
            bounds = parse_a1(text)
            if bounds is not None:
                visible = [s for s in self.sheets if not s.props.get("hidden")] or self.sheets
                return visible[0], bounds
            title, a1 = text, None
        sheet = self.sheet(title)
        bounds = Bounds(0, None, 0, None) if a1 is None else parse_a1(a1)
        if sheet is None or bounds is None:
            raise _bad_request(f"Unable to parse range: {text}")
        return sheet, bounds

    def api(self, include_grid_data: bool) -> dict[str, Any]:
        sheets = []
        for index, sheet in enumerate(self.sheets):
            entry: dict[str, Any] = {"properties": sheet.api_props(index)}
            if sheet.charts:
                entry["charts"] = copy.deepcopy(sheet.charts)
            if sheet.merges:
                entry["merges"] = copy.deepcopy(sheet.merges)
            if include_grid_data:
                entry["data"] = [_grid_data(sheet)]
            sheets.append(entry)
        return {
            "spreadsheetId": self.id,
            "properties": {
                "title": self.title,
                "locale": "en_US",
                "autoRecalc": "ON_CHANGE",
                "timeZone": "Etc/GMT",
            },
            "sheets": sheets,
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{self.id}/edit",
        }


def _split_range(text: str) -> tuple[str | None, str | None]:
    """Split ``'T''s'!A1`` into ``("T's", "A1")``; ``(None, None)`` when there is no sheet part."""
    if text.startswith("'"):
        chars, i = [], 1
        while i < len(text):
            if text[i] == "'":
                if text[i + 1 : i + 2] == "'":
                    chars.append("'")
                    i += 2
                    continue
                break
            chars.append(text[i])
            i += 1
        else:
            raise _bad_request(f"Unable to parse range: {text}")
        rest = text[i + 1 :]
        if rest == "":
            return "".join(chars), None
        if rest.startswith("!") and len(rest) > 1:
            return "".join(chars), rest[1:]
        raise _bad_request(f"Unable to parse range: {text}")
    if "!" in text:
        title, a1 = text.rsplit("!", 1)
        if not title or not a1:
            raise _bad_request(f"Unable to parse range: {text}")
        return title, a1
    return None, None


def _grid_data(sheet: _Sheet) -> dict[str, Any]:
    keys = set(sheet.cells) | set(sheet.validations)
    if not keys:
        return {"rowMetadata": [], "columnMetadata": []}
    last_r = max(r for r, _ in keys) + 1
    last_c = max(c for _, c in keys) + 1
    rows = []
    for r in range(last_r):
        values = []
        for c in range(last_c):
            cell = _cell_data(sheet.cells[(r, c)]) if (r, c) in sheet.cells else {}
            if (r, c) in sheet.validations:
                cell["dataValidation"] = copy.deepcopy(sheet.validations[(r, c)])
            values.append(cell)
        while values and not values[-1]:
            values.pop()
        rows.append({"values": values} if values else {})
    return {"startRow": 0, "startColumn": 0, "rowData": rows}


def _now_iso() -> str:
    return (
        dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


# --------------------------------------------------------------------------------------------
# Value writes


def _values_matrix(body: Mapping[str, Any], where: str) -> list[list[Any]]:
    values = body.get("values") or []
    if not isinstance(values, list) or not all(isinstance(row, list) for row in values):
        raise _bad_request(f"Invalid {where}values: expected a list of lists")
    if (body.get("majorDimension") or "ROWS") == "COLUMNS":
        width = max((len(col) for col in values), default=0)
        values = [[col[r] if r < len(col) else None for col in values] for r in range(width)]
    elif body.get("majorDimension") not in (None, "ROWS"):
        raise _bad_request(f"Invalid value at '{where}major_dimension': {body['majorDimension']}")
    return values


@dataclass
class _Write:
    sheet: _Sheet
    r0: int
    c0: int
    values: list[list[Any]]  # parsed: stored value, _SKIP or _EMPTY

    def rect(self) -> tuple[int, int, int, int]:
        width = max((len(row) for row in self.values), default=0)
        return self.r0, self.r0 + len(self.values), self.c0, self.c0 + width

    def apply(self) -> dict[str, Any]:
        rows, cols, cells = set(), set(), 0
        for i, row in enumerate(self.values):
            for j, value in enumerate(row):
                if value is _SKIP:
                    continue
                key = (self.r0 + i, self.c0 + j)
                if value is _EMPTY:
                    self.sheet.cells.pop(key, None)
                else:
                    self.sheet.cells[key] = value
                rows.add(i)
                cols.add(j)
                cells += 1
        r0, r1, c0, c1 = self.rect()
        result: dict[str, Any] = {
            "updatedRange": format_range(self.sheet.title, r0, max(r1, r0 + 1), c0, max(c1, c0 + 1))
        }
        if cells:
            result.update(updatedRows=len(rows), updatedColumns=len(cols), updatedCells=cells)
        return result


def _plan_write(
    ss: _Spreadsheet, text: str, body: Mapping[str, Any], option: str, where: str = ""
) -> _Write:
    sheet, b = ss.resolve(text)
    if b.cell:
        b = Bounds(b.r0, None, b.c0, None)
    raw = _values_matrix(body, where)
    values = [
        [_parse_input(v, option, f"{where}values[{i}][{j}]") for j, v in enumerate(row)]
        for i, row in enumerate(raw)
    ]
    write = _Write(sheet, b.r0, b.c0, values)
    r0, r1, c0, c1 = write.rect()
    if b.r1 is not None and r1 > b.r1:
        raise _bad_request(
            f"Requested writing within range [{text}], but tried writing to row [{r1}]"
        )
    if b.c1 is not None and c1 > b.c1:
        raise _bad_request(
            f"Requested writing within range [{text}], but tried writing to column "
            f"[{col_to_letters(c1)}]"
        )
    r1 = b.r1 if b.r1 is not None else max(r1, r0 + 1)
    c1 = b.c1 if b.c1 is not None else max(c1, c0 + 1)
    if r1 > sheet.rows or c1 > sheet.cols:
        raise sheet.grid_error(f"{quote_title(sheet.title, always=True)}!{_a1(r0, r1, c0, c1)}")
    return write


def _append(
    ss: _Spreadsheet, text: str, body: Mapping[str, Any], option: str, insert: str
) -> dict[str, Any]:
    sheet, b = ss.resolve(text)
    anchored = b.cell  # a single cell: the table must start on its row
    if anchored:
        b = Bounds(b.r0, None, b.c0, None)
    r0, r1, c0, c1 = sheet.clip(b, _shown(sheet, b))
    rows_with_data = sorted({r for (r, c) in sheet.cells if r0 <= r < r1 and c0 <= c < c1})
    table = None
    start_row, start_col = r0, c0
    if rows_with_data and (not anchored or rows_with_data[0] == r0):
        first = last = rows_with_data[0]
        present = set(rows_with_data)
        while last + 1 in present:
            last += 1
        cols = [c for (r, c) in sheet.cells if first <= r <= last and c0 <= c < c1]
        table = (first, last + 1, min(cols), max(cols) + 1)
        start_row, start_col = last + 1, min(cols)
    values = [
        [_parse_input(v, option, f"values[{i}][{j}]") for j, v in enumerate(row)]
        for i, row in enumerate(_values_matrix(body, ""))
    ]
    write = _Write(sheet, start_row, start_col, values)
    _, w_r1, _, w_c1 = write.rect()
    if insert == "INSERT_ROWS" and values:
        n = len(values)
        sheet.shift(0, lambda r: r + n if r >= start_row else r)
        sheet.resize(rows=sheet.rows + n)
    sheet.resize(rows=max(sheet.rows, w_r1), cols=max(sheet.cols, w_c1))
    result: dict[str, Any] = {"spreadsheetId": ss.id}
    if table:
        result["tableRange"] = format_range(sheet.title, *table)
    result["updates"] = {"spreadsheetId": ss.id, **write.apply()}
    return result


# --------------------------------------------------------------------------------------------
# spreadsheets.batchUpdate requests


class _RequestError(Exception):
    pass


def _sheet_of(ss: _Spreadsheet, sheet_id: Any) -> _Sheet:
    sheet = ss.sheet_by_id(sheet_id)
    if sheet is None:
        raise _RequestError(f"No grid with id: {sheet_id}")
    return sheet


def _grid_rect(
    ss: _Spreadsheet, grid: Mapping[str, Any]
) -> tuple[_Sheet, tuple[int, int, int, int]]:
    sheet = _sheet_of(ss, grid.get("sheetId", 0))
    r0 = grid.get("startRowIndex", 0)
    c0 = grid.get("startColumnIndex", 0)
    r1 = grid.get("endRowIndex", sheet.rows)
    c1 = grid.get("endColumnIndex", sheet.cols)
    if r1 > sheet.rows or c1 > sheet.cols or r0 < 0 or c0 < 0:
        raise _RequestError(
            f"Range ({quote_title(sheet.title, always=True)}!{_a1(r0, r1, c0, c1)}) exceeds grid "
            f"limits. Max rows: {sheet.rows}, max columns: {sheet.cols}"
        )
    return sheet, (r0, r1, c0, c1)


def _check_title(ss: _Spreadsheet, title: str, ignore: _Sheet | None = None) -> None:
    other = ss.sheet(title)
    if other is not None and other is not ignore and other.title.lower() == title.lower():
        raise _RequestError(
            f'A sheet with the name "{title}" already exists. Please enter another name.'
        )


def _rq_add_sheet(ss: _Spreadsheet, p: Mapping[str, Any], new_id: Callable[[], int]) -> dict:
    props = copy.deepcopy(dict(p.get("properties") or {}))
    title = props.get("title") or f"Sheet{len(ss.sheets) + 1}"
    _check_title(ss, title)
    sheet_id = props.get("sheetId")
    if sheet_id is None:
        sheet_id = new_id()
    elif ss.sheet_by_id(sheet_id) is not None:
        raise _RequestError(f"A sheet with the id {sheet_id} already exists.")
    grid = {"rowCount": 1000, "columnCount": 26, **(props.get("gridProperties") or {})}
    index = props.pop("index", len(ss.sheets))
    props.update(sheetId=sheet_id, title=title, sheetType=props.get("sheetType", "GRID"))
    props["gridProperties"] = grid
    props["hidden"] = bool(props.get("hidden", False))
    sheet = _Sheet(props)
    ss.sheets.insert(min(max(index, 0), len(ss.sheets)), sheet)
    return {"addSheet": {"properties": sheet.api_props(ss.sheets.index(sheet))}}


def _rq_duplicate_sheet(ss: _Spreadsheet, p: Mapping[str, Any], new_id: Callable[[], int]) -> dict:
    source = _sheet_of(ss, p.get("sourceSheetId"))
    sheet = copy.deepcopy(source)
    sheet.props["title"] = p.get("newSheetName") or f"Copy of {source.title}"
    _check_title(ss, sheet.title)
    sheet.props["sheetId"] = p.get("newSheetId", new_id())
    ss.sheets.insert(p.get("insertSheetIndex", len(ss.sheets)), sheet)
    return {"duplicateSheet": {"properties": sheet.api_props(ss.sheets.index(sheet))}}


def _rq_update_sheet_properties(ss: _Spreadsheet, p: Mapping[str, Any], _: Any) -> None:
    source = p.get("properties") or {}
    sheet = _sheet_of(ss, source.get("sheetId", 0))
    fields = p.get("fields")
    if not fields:
        raise _RequestError("At least one field must be updated, but none were specified.")
    paths = [f.strip().replace("/", ".") for f in fields.split(",")]
    if "*" in paths:
        paths = [k for k in source if k != "sheetId"]
    for path in paths:
        value: Any = source
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if path == "sheetId":
            raise _RequestError("Cannot update sheetId.")
        if path == "title":
            if not value:
                raise _RequestError("Sheet title cannot be empty.")
            _check_title(ss, value, ignore=sheet)
            sheet.props["title"] = value
        elif path == "index":
            ss.sheets.remove(sheet)
            ss.sheets.insert(min(max(int(value or 0), 0), len(ss.sheets)), sheet)
        elif path == "hidden":
            sheet.props["hidden"] = bool(value)
        elif path in ("gridProperties", "gridProperties.rowCount", "gridProperties.columnCount"):
            grid = value if path == "gridProperties" else {path.split(".")[1]: value}
            grid = dict(grid or {})
            for key in ("rowCount", "columnCount"):
                if key in grid and (grid[key] is None or int(grid[key]) < 1):
                    what = "rows" if key == "rowCount" else "columns"
                    raise _RequestError(f"You can't delete all the {what} on the sheet.")
            sheet.resize(grid.pop("rowCount", None), grid.pop("columnCount", None))
            sheet.props["gridProperties"].update(grid)
        else:
            target = sheet.props
            *parents, leaf = path.split(".")
            for part in parents:
                target = target.setdefault(part, {})
            if value is None:
                target.pop(leaf, None)
            else:
                target[leaf] = copy.deepcopy(value)
    if all(s.props.get("hidden") for s in ss.sheets):
        raise _RequestError("You can't hide all the sheets in a document.")


def _rq_delete_sheet(ss: _Spreadsheet, p: Mapping[str, Any], _: Any) -> None:
    sheet = ss.sheet_by_id(p.get("sheetId"))
    if sheet is None:
        raise _RequestError(f"No sheet with id: {p.get('sheetId')}")
    if len(ss.sheets) == 1:
        raise _RequestError("You can't remove all the sheets in a document.")
    ss.sheets.remove(sheet)


def _dimension_axis(dimension: Any) -> int:
    if dimension not in _DIMENSIONS:
        raise _RequestError(f"Invalid dimension: {dimension}")
    return 0 if dimension == "ROWS" else 1


def _rq_append_dimension(ss: _Spreadsheet, p: Mapping[str, Any], _: Any) -> None:
    sheet = _sheet_of(ss, p.get("sheetId", 0))
    length = int(p.get("length", 0))
    if length < 1:
        raise _RequestError("length must be greater than 0")
    if _dimension_axis(p.get("dimension")) == 0:
        sheet.resize(rows=sheet.rows + length)
    else:
        sheet.resize(cols=sheet.cols + length)


def _dimension_range(ss: _Spreadsheet, p: Mapping[str, Any]) -> tuple[_Sheet, int, int, int]:
    rng = p.get("range") or {}
    sheet = _sheet_of(ss, rng.get("sheetId", 0))
    axis = _dimension_axis(rng.get("dimension"))
    size = sheet.rows if axis == 0 else sheet.cols
    start, end = int(rng.get("startIndex", 0)), int(rng.get("endIndex", size))
    if not 0 <= start < end:
        raise _RequestError("Invalid dimension range: startIndex must be less than endIndex.")
    return sheet, axis, start, end


def _rq_insert_dimension(ss: _Spreadsheet, p: Mapping[str, Any], _: Any) -> None:
    sheet, axis, start, end = _dimension_range(ss, p)
    size = sheet.rows if axis == 0 else sheet.cols
    if start > size:
        raise _RequestError(f"Cannot insert at index {start}; the sheet has only {size}.")
    n = end - start
    sheet.shift(axis, lambda i: i + n if i >= start else i)
    if axis == 0:
        sheet.resize(rows=sheet.rows + n)
    else:
        sheet.resize(cols=sheet.cols + n)


def _rq_delete_dimension(ss: _Spreadsheet, p: Mapping[str, Any], _: Any) -> None:
    sheet, axis, start, end = _dimension_range(ss, p)
    size = sheet.rows if axis == 0 else sheet.cols
    end = min(end, size)
    if start == 0 and end >= size:
        raise _RequestError(
            f"You can't delete all the {'rows' if axis == 0 else 'columns'} on the sheet."
        )
    n = end - start
    sheet.shift(axis, lambda i: None if start <= i < end else (i - n if i >= end else i))
    if axis == 0:
        sheet.resize(rows=sheet.rows - n)
    else:
        sheet.resize(cols=sheet.cols - n)


def _rq_set_data_validation(ss: _Spreadsheet, p: Mapping[str, Any], _: Any) -> None:
    sheet, (r0, r1, c0, c1) = _grid_rect(ss, p.get("range") or {})
    rule = p.get("rule")
    for r in range(r0, r1):
        for c in range(c0, c1):
            if rule:
                sheet.validations[(r, c)] = copy.deepcopy(rule)
            else:
                sheet.validations.pop((r, c), None)


def _rq_add_chart(ss: _Spreadsheet, p: Mapping[str, Any], new_id: Callable[[], int]) -> dict:
    chart = copy.deepcopy(dict(p.get("chart") or {}))
    chart.setdefault("chartId", new_id())
    position = chart.get("position") or {}
    anchor = (position.get("overlayPosition") or {}).get("anchorCell") or {}
    sheet_id = position.get("sheetId", anchor.get("sheetId", ss.sheets[0].sheet_id))
    _sheet_of(ss, sheet_id).charts.append(chart)
    return {"addChart": {"chart": copy.deepcopy(chart)}}


def _rq_update_spreadsheet_properties(ss: _Spreadsheet, p: Mapping[str, Any], _: Any) -> None:
    fields = (p.get("fields") or "").replace("/", ".").split(",")
    if "title" in fields or "*" in fields:
        ss.title = (p.get("properties") or {}).get("title") or ss.title


_STRUCTURAL = {
    "addSheet": _rq_add_sheet,
    "duplicateSheet": _rq_duplicate_sheet,
    "updateSheetProperties": _rq_update_sheet_properties,
    "deleteSheet": _rq_delete_sheet,
    "appendDimension": _rq_append_dimension,
    "insertDimension": _rq_insert_dimension,
    "deleteDimension": _rq_delete_dimension,
    "setDataValidation": _rq_set_data_validation,
    "addChart": _rq_add_chart,
    "updateSpreadsheetProperties": _rq_update_spreadsheet_properties,
}
# Accepted, checked to name an existing sheet, recorded; their effect on cells is not modelled.
_RECORDED = {
    "repeatCell",
    "updateCells",
    "updateDimensionProperties",
    "autoResizeDimensions",
    "updateBorders",
    "mergeCells",
    "unmergeCells",
    "addConditionalFormatRule",
    "setBasicFilter",
    "clearBasicFilter",
    "addProtectedRange",
    "addBanding",
}


def _referenced_sheet_ids(payload: Any) -> Iterable[Any]:
    if isinstance(payload, Mapping):
        for key, value in payload.items():
            if key == "sheetId":
                yield value
            else:
                yield from _referenced_sheet_ids(value)
    elif isinstance(payload, list):
        for value in payload:
            yield from _referenced_sheet_ids(value)


# --------------------------------------------------------------------------------------------
# The server


class RecordedRequest(NamedTuple):
    """One request the server answered (token requests excluded)."""

    method: str
    path: str  # percent-decoded
    query: dict[str, list[str]]
    endpoint: str  # e.g. "values.batchGet", "spreadsheets.batchUpdate", "drive.files.list"
    account: str | None
    status: int


@dataclass
class _Token:
    email: str
    scopes: frozenset[str]
    expires_at: float


@dataclass
class _Fault:
    status: int
    retry_after: float | None
    kind: str | None
    message: str | None


class _Reply(NamedTuple):
    status: int
    body: Any
    headers: dict[str, str]


_ROUTE = re.compile(r"/v4/spreadsheets/([^/:]+)(.*)")


class FakeSheets:
    """An in-memory Google Sheets API v4 served over HTTP on 127.0.0.1 (see module docstring).

    Counters: ``reads`` (authenticated Sheets GETs), ``writes`` (authenticated Sheets POST/PUT),
    ``calls`` (per endpoint) and ``requests`` (every API request with its final status) count
    requests that passed authentication, including those answered with an injected fault or a
    quota error, so a retry shows up as a second call.
    """

    def __init__(
        self,
        *,
        read_quota_per_minute: int | None = None,
        write_quota_per_minute: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
    ) -> None:
        self.read_quota_per_minute = read_quota_per_minute
        self.write_quota_per_minute = write_quota_per_minute
        self._clock = clock
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._spreadsheets: dict[str, _Spreadsheet] = {}
        self._accounts: dict[str, tuple[rsa.RSAPublicKey, str | None]] = {}
        self._tokens: dict[str, _Token] = {}
        self._faults: deque[_Fault] = deque()
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self.internal_errors: list[str] = []
        self.token_requests = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset_counters()

    # ---- lifecycle

    def start(self) -> FakeSheets:
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="FakeSheets",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeSheets:
        return self.start()

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self.stop()
        if exc_type is None and self.internal_errors:
            raise AssertionError("FakeSheets crashed:\n" + "\n".join(self.internal_errors))

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError(
                "FakeSheets is not running; call start() or use it as a context manager"
            )
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # ---- test set-up

    def add_spreadsheet(
        self,
        title: str,
        sheets: Mapping[str, list[list[Any]]] | None = None,
        *,
        row_count: int | Mapping[str, int] | None = None,
        col_count: int | Mapping[str, int] | None = None,
        share_with: Iterable[str] = (),
        value_input_option: str = "RAW",
        spreadsheet_id: str | None = None,
    ) -> str:
        """Create a spreadsheet; each sheet's grid is the data's size (min 1x1) unless given.

        With no ``sheets`` it has one empty "Sheet1" of 1000x26, like a new spreadsheet.
        """
        sid = spreadsheet_id or "1" + "".join(
            self._rng.choice(string.ascii_letters + string.digits + "-_") for _ in range(43)
        )
        if sheets is None:
            sheets = {"Sheet1": []}
            row_count = 1000 if row_count is None else row_count
            col_count = 26 if col_count is None else col_count
        now = _now_iso()
        ss = _Spreadsheet(sid, title, [], created=now, modified=now)
        for name, rows in sheets.items():
            n_rows = _pick(row_count, name) or max(len(rows), 1)
            n_cols = _pick(col_count, name) or max((len(r) for r in rows), default=0) or 1
            sheet = _Sheet(
                {
                    "sheetId": 0 if not ss.sheets else self._new_id(),
                    "title": name,
                    "sheetType": "GRID",
                    "gridProperties": {"rowCount": n_rows, "columnCount": n_cols},
                    "hidden": False,
                }
            )
            ss.sheets.append(sheet)
            self._seed_values(ss, sheet, rows, "A1", value_input_option)
        for email in share_with:
            ss.shared[email] = "writer"
        with self._lock:
            self._spreadsheets[sid] = ss
        return sid

    def share(self, spreadsheet_id: str, client_email: str, role: str = "writer") -> None:
        """Give an account access ("reader" or "writer")."""
        with self._lock:
            self._get(spreadsheet_id).shared[client_email] = role

    def unshare(self, spreadsheet_id: str, client_email: str) -> None:
        with self._lock:
            self._get(spreadsheet_id).shared.pop(client_email, None)

    def set_values(
        self,
        spreadsheet_id: str,
        title: str,
        rows: list[list[Any]],
        *,
        start: str = "A1",
        value_input_option: str = "RAW",
    ) -> None:
        """Write cells behind the API's back (no counters); must fit in the grid."""
        with self._lock:
            ss = self._get(spreadsheet_id)
            self._seed_values(ss, self._sheet(ss, title), rows, start, value_input_option)

    def register_service_account(
        self, email: str, public_key: rsa.RSAPublicKey, key_id: str | None = None
    ) -> None:
        with self._lock:
            self._accounts[email] = (public_key, key_id)

    def issue_token(self, email: str, scopes: Iterable[str] = (SCOPE_SHEETS,)) -> str:
        """Mint a bearer token without the JWT dance."""
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = _Token(email, frozenset(scopes), self._clock() + 3600)
        return token

    def expire_tokens(self) -> None:
        """Invalidate every issued token (the next API call gets 401 and google-auth refreshes)."""
        with self._lock:
            self._tokens.clear()

    # ---- faults and counters

    def fail_next(
        self,
        n: int = 1,
        status: int = 429,
        retry_after: float | None = None,
        *,
        kind: str | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``n`` API requests (only ``kind`` = "read", "write" or an endpoint
        name, if given) with ``status``: 429 is Google's RESOURCE_EXHAUSTED quota error."""
        with self._lock:
            self._faults.extend(_Fault(status, retry_after, kind, message) for _ in range(n))

    def reset_counters(self) -> None:
        with self._lock:
            self.reads = 0
            self.writes = 0
            self.calls: Counter[str] = Counter()
            self.requests: list[RecordedRequest] = []

    # ---- accessors for assertions

    def values(
        self, spreadsheet_id: str, title: str, *, render: str = "UNFORMATTED_VALUE"
    ) -> list[list[Any]]:
        """The sheet's cells, trimmed like the API (numbers stay numbers by default)."""
        with self._lock:
            sheet = self._sheet(self._get(spreadsheet_id), title)
            return sheet.read((0, sheet.rows, 0, sheet.cols), render, "ROWS")

    def sheet_props(self, spreadsheet_id: str, title: str) -> dict[str, Any]:
        """The sheet's ``properties`` as ``spreadsheets.get`` returns them."""
        with self._lock:
            ss = self._get(spreadsheet_id)
            sheet = self._sheet(ss, title)
            return sheet.api_props(ss.sheets.index(sheet))

    def sheet_titles(self, spreadsheet_id: str) -> list[str]:
        with self._lock:
            return [s.title for s in self._get(spreadsheet_id).sheets]

    def data_validation(self, spreadsheet_id: str, title: str, cell: str) -> dict | None:
        """The validation rule on one cell (``"E2"``), or None."""
        bounds = parse_a1(cell)
        if bounds is None:
            raise ValueError(f"not a cell: {cell!r}")
        with self._lock:
            sheet = self._sheet(self._get(spreadsheet_id), title)
            rule = sheet.validations.get((bounds.r0, bounds.c0))
            return copy.deepcopy(rule)

    def merge(self, spreadsheet_id: str, title: str, a1: str) -> None:
        """Merge a range, as a person would (reported in ``sheets[].merges``; writes unchecked)."""
        bounds = parse_a1(a1)
        assert bounds is not None and bounds.r1 is not None and bounds.c1 is not None, a1
        with self._lock:
            sheet = self._sheet(self._get(spreadsheet_id), title)
            sheet.merges.append(
                {
                    "sheetId": sheet.sheet_id,
                    "startRowIndex": bounds.r0,
                    "endRowIndex": bounds.r1,
                    "startColumnIndex": bounds.c0,
                    "endColumnIndex": bounds.c1,
                }
            )

    def charts(self, spreadsheet_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(c) for s in self._get(spreadsheet_id).sheets for c in s.charts]

    def recorded_requests(self, spreadsheet_id: str, kind: str | None = None) -> list[dict]:
        """Bodies of accepted-but-not-modelled batchUpdate requests (e.g. "repeatCell")."""
        with self._lock:
            ss = self._get(spreadsheet_id)
            return [copy.deepcopy(b) for k, b in ss.recorded if kind is None or k == kind]

    # ---- internals: set-up helpers

    def _new_id(self) -> int:
        return self._rng.randint(1, 2**31 - 1)

    def _get(self, spreadsheet_id: str) -> _Spreadsheet:
        try:
            return self._spreadsheets[spreadsheet_id]
        except KeyError:
            raise KeyError(f"no spreadsheet {spreadsheet_id!r}") from None

    @staticmethod
    def _sheet(ss: _Spreadsheet, title: str) -> _Sheet:
        sheet = ss.sheet(title)
        if sheet is None:
            raise KeyError(f"no sheet {title!r} in {ss.title!r}")
        return sheet

    @staticmethod
    def _seed_values(ss: _Spreadsheet, sheet: _Sheet, rows: list, start: str, option: str) -> None:
        text = f"{quote_title(sheet.title, always=True)}!{start}"
        try:
            _plan_write(ss, text, {"values": rows}, option).apply()
        except GoogleError as exc:
            raise ValueError(exc.message) from None

    # ---- internals: HTTP

    def _dispatch(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> _Reply:
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        with self._lock:
            if parts.path == "/token":
                return self._token_endpoint(method, body)
            endpoint, handler = self._route(method, parts.path)
            record = RecordedRequest(method, unquote(parts.path), query, endpoint, None, 0)
            try:
                token = self._authenticate(headers)
                record = record._replace(account=token.email)
                self._count(endpoint, method, parts.path)
                self._check_faults_and_quota(token.email, endpoint, method, parts.path)
                if handler is None:
                    raise GoogleError(404, "Method not found.")
                reply = handler(token, query, _Body(body))
            except GoogleError as exc:
                reply = _Reply(exc.code, exc.body(), exc.headers)
            self.requests.append(record._replace(status=reply.status))
            return reply

    def _route(self, method: str, path: str) -> tuple[str, Callable[..., _Reply] | None]:
        if path.startswith("/drive/v3/files"):
            rest = path[len("/drive/v3/files") :]
            if method == "GET" and rest in ("", "/"):
                return "drive.files.list", self._drive_list
            if method == "GET" and re.fullmatch(r"/[^/]+", rest):
                return "drive.files.get", lambda t, q, b: self._drive_get(t, unquote(rest[1:]))
            return "drive.unsupported", None
        m = _ROUTE.fullmatch(path)
        if not m:
            return "unknown", None
        sid, rest = unquote(m.group(1)), m.group(2)
        table: dict[tuple[str, str], tuple[str, Callable[..., _Reply]]] = {
            ("GET", ""): ("spreadsheets.get", self._get_spreadsheet),
            ("POST", ":batchUpdate"): ("spreadsheets.batchUpdate", self._batch_update),
            ("GET", "/values:batchGet"): ("values.batchGet", self._values_batch_get),
            ("POST", "/values:batchUpdate"): ("values.batchUpdate", self._values_batch_update),
            ("POST", "/values:batchClear"): ("values.batchClear", self._values_batch_clear),
        }
        if (method, rest) in table:
            name, fn = table[(method, rest)]
            return name, lambda t, q, b: fn(self._open(t, sid, name), q, b)
        if rest.startswith("/values/"):
            raw = rest[len("/values/") :]
            for suffix, verb, name, fn in (
                (":append", "POST", "values.append", self._values_append),
                (":clear", "POST", "values.clear", self._values_clear),
            ):
                if raw.endswith(suffix) and method == verb:
                    rng = unquote(raw[: -len(suffix)])
                    return name, lambda t, q, b, fn=fn, name=name, rng=rng: fn(
                        self._open(t, sid, name), rng, q, b
                    )
            rng = unquote(raw)
            if method == "GET":
                return "values.get", lambda t, q, b: self._values_get(
                    self._open(t, sid, "values.get"), rng, q
                )
            if method == "PUT":
                return "values.update", lambda t, q, b: self._values_update(
                    self._open(t, sid, "values.update"), rng, q, b
                )
        return "unknown", None

    def _authenticate(self, headers: Mapping[str, str]) -> _Token:
        auth = headers.get("authorization", "")
        challenge = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
        if not auth.startswith("Bearer "):
            raise GoogleError(
                401,
                f"Request is missing required authentication credential. {_AUTH_HINT}",
                headers=challenge,
            )
        token = self._tokens.get(auth[len("Bearer ") :].strip())
        if token is None or token.expires_at <= self._clock():
            raise GoogleError(
                401,
                f"Request had invalid authentication credentials. {_AUTH_HINT}",
                headers=challenge,
            )
        return token

    @staticmethod
    def _kind(method: str, path: str) -> str | None:
        if not path.startswith("/v4/"):
            return None
        return "read" if method == "GET" else "write"

    def _count(self, endpoint: str, method: str, path: str) -> None:
        self.calls[endpoint] += 1
        kind = self._kind(method, path)
        if kind == "read":
            self.reads += 1
        elif kind == "write":
            self.writes += 1

    def _check_faults_and_quota(self, email: str, endpoint: str, method: str, path: str) -> None:
        kind = self._kind(method, path)
        for fault in self._faults:
            if fault.kind in (None, kind, endpoint):
                self._faults.remove(fault)
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = f"{fault.retry_after:g}"
                if fault.status == 429:
                    raise _quota_error(kind or "read", None, headers, fault.message)
                message = fault.message or _DEFAULT_MESSAGES.get(
                    fault.status, HTTPStatus(fault.status).phrase
                )
                raise GoogleError(fault.status, message, headers=headers)
        limit = {"read": self.read_quota_per_minute, "write": self.write_quota_per_minute}.get(
            kind or ""
        )
        if kind and limit is not None:
            now = self._clock()
            window = self._windows.setdefault((email, kind), deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= limit:
                raise _quota_error(kind, limit, {})
            window.append(now)

    def _open(self, token: _Token, sid: str, endpoint: str) -> tuple[_Spreadsheet, _Token]:
        ss = self._spreadsheets.get(sid)
        if ss is None:
            raise GoogleError(404, "Requested entity was not found.")
        is_write = endpoint not in ("spreadsheets.get", "values.get", "values.batchGet")
        scopes = _WRITE_SCOPES if is_write else _READ_SCOPES
        if not token.scopes & scopes:
            raise GoogleError(403, "Request had insufficient authentication scopes.")
        role = ss.shared.get(token.email)
        if role is None or (is_write and role != "writer"):
            raise GoogleError(403, "The caller does not have permission")
        return ss, token

    def _token_endpoint(self, method: str, body: bytes) -> _Reply:
        self.token_requests += 1
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if method != "POST" or form.get("grant_type") != JWT_GRANT_TYPE:
            return _oauth_error(
                "unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type', '')}"
            )
        try:
            header_b64, payload_b64, sig_b64 = form.get("assertion", "").split(".")
            header = json.loads(_b64url_decode(header_b64))
            claims = json.loads(_b64url_decode(payload_b64))
            signature = _b64url_decode(sig_b64)
        except (ValueError, UnicodeDecodeError):
            return _oauth_error("invalid_grant", "Invalid JWT: could not decode the assertion.")
        account = self._accounts.get(claims.get("iss", ""))
        if account is None:
            return _oauth_error("invalid_grant", "Invalid grant: account not found")
        public_key, key_id = account
        if header.get("alg") != "RS256" or (key_id and header.get("kid") != key_id):
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        try:
            public_key.verify(
                signature,
                f"{header_b64}.{payload_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        now = time.time()
        iat, exp = claims.get("iat", 0), claims.get("exp", 0)
        if not (iat - 300 <= now < exp and exp - iat <= 3600):
            return _oauth_error(
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                "timeframe. Check your iat and exp values in the JWT claim.",
            )
        if claims.get("aud") not in (GOOGLE_TOKEN_URI, self.url + "/token"):
            return _oauth_error("invalid_grant", "Invalid JWT: Failed audience check.")
        scopes = frozenset(claims.get("scope", "").split())
        if not scopes:
            return _oauth_error(
                "invalid_scope", "Invalid OAuth scope or ID token audience provided."
            )
        token = self.issue_token(claims["iss"], scopes)
        return _Reply(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}, {})

    # ---- internals: endpoints

    def _get_spreadsheet(self, opened: tuple[_Spreadsheet, _Token], q: dict, _: _Body) -> _Reply:
        ss, _token = opened
        include = _flag(q, "includeGridData")
        return _Reply(200, ss.api(include), {})

    def _values_get(self, opened: tuple[_Spreadsheet, _Token], rng: str, q: dict) -> _Reply:
        ss, _token = opened
        render, major = _read_options(q)
        return _Reply(200, _value_range(ss, rng, render, major), {})

    def _values_batch_get(self, opened: tuple[_Spreadsheet, _Token], q: dict, _: _Body) -> _Reply:
        ss, _token = opened
        render, major = _read_options(q)
        body: dict[str, Any] = {"spreadsheetId": ss.id}
        if q.get("ranges"):
            body["valueRanges"] = [_value_range(ss, r, render, major) for r in q["ranges"]]
        return _Reply(200, body, {})

    def _values_update(
        self, opened: tuple[_Spreadsheet, _Token], rng: str, q: dict, b: _Body
    ) -> _Reply:
        ss, _token = opened
        option = _input_option(_param(q, "valueInputOption"))
        body = b.json()
        result = _plan_write(ss, rng, body, option).apply()
        self._touch(ss)
        return _Reply(200, {"spreadsheetId": ss.id, **result}, {})

    def _values_append(
        self, opened: tuple[_Spreadsheet, _Token], rng: str, q: dict, b: _Body
    ) -> _Reply:
        ss, _token = opened
        option = _input_option(_param(q, "valueInputOption"))
        insert = _param(q, "insertDataOption") or "OVERWRITE"
        if insert not in ("OVERWRITE", "INSERT_ROWS"):
            raise _bad_request(f"Invalid value at 'insert_data_option' ({insert})")
        work = copy.deepcopy(ss)
        result = _append(work, rng, b.json(), option, insert)
        self._commit(work)
        return _Reply(200, result, {})

    def _values_batch_update(
        self, opened: tuple[_Spreadsheet, _Token], _q: dict, b: _Body
    ) -> _Reply:
        ss, _token = opened
        body = b.json()
        option = _input_option(body.get("valueInputOption"))
        data = body.get("data") or []
        writes = [
            _plan_write(ss, item.get("range", ""), item, option, f"data[{i}].")
            for i, item in enumerate(data)
        ]
        responses = [{"spreadsheetId": ss.id, **w.apply()} for w in writes]
        self._touch(ss)
        result: dict[str, Any] = {"spreadsheetId": ss.id}
        if responses:
            touched = [r for r in responses if "updatedCells" in r]
            result.update(
                totalUpdatedRows=sum(r.get("updatedRows", 0) for r in touched),
                totalUpdatedColumns=sum(r.get("updatedColumns", 0) for r in touched),
                totalUpdatedCells=sum(r.get("updatedCells", 0) for r in touched),
                totalUpdatedSheets=len({w.sheet.sheet_id for w in writes}),
                responses=responses,
            )
        return _Reply(200, result, {})

    def _values_clear(
        self, opened: tuple[_Spreadsheet, _Token], rng: str, _q: dict, _b: _Body
    ) -> _Reply:
        ss, _token = opened
        cleared = self._clear(ss, [rng])
        return _Reply(200, {"spreadsheetId": ss.id, "clearedRange": cleared[0]}, {})

    def _values_batch_clear(
        self, opened: tuple[_Spreadsheet, _Token], _q: dict, b: _Body
    ) -> _Reply:
        ss, _token = opened
        cleared = self._clear(ss, list(b.json().get("ranges") or []))
        return _Reply(200, {"spreadsheetId": ss.id, "clearedRanges": cleared}, {})

    def _clear(self, ss: _Spreadsheet, ranges: list[str]) -> list[str]:
        plans = []
        for text in ranges:
            sheet, b = ss.resolve(text)
            rect = sheet.clip(b, _shown(sheet, b))
            plans.append((sheet, rect))
        for sheet, (r0, r1, c0, c1) in plans:
            for key in [k for k in sheet.cells if r0 <= k[0] < r1 and c0 <= k[1] < c1]:
                del sheet.cells[key]
        self._touch(ss)
        return [format_range(sheet.title, *rect) for sheet, rect in plans]

    def _batch_update(self, opened: tuple[_Spreadsheet, _Token], _q: dict, b: _Body) -> _Reply:
        ss, _token = opened
        requests_ = b.json().get("requests")
        if not requests_:
            raise _bad_request("Must specify at least one request.")
        work = copy.deepcopy(ss)
        replies = []
        for i, request in enumerate(requests_):
            if not isinstance(request, Mapping) or len(request) != 1:
                raise _bad_request(
                    f"Invalid requests[{i}]: exactly one kind of request is required."
                )
            ((kind, payload),) = request.items()
            try:
                if kind in _STRUCTURAL:
                    replies.append(_STRUCTURAL[kind](work, payload or {}, self._new_id) or {})
                elif kind in _RECORDED:
                    for sheet_id in _referenced_sheet_ids(payload):
                        _sheet_of(work, sheet_id)
                    work.recorded.append((kind, copy.deepcopy(payload)))
                    replies.append({})
                else:
                    raise _bad_request(
                        f'Invalid JSON payload received. Unknown name "{kind}" at '
                        f"'requests[{i}]': Cannot find field."
                    )
            except _RequestError as exc:
                raise _bad_request(f"Invalid requests[{i}].{kind}: {exc}") from None
        total = sum(s.rows * s.cols for s in work.sheets)
        if total > MAX_CELLS:
            raise _bad_request(
                "This action would increase the number of cells in the workbook above the limit "
                f"of {MAX_CELLS} cells."
            )
        self._commit(work)
        return _Reply(200, {"spreadsheetId": ss.id, "replies": replies}, {})

    def _commit(self, work: _Spreadsheet) -> None:
        self._touch(work)
        self._spreadsheets[work.id] = work

    @staticmethod
    def _touch(ss: _Spreadsheet) -> None:
        ss.modified = _now_iso()

    def _drive_files(self, token: _Token) -> list[_Spreadsheet]:
        return [ss for ss in self._spreadsheets.values() if token.email in ss.shared]

    @staticmethod
    def _drive_entry(ss: _Spreadsheet) -> dict[str, str]:
        return {
            "kind": "drive#file",
            "id": ss.id,
            "name": ss.title,
            "mimeType": "application/vnd.google-apps.spreadsheet",
            "createdTime": ss.created,
            "modifiedTime": ss.modified,
        }

    def _drive_list(self, token: _Token, q: dict, _: _Body) -> _Reply:
        files = self._drive_files(token)
        name = re.search(r'name\s*=\s*"((?:[^"\\]|\\.)*)"', _param(q, "q") or "")
        if name:
            files = [ss for ss in files if ss.title == name.group(1).replace('\\"', '"')]
        body = {"kind": "drive#fileList", "files": [self._drive_entry(ss) for ss in files]}
        return _Reply(200, body, {})

    def _drive_get(self, token: _Token, file_id: str) -> _Reply:
        ss = self._spreadsheets.get(file_id)
        if ss is None or token.email not in ss.shared:
            message = f"File not found: {file_id}."
            error = {
                "error": {
                    "code": 404,
                    "message": message,
                    "errors": [
                        {
                            "message": message,
                            "domain": "global",
                            "reason": "notFound",
                            "location": "fileId",
                            "locationType": "parameter",
                        }
                    ],
                }
            }
            return _Reply(404, error, {})
        return _Reply(200, self._drive_entry(ss), {})


def _pick(value: int | Mapping[str, int] | None, title: str) -> int | None:
    if isinstance(value, Mapping):
        return value.get(title)
    return value


def _flag(q: Mapping[str, list[str]], name: str) -> bool:
    return (_param(q, name) or "false").lower() == "true"


def _param(q: Mapping[str, list[str]], name: str) -> str | None:
    values = q.get(name)
    return values[-1] if values else None


def _enum(value: str | None, allowed: tuple[str, ...], field_name: str, default: str) -> str:
    if value is None or value == "":
        return default
    if value not in allowed:
        raise _bad_request(f"Invalid value at '{field_name}' ({value})")
    return value


def _read_options(q: Mapping[str, list[str]]) -> tuple[str, str]:
    render = _enum(
        _param(q, "valueRenderOption"), _VALUE_RENDER, "value_render_option", "FORMATTED_VALUE"
    )
    dates = _enum(
        _param(q, "dateTimeRenderOption"),
        _DATETIME_RENDER,
        "date_time_render_option",
        "SERIAL_NUMBER",
    )
    major = _enum(_param(q, "majorDimension"), _DIMENSIONS, "major_dimension", "ROWS")
    return (f"{render}+{dates}" if dates == "FORMATTED_STRING" else render), major


def _input_option(value: str | None) -> str:
    if not value:
        raise _bad_request("'valueInputOption' is required but not specified")
    return _enum(value, _INPUT_OPTIONS, "value_input_option", "RAW")


def _value_range(ss: _Spreadsheet, text: str, render: str, major: str) -> dict[str, Any]:
    sheet, b = ss.resolve(text)
    rect = sheet.clip(b, _shown(sheet, b))
    result: dict[str, Any] = {"range": format_range(sheet.title, *rect), "majorDimension": major}
    values = sheet.read(rect, render, major)
    if values:
        result["values"] = values
    return result


def _quota_error(
    kind: str, limit: int | None, headers: dict[str, str], message: str | None = None
) -> GoogleError:
    metric = "Read requests" if kind == "read" else "Write requests"
    quota_limit = f"{metric} per minute per user"
    text = message or (
        f"Quota exceeded for quota metric '{metric}' and limit '{quota_limit}' of service "
        f"'sheets.googleapis.com' for consumer 'project_number:{PROJECT_NUMBER}'."
    )
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "RATE_LIMIT_EXCEEDED",
            "domain": "googleapis.com",
            "metadata": {
                "quota_metric": f"sheets.googleapis.com/{kind}_requests",
                "quota_limit": f"{kind.capitalize()}RequestsPerMinutePerUser",
                "quota_limit_value": str(limit if limit is not None else 60),
                "consumer": f"projects/{PROJECT_NUMBER}",
                "service": "sheets.googleapis.com",
            },
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {
                    "description": "Request a higher quota limit.",
                    "url": "https://cloud.google.com/docs/quotas/help/request_increase",
                }
            ],
        },
    ]
    return GoogleError(429, text, "RESOURCE_EXHAUSTED", details=details, headers=headers)


def _oauth_error(error: str, description: str) -> _Reply:
    return _Reply(400, {"error": error, "error_description": description}, {})


def _b64url_decode(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"Unexpected token {name}")


class _Body:
    """A request body, parsed as JSON on demand (NaN/Infinity rejected like Google does)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def json(self) -> dict[str, Any]:
        if not self.raw.strip():
            return {}
        try:
            value = json.loads(self.raw, parse_constant=_reject_constant)
        except ValueError as exc:
            raise _bad_request(f"Invalid JSON payload received. {exc}") from None
        if not isinstance(value, dict):
            raise _bad_request("Invalid JSON payload received. Expected an object.")
        return value


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # keep-alive handler threads must not block stop()

    def __init__(self, address: tuple[str, int], handler: type, fake: FakeSheets) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        # Headers and body go out in separate writes; without this, Nagle + delayed ACK add
        # 40 ms to every response.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._connections_lock:
            self._connections.add(sock)
        return sock, address

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # client went away mid-request; nothing to report


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeSheets/1.0"
    timeout = 30
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake = self.server.fake
        try:
            reply = fake._dispatch(self.command, self.path, headers, body)
        except Exception as exc:  # a bug in the fake: answer 500 and remember it
            import traceback

            fake.internal_errors.append(f"{self.command} {self.path}: {traceback.format_exc()}")
            error = GoogleError(500, f"FakeSheets internal error: {exc!r}")
            reply = _Reply(500, error.body(), {})
        payload = json.dumps(reply.body, ensure_ascii=False).encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


# --------------------------------------------------------------------------------------------
# Pointing real clients at the server


class _RedirectAdapter(HTTPAdapter):
    def __init__(self, base_url: str) -> None:
        super().__init__()
        self._base = base_url.rstrip("/")

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        parts = urlsplit(request.url or "")
        path = parts.path
        if parts.netloc == "oauth2.googleapis.com":
            path = "/token"
        request.url = self._base + path + (f"?{parts.query}" if parts.query else "")
        return super().send(request, *args, **kwargs)


def redirect_session(session: requests.Session, server: FakeSheets) -> requests.Session:
    """Send the session's Google API traffic (Sheets, Drive, OAuth token) to ``server``.

    Works on any ``requests.Session``, e.g. ``client.http_client.session`` (an
    ``AuthorizedSession``). Paths and percent-encoding are kept as they are.
    """
    adapter = _RedirectAdapter(server.url)
    for prefix in (
        "https://sheets.googleapis.com/",
        "https://www.googleapis.com/",
        "https://oauth2.googleapis.com/",
    ):
        session.mount(prefix, adapter)
    return session


def connect_gspread(server: FakeSheets, info: Mapping[str, Any], http_client: Any = None) -> Any:
    """A real ``gspread.Client`` authenticated with ``info`` and redirected to ``server``.

    Uses the plain ``gspread.HTTPClient`` unless told otherwise (its back-off client never gives
    up on 429s). Close it with ``client.http_client.session.close()``.
    """
    import gspread

    client = gspread.service_account_from_dict(
        info, http_client=http_client or gspread.http_client.HTTPClient
    )
    redirect_session(client.http_client.session, server)
    return client


@functools.cache
def _private_key(email: str) -> rsa.RSAPrivateKey:
    """One RSA key per account email per process: key generation costs ~0.1 s."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_service_account(
    server: FakeSheets, email: str = DEFAULT_SERVICE_ACCOUNT, *, project_id: str = "test-project"
) -> dict[str, str]:
    """Generate an RSA key, register its public half with ``server`` and return the
    service-account JSON (as a dict) whose ``token_uri`` is the server's ``/token``."""
    key = _private_key(email)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    key_id = secrets.token_hex(20)
    server.register_service_account(email, key.public_key(), key_id)
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": key_id,
        "private_key": pem,
        "client_email": email,
        "client_id": str(secrets.randbelow(10**21)).rjust(21, "1"),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": server.url + "/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
        + email.replace("@", "%40"),
        "universe_domain": "googleapis.com",
    }
