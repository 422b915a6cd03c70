"""FakeSheets over HTTP: routing, sign-in, request parsing and Google's JSON shapes.

Serves what sheetai's Google backend sends (``spreadsheets.get``, ``spreadsheets.batchUpdate``,
``values.batchGet``, ``values.batchUpdate``) and google-auth's service-account token request
(``POST /token``). Anything else is a 404 (an unknown path) or a 400 (an option or request kind
FakeSheets does not model), so a new call in sheetai fails loudly rather than half-works.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import threading
import traceback
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from .errors import GoogleError, bad_request
from .model import Spreadsheet, apply_requests, plan_write, shown

if TYPE_CHECKING:
    from .server import FakeSheets

__all__ = ["HTTPServer", "RecordedRequest", "Reply", "dispatch"]

_AUTH_HINT = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
_ROUTE = re.compile(r"/v4/spreadsheets/([^/:]+)(.*)")


class Reply(NamedTuple):
    status: int
    body: Any
    headers: dict[str, str]


class RecordedRequest(NamedTuple):
    """One API request the server answered (token requests excluded)."""

    method: str
    path: str  # percent-decoded
    query: dict[str, list[str]]
    endpoint: str  # e.g. "values.batchGet", "spreadsheets.batchUpdate"
    account: str | None
    status: int


def dispatch(
    fake: FakeSheets, method: str, target: str, headers: Mapping[str, str], body: bytes
) -> Reply:
    """Answer one request; counts it and applies any injected fault first."""
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    if parts.path == "/token":
        return _token(fake, body)
    match = _ROUTE.fullmatch(parts.path)
    sid, rest = (unquote(match.group(1)), match.group(2)) if match else ("", "")
    endpoint, handler = _ENDPOINTS.get((method, rest), ("unknown", None))
    kind = None if match is None else "read" if method == "GET" else "write"
    record = RecordedRequest(method, unquote(parts.path), query, endpoint, None, 0)
    with fake.lock:
        try:
            email = _authenticate(fake, headers)
            record = record._replace(account=email)
            fake.count(endpoint, kind)
            fault = fake.take_fault(kind, endpoint)
            if fault is not None:
                raise fault
            if handler is None:
                raise GoogleError(404, "Method not found.")
            ss = _open(fake, email, sid, writing=kind == "write")
            reply = handler(fake, ss, query, body)
        except GoogleError as exc:
            reply = Reply(exc.code, exc.body(), exc.headers)
        fake.requests.append(record._replace(status=reply.status))
        return reply


def _authenticate(fake: FakeSheets, headers: Mapping[str, str]) -> str:
    auth = headers.get("authorization", "")
    email = fake.tokens.get(auth.removeprefix("Bearer ").strip())
    if not auth.startswith("Bearer ") or email is None:
        challenge = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
        raise GoogleError(
            401, f"Request had invalid authentication credentials. {_AUTH_HINT}", challenge
        )
    return email


def _open(fake: FakeSheets, email: str, sid: str, writing: bool) -> Spreadsheet:
    ss = fake.spreadsheets.get(sid)
    if ss is None:
        raise GoogleError(404, "Requested entity was not found.")
    role = ss.shared.get(email)
    if role is None or (writing and role != "writer"):
        raise GoogleError(403, "The caller does not have permission")
    return ss


def _token(fake: FakeSheets, body: bytes) -> Reply:
    """google-auth's JWT grant: a token for an account whose registered key signed it."""
    form = parse_qs(body.decode("utf-8", "replace"))
    try:
        header_b64, payload_b64, signature_b64 = form["assertion"][0].split(".")
        email = json.loads(_b64url_decode(payload_b64))["iss"]
        fake.accounts[email].verify(
            _b64url_decode(signature_b64),
            f"{header_b64}.{payload_b64}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (KeyError, ValueError, InvalidSignature):
        error = {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        return Reply(400, error, {})
    token = fake.issue_token(email)
    return Reply(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}, {})


def _b64url_decode(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _json(body: bytes) -> dict[str, Any]:
    """A request body, rejecting NaN and Infinity as Google does (sheetai must never send them)."""

    def reject(name: str) -> Any:
        raise ValueError(f"Unexpected token {name}")

    try:
        value = json.loads(body or b"{}", parse_constant=reject)
    except ValueError as exc:
        raise bad_request(f"Invalid JSON payload received. {exc}") from None
    return value


# -- endpoints ------------------------------------------------------------------------------


def _get_spreadsheet(fake: FakeSheets, ss: Spreadsheet, q: dict, body: bytes) -> Reply:
    sheets = []
    for index, sheet in enumerate(ss.sheets):
        entry: dict[str, Any] = {"properties": sheet.properties(index)}
        if sheet.merges:
            entry["merges"] = [dict(m) for m in sheet.merges]
        sheets.append(entry)
    properties = {"title": ss.title, "locale": "en_US", "timeZone": "Etc/GMT"}
    url = f"https://docs.google.com/spreadsheets/d/{ss.id}/edit"
    body_out = {"spreadsheetId": ss.id, "properties": properties, "sheets": sheets}
    return Reply(200, {**body_out, "spreadsheetUrl": url}, {})


def _values_batch_get(fake: FakeSheets, ss: Spreadsheet, q: dict, body: bytes) -> Reply:
    for name, taken in (("valueRenderOption", "UNFORMATTED_VALUE"), ("majorDimension", "ROWS")):
        if q.get(name, [taken])[-1] != taken:
            raise bad_request(f"FakeSheets supports only {name}={taken}")
    dates_as_text = q.get("dateTimeRenderOption", [""])[-1] == "FORMATTED_STRING"
    ranges = []
    for text in q.get("ranges", []):
        sheet, bounds, _ = ss.resolve(text)
        rect = sheet.clip(bounds)
        value_range: dict[str, Any] = {"range": shown(sheet.title, *rect), "majorDimension": "ROWS"}
        values = sheet.read(rect, dates_as_text)
        if values:
            value_range["values"] = values
        ranges.append(value_range)
    reply: dict[str, Any] = {"spreadsheetId": ss.id}
    if ranges:
        reply["valueRanges"] = ranges
    return Reply(200, reply, {})


def _values_batch_update(fake: FakeSheets, ss: Spreadsheet, q: dict, body: bytes) -> Reply:
    request = _json(body)
    option = request.get("valueInputOption")
    if option not in ("RAW", "USER_ENTERED"):
        raise bad_request(f"Invalid value at 'value_input_option' ({option})")
    data = request.get("data") or []
    writes = [
        plan_write(ss, item.get("range", ""), item.get("values") or [], option) for item in data
    ]
    responses = [{"spreadsheetId": ss.id, **w.apply()} for w in writes]
    result: dict[str, Any] = {"spreadsheetId": ss.id}
    if responses:
        touched = [r for r in responses if "updatedCells" in r]
        result.update(
            totalUpdatedRows=sum(r["updatedRows"] for r in touched),
            totalUpdatedColumns=sum(r["updatedColumns"] for r in touched),
            totalUpdatedCells=sum(r["updatedCells"] for r in touched),
            totalUpdatedSheets=len({w.sheet.sheet_id for w in writes}),
            responses=responses,
        )
    return Reply(200, result, {})


def _batch_update(fake: FakeSheets, ss: Spreadsheet, q: dict, body: bytes) -> Reply:
    work, replies = apply_requests(ss, _json(body).get("requests") or [], fake.new_sheet_id)
    fake.spreadsheets[ss.id] = work
    return Reply(200, {"spreadsheetId": ss.id, "replies": replies}, {})


_Handler = Callable[["FakeSheets", Spreadsheet, dict, bytes], Reply]
_ENDPOINTS: dict[tuple[str, str], tuple[str, _Handler]] = {
    ("GET", ""): ("spreadsheets.get", _get_spreadsheet),
    ("POST", ":batchUpdate"): ("spreadsheets.batchUpdate", _batch_update),
    ("GET", "/values:batchGet"): ("values.batchGet", _values_batch_get),
    ("POST", "/values:batchUpdate"): ("values.batchUpdate", _values_batch_update),
}


# -- the HTTP server ------------------------------------------------------------------------


class HTTPServer(ThreadingHTTPServer):
    """A threading server whose ``close_connections`` cuts keep-alive clients off at stop."""

    daemon_threads = True
    block_on_close = False  # keep-alive handler threads must not block stop()

    def __init__(self, fake: FakeSheets) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _RequestHandler)

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


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeSheets/1.0"
    timeout = 30
    server: HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake = self.server.fake
        try:
            reply = dispatch(fake, self.command, self.path, headers, body)
        except Exception as exc:  # a bug in the fake: answer 500 and make the test fail
            fake.internal_errors.append(f"{self.command} {self.path}: {traceback.format_exc()}")
            reply = Reply(500, GoogleError(500, f"FakeSheets internal error: {exc!r}").body(), {})
        payload = json.dumps(reply.body, ensure_ascii=False).encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve
