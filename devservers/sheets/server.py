"""FakeSheets: a Google Sheets API v4 that real gspread and google-auth talk to over HTTP.

Wiring sheetai to it::

    with FakeSheets() as server:
        info = make_service_account(server)  # write it to a file for google_credentials
        sid = server.add_spreadsheet("Reviews", {"Feedback": rows},
                                     share_with=[info["client_email"]])
        settings = Settings(google_api_url=server.url, google_credentials=key_file)

Tests set it up and inspect it through the public methods below: spreadsheets and sharing,
injected faults (:meth:`FakeSheets.fail_next`), counters (``reads``, ``writes``, ``calls``,
``requests``) and what the sheets hold (:meth:`FakeSheets.values` and friends).
"""

from __future__ import annotations

import copy
import functools
import random
import secrets
import string
import threading
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sheetai.a1 import parse_range, quote_sheet

from ..serving import run_in_thread
from .app import HTTPServer, RecordedRequest
from .errors import GoogleError, quota_error
from .model import Sheet, Spreadsheet, plan_write

__all__ = ["DEFAULT_SERVICE_ACCOUNT", "FakeSheets", "RecordedRequest", "make_service_account"]

DEFAULT_SERVICE_ACCOUNT = "sheetai-bot@test-project.iam.gserviceaccount.com"
_DEFAULT_MESSAGES = {
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
}


@dataclass
class _Fault:
    status: int
    retry_after: float | None
    kind: str | None  # "read", "write", an endpoint name, or None for any request
    message: str | None

    def error(self, kind: str | None) -> GoogleError:
        headers = {} if self.retry_after is None else {"Retry-After": f"{self.retry_after:g}"}
        if self.status == 429:
            return quota_error(kind or "read", headers, self.message)
        message = self.message or _DEFAULT_MESSAGES.get(self.status, HTTPStatus(self.status).phrase)
        return GoogleError(self.status, message, headers)


