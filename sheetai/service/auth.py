"""Who may call the service: a bearer token, or an HMAC signature made with a sheet's secret.

The Apps Script bound to a Google Sheet signs each request (``sheets_addon/README.md``)::

    X-Sheetai-Sheet:      <spreadsheet id>
    X-Sheetai-Timestamp:  <unix seconds>
    X-Sheetai-Signature:  hex(HMAC-SHA256(secret, "<timestamp>.<raw body>"))

A signature is checked against the raw body bytes before anything is parsed, refused when its
timestamp is more than five minutes off, and refused when seen before (kept per sheet only
as long as its timestamp is acceptable). The Excel add-in and scripts send
``Authorization: Bearer <SHEETAI_SERVICE_TOKEN>`` instead. Secrets never reach a log or an error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..settings import Settings
from ..stores import Store, open_store

__all__ = [
    "AuthError",
    "Authenticator",
    "MISSING_CREDENTIALS",
    "Principal",
    "SecretsFile",
    "sign",
    "WINDOW_SECONDS",
]

WINDOW_SECONDS = 300
log = logging.getLogger("sheetai.service")


MISSING_CREDENTIALS = (
    "not authenticated: send 'Authorization: Bearer <token>' or the X-Sheetai-Sheet, "
    "X-Sheetai-Timestamp and X-Sheetai-Signature headers."
)


class AuthError(Exception):
    """The request is not authenticated; ``str()`` is safe to send back (no secret in it)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``sheet`` is set for a signature (it may act on that sheet only)."""

    via: str  # "bearer" or "hmac"
    sheet: str | None = None


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature the Apps Script makes.

    >>> sign("s3cret", 1700000000, b'{"a":1}')[:16]
    '1698a50bc74d1ff1'
    """
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class SecretsFile:
    """Per-sheet secrets from a JSON file ``{"<spreadsheet id>": "<secret>"}``, re-read on change.

    Re-reading means a new sheet (or a revoked secret) needs no restart.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime: float | None = None
        self._secrets: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, sheet: str) -> str | None:
        with self._lock:
            try:
                mtime = self.path.stat().st_mtime
            except OSError:
                self._mtime, self._secrets = None, {}
                return None
            if mtime != self._mtime:
                self._secrets = self._load()
                self._mtime = mtime
            return self._secrets.get(sheet)

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"{self.path}: cannot read the sheet secrets ({type(exc).__name__}). It must be "
                'a JSON object: {"<spreadsheet id>": "<secret>"}.'
            ) from exc
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise ConfigError(
                f'{self.path}: must be a JSON object {{"<spreadsheet id>": "<secret>"}}.'
            )
        short = [k for k, v in data.items() if len(v) < 16]
        if short:
            log.warning(
                "sheet secrets shorter than 16 characters are refused",
                extra={"sheets": short},
            )
        return {k: v for k, v in data.items() if len(v) >= 16}


class ReplayLog:
    """Signatures seen within their window, in the store: a restart does not forget them, and
    a request replayed to another replica is refused there too. Opened at first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: Store | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                store = open_store(self.settings, "replay")
                store.ensure_schema(
                    [
                        "CREATE TABLE IF NOT EXISTS seen (sheet TEXT, signature TEXT,"
                        " expires DOUBLE PRECISION, PRIMARY KEY (sheet, signature))"
                    ]
                )
                self._store = store
            return self._store

    def first_use(self, sheet: str, signature: str, expires: float, now: float) -> bool:
        """Record the signature; False if it was already used and has not expired."""
        with self.store.transaction() as tx:
            tx.execute("DELETE FROM seen WHERE expires < ?", (now,))
            inserted = tx.execute(
                "INSERT INTO seen (sheet, signature, expires) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING RETURNING sheet",
                (sheet, signature, expires),
            )
            return bool(inserted)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


class Authenticator:
    """Checks a request's headers and raw body; raises :class:`AuthError` if it must not pass."""

    def __init__(
        self,
        settings: Settings,
        secrets: SecretsFile | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        token = settings.service_token
        self._token = token.get_secret_value() if token is not None else None
        self.secrets = secrets or SecretsFile(
            settings.sheet_secrets_file or Path(settings.home) / "sheet_secrets.json"
        )
        self.clock = clock
        self._replays = ReplayLog(settings)

    def close(self) -> None:
        """Let go of the replay log's store (it opens again if needed)."""
        self._replays.close()

    def check(self, headers: Mapping[str, str], body: bytes) -> Principal:
        auth = headers.get("authorization", "")
        if auth:
            scheme, _, value = auth.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise AuthError("use 'Authorization: Bearer <token>'.")
            if self._token is None or not hmac.compare_digest(
                value.strip().encode(), self._token.encode()
            ):
                raise AuthError("the bearer token is not the service's token.")
            return Principal("bearer")
        sheet = headers.get("x-sheetai-sheet", "").strip()
        stamp = headers.get("x-sheetai-timestamp", "").strip()
        signature = headers.get("x-sheetai-signature", "").strip().lower()
        if not (sheet and stamp and signature):
            raise AuthError(MISSING_CREDENTIALS)
        try:
            timestamp = int(stamp)
        except ValueError:
            raise AuthError("X-Sheetai-Timestamp must be unix seconds.") from None
        now = self.clock()
        if abs(now - timestamp) > WINDOW_SECONDS:
            raise AuthError(
                "the signature's timestamp is more than 5 minutes off the service's clock."
            )
        secret = self.secrets.get(sheet)
        expected = sign(secret, stamp, body) if secret is not None else ""
        if secret is None or not hmac.compare_digest(signature.encode(), expected.encode()):
            raise AuthError(
                "the signature does not match: the secret is not the one registered for this "
                "spreadsheet on the service."
            )
        if not self._replays.first_use(sheet, signature, timestamp + WINDOW_SECONDS, now):
            raise AuthError("this signed request was already used (replay refused).")
        return Principal("hmac", sheet)
