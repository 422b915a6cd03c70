"""Pick the backend for what the user named: a file path, a Google Sheets URL or key."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import WorkbookError
from ..settings import Settings
from .base import Backend

__all__ = ["open_backend", "google_key"]

_GOOGLE_URL = re.compile(r"https?://docs\.google\.com/spreadsheets/d/([A-Za-z0-9_-]+)")
_GOOGLE_KEY = re.compile(r"^[A-Za-z0-9_-]{30,}$")


def google_key(location: str) -> str | None:
    """The spreadsheet key in a Google Sheets URL or a bare key, else None.

    >>> key = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    >>> google_key(f"https://docs.google.com/spreadsheets/d/{key}/edit#gid=0") == key
    True
    >>> google_key("samples/feedback.xlsx") is None
    True
    """
    match = _GOOGLE_URL.match(location.strip())
    if match:
        return match.group(1)
    stripped = location.strip()
    if _GOOGLE_KEY.match(stripped) and not Path(stripped).exists():
        return stripped
    return None


def open_backend(location: str, settings: Settings | None = None, **options: object) -> Backend:
    """Open the workbook at ``location`` with the backend that fits it."""
    settings = settings or Settings()
    if location.startswith("excel:"):
        try:
            from .excel import XlwingsBackend  # type: ignore[import-not-found]
        except ImportError as exc:
            from ..errors import MissingExtraError

            raise MissingExtraError("Live Excel", "excel", "xlwings") from exc
        return XlwingsBackend(location.removeprefix("excel:"), settings, **options)  # type: ignore[no-any-return]
    key = google_key(location)
    if key is not None:
        try:
            from .google import GoogleSheetsBackend
        except ImportError as exc:
            if getattr(exc, "name", "") in {"gspread", "google"} or "gspread" in str(exc):
                from ..errors import MissingExtraError

                raise MissingExtraError("Google Sheets", "google", "gspread") from exc
            raise WorkbookError(
                f"{location}: Google Sheets is not supported by this version of sheetai."
            ) from exc
        return GoogleSheetsBackend(key, settings, **options)  # type: ignore[arg-type]
    if location.startswith(("http://", "https://")):
        raise WorkbookError(
            f"{location}: not a Google Sheets URL. Give a path to an .xlsx file or a "
            "https://docs.google.com/spreadsheets/d/... URL."
        )
    from .xlsx import XlsxBackend

    return XlsxBackend(location)
