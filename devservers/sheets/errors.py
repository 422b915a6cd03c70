"""Google's API errors, as the fake raises them and renders them in a response body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["GoogleError", "bad_request", "quota_error", "PROJECT_NUMBER"]

PROJECT_NUMBER = "123456789012"
_STATUS_BY_CODE = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class GoogleError(Exception):
    """An API error, rendered as Google's ``{"error": {"code", "message", "status"}}`` body."""

    def __init__(self, code: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = _STATUS_BY_CODE.get(code, "UNKNOWN")
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body Google sends with this error."""
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


def bad_request(message: str) -> GoogleError:
    """A 400 INVALID_ARGUMENT."""
    return GoogleError(400, message)


def quota_error(kind: str, headers: Mapping[str, str], message: str | None = None) -> GoogleError:
    """Google's 429 for a ``"read"`` or ``"write"`` request over the per-minute quota."""
    metric = "Read requests" if kind == "read" else "Write requests"
    text = message or (
        f"Quota exceeded for quota metric '{metric}' and limit '{metric} per minute per user' of "
        f"service 'sheets.googleapis.com' for consumer 'project_number:{PROJECT_NUMBER}'."
    )
    return GoogleError(429, text, headers)
