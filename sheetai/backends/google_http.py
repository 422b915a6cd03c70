"""The one door to the Google Sheets API: credentials, base URL, capped retries, error mapping.

gspread's plain :class:`~gspread.http_client.HTTPClient` does the HTTP; :class:`SheetsHTTPClient`
adds what sheetai needs on top of it:

* every ``https://sheets.googleapis.com`` URL is rebased on ``SHEETAI_GOOGLE_API_URL`` (tests and
  proxies), leaving the OAuth token URL alone (google-auth takes ``token_uri`` from the JSON key);
* 429 and 5xx answers (and dropped connections) are retried with :mod:`sheetai.backoff`'s
  jittered exponential back-off, a cap on both the wait and the number of attempts, honouring
  ``Retry-After``; each wait is logged, so a user sees why a sync pauses. gspread's
  ``BackOffHTTPClient`` retries forever, which turns a quota problem into a hang.

:func:`translate_api_error` turns gspread's ``APIError`` into a
:class:`~sheetai.errors.WorkbookError` that names the account and the sheet, at the backend's edge.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gspread
import requests
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient

from ..backoff import Backoff, retry_after
from ..errors import WorkbookError
from ..settings import Settings

__all__ = [
    "GOOGLE_API_URL",
    "SCOPES",
    "SheetsHTTPClient",
    "connect",
    "translate_api_error",
]

GOOGLE_API_URL = "https://sheets.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Waits of ~1, 2, 4 ... s, at most 32 s, a Retry-After honoured up to 32 s (see sheetai.backoff);
# the attempts are bounded by ``max_retries`` (SHEETAI_GOOGLE_MAX_RETRIES).
BACKOFF = Backoff(base=1.0, cap=32.0, max_wait=32.0)

log = logging.getLogger("sheetai.google")


class SheetsHTTPClient(HTTPClient):
    """gspread's HTTP client pointed at ``api_url``, with capped, jittered retries."""

    api_url: str = GOOGLE_API_URL
    max_retries: int = 5
    backoff: Backoff = BACKOFF
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    def request(  # type: ignore[override]
        self,
        method: str,
        endpoint: str,
        params: Any = None,
        data: bytes | None = None,
        json: Any = None,
        files: Any = None,
        headers: Any = None,
    ) -> requests.Response:
        if endpoint.startswith(GOOGLE_API_URL) and self.api_url != GOOGLE_API_URL:
            endpoint = self.api_url.rstrip("/") + endpoint[len(GOOGLE_API_URL) :]
        attempt = 0
        while True:
            try:
                return super().request(method, endpoint, params, data, json, files, headers)
            except APIError as exc:
                status = exc.response.status_code
                if status not in RETRY_STATUSES or attempt >= self.max_retries:
                    raise
                wait = self.backoff.delay(attempt, retry_after(exc.response.headers))
                why = "quota exceeded (429)" if status == 429 else f"HTTP {status}"
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt >= self.max_retries:
                    raise WorkbookError(
                        f"could not reach Google Sheets at {self.api_url} ({type(exc).__name__}) "
                        f"after {attempt + 1} attempts. Check the network and run again; rows "
                        "already saved are kept."
                    ) from exc
                wait = self.backoff.delay(attempt)
                why = type(exc).__name__
            attempt += 1
            log.warning(
                "Google Sheets: %s; waiting %.1f s before retry %d of %d",
                why,
                wait,
                attempt,
                self.max_retries,
            )
            self.sleep(wait)


def _credentials(settings: Settings) -> tuple[Any, str]:
    """Credentials and the account to name in messages, found as gspread finds them."""
    from google.oauth2 import credentials as user_credentials
    from google.oauth2 import service_account

    path = settings.google_credentials
    if path is None:
        for candidate in (
            gspread.auth.DEFAULT_SERVICE_ACCOUNT_FILENAME,
            gspread.auth.DEFAULT_AUTHORIZED_USER_FILENAME,
            gspread.auth.DEFAULT_CREDENTIALS_FILENAME,
        ):
            if Path(candidate).exists():
                path = Path(candidate)
                break
    if path is None:
        raise WorkbookError(
            "no Google credentials. Give a service-account JSON key with --credentials FILE "
            "(or SHEETAI_GOOGLE_CREDENTIALS), or put it at "
            f"{gspread.auth.DEFAULT_SERVICE_ACCOUNT_FILENAME}; for your own Google account put "
            f"an OAuth client file at {gspread.auth.DEFAULT_CREDENTIALS_FILENAME}."
        )
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WorkbookError(
            f"{path}: cannot read the Google credentials ({exc}). Give the JSON key file "
            "downloaded from the Google Cloud console."
        ) from exc
    kind = info.get("type") if isinstance(info, dict) else None
    try:
        if kind == "service_account":
            creds = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
            return creds, str(info.get("client_email", "the service account"))
        if kind == "authorized_user":
            creds = user_credentials.Credentials.from_authorized_user_info(info, SCOPES)
            return creds, "your Google account"
        if isinstance(info, dict) and ("installed" in info or "web" in info):
            # An OAuth client file: gspread runs the browser consent once, then caches the
            # user's token beside its other files.
            client = gspread.oauth(scopes=SCOPES, credentials_filename=path)
            return client.http_client.auth, "your Google account"
    except (ValueError, KeyError) as exc:
        raise WorkbookError(f"{path}: not valid Google credentials ({exc}).") from exc
    raise WorkbookError(
        f"{path}: not a service-account key, an authorized-user file or an OAuth client file "
        f'(its "type" is {kind!r}).'
    )


def connect(settings: Settings) -> tuple[SheetsHTTPClient, str]:
    """An authenticated client for the Sheets API and the account it acts as."""
    creds, account = _credentials(settings)
    http = SheetsHTTPClient(creds)
    http.api_url = settings.google_api_url
    http.max_retries = settings.google_max_retries
    http.set_timeout((10, 120))
    return http, account


def translate_api_error(
    exc: APIError, *, account: str, location: str, writing: bool
) -> WorkbookError:
    """A message that says what went wrong with the sheet and what to do about it."""
    status = exc.response.status_code
    google_message = str(exc.error.get("message", "")) if isinstance(exc.error, dict) else ""
    if status == 403 and ("has not been used" in google_message or "disabled" in google_message):
        text = (
            f"the Google Sheets API is not enabled for the Google Cloud project of {account}: "
            "enable it in the Cloud console (APIs & Services ▸ Library ▸ Google Sheets API), "
            f"wait a minute, then run again. Google said: {google_message}"
        )
    elif status == 403 and writing:
        text = (
            f"{account} may read {location} but not edit it. Share the spreadsheet with "
            f"{account} as Editor."
        )
    elif status in (403, 404):
        text = (
            f"{account} cannot open {location}: "
            + ("no access" if status == 403 else "not found")
            + f". Check the URL, and share the spreadsheet with {account} as Editor."
            + (f" Google said: {google_message}" if google_message else "")
        )
    elif status == 401:
        text = (
            f"Google refused the credentials of {account} ({google_message}). Check the key "
            "file, or create a new key."
        )
    elif status == 429:
        text = (
            f"Google Sheets quota exceeded for {account} (60 read and 60 write requests per "
            "minute per user) even after waiting and retrying. Run again in a minute: rows "
            "already saved are kept."
        )
    elif status >= 500:
        text = (
            f"Google Sheets is failing (HTTP {status}: {google_message}) even after retries. "
            "Run again later: rows already saved are kept."
        )
    else:
        text = f"Google Sheets refused a request on {location} (HTTP {status}): {google_message}"
    return WorkbookError(text)
