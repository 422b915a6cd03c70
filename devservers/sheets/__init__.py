"""A local Google Sheets API v4 server for tests and benchmarks (see :mod:`.server`)."""

from .app import RecordedRequest
from .errors import GoogleError
from .server import DEFAULT_SERVICE_ACCOUNT, FakeSheets, make_service_account

__all__ = [
    "DEFAULT_SERVICE_ACCOUNT",
    "FakeSheets",
    "GoogleError",
    "RecordedRequest",
    "make_service_account",
]