class FakeSheets:
    """In-memory spreadsheets served over HTTP on 127.0.0.1 (see the module docstring).

    Counters: ``reads`` (Sheets GETs), ``writes`` (Sheets POSTs), ``calls`` (per endpoint) and
    ``requests`` (every API request with its final status) count requests that passed sign-in,
    including those answered with an injected fault, so a retry shows up as a second call.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.accounts: dict[str, rsa.RSAPublicKey] = {}
        self.tokens: dict[str, str] = {}  # bearer token -> account email
        self.internal_errors: list[str] = []
        self._rng = random.Random(0)
        self._faults: deque[_Fault] = deque()
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset_counters()

    # -- lifecycle

    def start(self) -> FakeSheets:
        """Serve in a daemon thread."""
        self._httpd = HTTPServer(self)
        serve = functools.partial(self._httpd.serve_forever, poll_interval=0.05)
        self._thread = run_in_thread(serve, "FakeSheets")
        return self

    def stop(self) -> None:
        """Stop serving, cutting off keep-alive connections."""
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
        """``http://127.0.0.1:PORT``, for ``Settings(google_api_url=...)``."""
        if self._httpd is None:
            raise RuntimeError("FakeSheets is not running; call start() or use it with `with`")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # -- set-up

    def add_spreadsheet(
        self,
        title: str,
        sheets: Mapping[str, list[list[Any]]],
        *,
        share_with: Iterable[str] = (),
    ) -> str:
        """Create a spreadsheet shared as writer with ``share_with``; return its id.

        Each sheet's grid is the size of its data (at least 1x1); values are stored as given.
        """
        sid = "1" + "".join(
            self._rng.choice(string.ascii_letters + string.digits) for _ in range(43)
        )
        ss = Spreadsheet(sid, title, shared={email: "writer" for email in share_with})
        for name, rows in sheets.items():
            width = max((len(r) for r in rows), default=0)
            sheet_id = self.new_sheet_id() if ss.sheets else 0
            ss.sheets.append(Sheet(sheet_id, name, max(len(rows), 1), max(width, 1)))
            plan_write(ss, _a1_of(name, "A1"), rows, "RAW").apply()
        with self.lock:
            self.spreadsheets[sid] = ss
        return sid

    def share(self, spreadsheet_id: str, client_email: str, role: str = "writer") -> None:
        """Give an account access (``"reader"`` or ``"writer"``)."""
        with self.lock:
            self._get(spreadsheet_id).shared[client_email] = role

    def set_values(
        self, spreadsheet_id: str, title: str, rows: list[list[Any]], *, start: str = "A1"
    ) -> None:
        """Write cells behind the API's back, as a person would (not counted); must fit."""
        with self.lock:
            ss = self._get(spreadsheet_id)
            try:
                plan_write(ss, _a1_of(title, start), rows, "RAW").apply()
            except GoogleError as exc:
                raise ValueError(exc.message) from None

    def merge(self, spreadsheet_id: str, title: str, a1: str) -> None:
        """Merge a range, as a person would (reported in ``sheets[].merges``)."""
        row, col, last_row, last_col = parse_range(a1)
        assert last_row is not None and last_col is not None, a1
        with self.lock:
            sheet = self._sheet(spreadsheet_id, title)
            sheet.merges.append(
                {
                    "sheetId": sheet.sheet_id,
                    "startRowIndex": row - 1,
                    "endRowIndex": last_row,
                    "startColumnIndex": col - 1,
                    "endColumnIndex": last_col,
                }
            )

    def register_service_account(self, email: str, public_key: rsa.RSAPublicKey) -> None:
        """Let ``POST /token`` accept JWTs that ``email``'s private key signed."""
        with self.lock:
            self.accounts[email] = public_key

    def issue_token(self, email: str) -> str:
        """A bearer token for ``email``, without the JWT exchange."""
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = email
        return token

    # -- faults and counters

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
        with self.lock:
            self._faults.extend(_Fault(status, retry_after, kind, message) for _ in range(n))

    def take_fault(self, kind: str | None, endpoint: str) -> GoogleError | None:
        """The error for the first queued fault that applies to this request, if any."""
        with self.lock:
            for fault in self._faults:
                if fault.kind in (None, kind, endpoint):
                    self._faults.remove(fault)
                    return fault.error(kind)
        return None

    def count(self, endpoint: str, kind: str | None) -> None:
        """Count one signed-in API request."""
        with self.lock:
            self.calls[endpoint] += 1
            self.reads += kind == "read"
            self.writes += kind == "write"

    def reset_counters(self) -> None:
        """Zero ``reads``, ``writes``, ``calls`` and ``requests``."""
        with self.lock:
            self.reads = 0
            self.writes = 0
            self.calls: Counter[str] = Counter()
            self.requests: list[RecordedRequest] = []

    def new_sheet_id(self) -> int:
        return self._rng.randint(1, 2**31 - 1)

    # -- what the sheets hold

    def values(self, spreadsheet_id: str, title: str) -> list[list[Any]]:
        """The sheet's cells as ``UNFORMATTED_VALUE`` reads them (dates as serial numbers)."""
        with self.lock:
            sheet = self._sheet(spreadsheet_id, title)
            return sheet.read((0, sheet.rows, 0, sheet.cols))

    def sheet_props(self, spreadsheet_id: str, title: str) -> dict[str, Any]:
        """The sheet's ``properties`` as ``spreadsheets.get`` returns them."""
        with self.lock:
            sheets = self._get(spreadsheet_id).sheets
            sheet = self._sheet(spreadsheet_id, title)
            return sheet.properties(sheets.index(sheet))

    def sheet_titles(self, spreadsheet_id: str) -> list[str]:
        with self.lock:
            return [s.title for s in self._get(spreadsheet_id).sheets]

    def data_validation(self, spreadsheet_id: str, title: str, cell: str) -> dict | None:
        """The validation rule on one cell (``"E2"``), or None."""
        row, col, _, _ = parse_range(cell)
        with self.lock:
            rule = self._sheet(spreadsheet_id, title).validations.get((row - 1, col - 1))
            return copy.deepcopy(rule)

    def _get(self, spreadsheet_id: str) -> Spreadsheet:
        return self.spreadsheets[spreadsheet_id]

    def _sheet(self, spreadsheet_id: str, title: str) -> Sheet:
        sheet = self._get(spreadsheet_id).sheet(title)
        if sheet is None:
            raise KeyError(f"no sheet {title!r} in {spreadsheet_id!r}")
        return sheet


def _a1_of(title: str, a1: str) -> str:
    return f"{quote_sheet(title)}!{a1}"


@functools.cache
def _private_key(email: str) -> rsa.RSAPrivateKey:
    """One RSA key per account email per process: key generation costs ~0.1 s."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_service_account(
    server: FakeSheets, email: str = DEFAULT_SERVICE_ACCOUNT
) -> dict[str, str]:
    """Register a key for ``email`` with ``server``; return its service-account JSON (a dict)
    whose ``token_uri`` is the server's ``/token``."""
    key = _private_key(email)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    server.register_service_account(email, key.public_key())
    return {
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": str(secrets.randbelow(10**21)).rjust(21, "1"),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": server.url + "/token",
        "universe_domain": "googleapis.com",
    }
