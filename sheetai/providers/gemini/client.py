"""The SDK client built from the settings, and how to read the errors it raises.

The SDK's own retries are off (``HttpRetryOptions(attempts=1)``): one of its retries would skip
the throttle and, after a 429, hit the same exhausted quota again. :mod:`.runner` retries with
:class:`~sheetai.backoff.Backoff` instead, honouring the ``retryDelay`` Google names.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from google import genai
from google.genai import types

from ...errors import ProviderError
from ...settings import Settings

__all__ = ["API_VERSION", "KEY_SETTING", "make_client", "api_key", "retry_delay", "error_message"]

#: The Gemini API version asked for: batch mode and JSON-schema answers live under v1beta.
API_VERSION = "v1beta"
KEY_SETTING = "GEMINI_API_KEY (or GOOGLE_API_KEY)"
_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def api_key(settings: Settings) -> str | None:
    key = settings.gemini_api_key
    return key.get_secret_value() if key is not None and key.get_secret_value() else None


def check_key(settings: Settings, step: str, model: str) -> str:
    """The key to send; a :class:`ProviderError` naming the variable to set when there is none."""
    key = api_key(settings)
    if key is None:
        raise ProviderError(
            f"step '{step}': model '{model}' is a Google Gemini model and no key is set. "
            f"Set {KEY_SETTING} to a key from https://aistudio.google.com/apikey."
        )
    return key


def make_client(settings: Settings, key: str, connections: int = 10) -> genai.Client:
    """A client for the Gemini API (or ``SHEETAI_GEMINI_BASE_URL``), without SDK retries.

    Its async side runs on httpx (an ``async_client_args`` transport), not on aiohttp: the
    SDK's aiohttp session warns on every run, and one HTTP stack is enough. ``connections`` is
    the most kept open at once (one per worker).
    """
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    options = types.HttpOptions(
        async_client_args={"transport": httpx.AsyncHTTPTransport(limits=limits)},
        base_url=settings.gemini_base_url or None,
        api_version=API_VERSION,
        timeout=int(settings.gemini_timeout_seconds * 1000),  # the SDK counts milliseconds
        retry_options=types.HttpRetryOptions(attempts=1),
    )
    return genai.Client(api_key=key, http_options=options)


def retry_delay(details: Any) -> float | None:
    """Seconds a 429's ``google.rpc.RetryInfo`` asks to wait, or None.

    >>> retry_delay({"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
    ...     "retryDelay": "12s"}]}})
    12.0
    >>> retry_delay({"error": {"details": []}}), retry_delay("not json")
    (None, None)
    """
    error = details.get("error", details) if isinstance(details, dict) else None
    for item in (error or {}).get("details") or []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DELAY.match(str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def error_message(error: Any, secret: str | None) -> str:
    """The server's own message of an SDK ``APIError``, short and without the key."""
    text = " ".join(str(getattr(error, "message", None) or error).split())
    if secret:
        text = text.replace(secret, "***")
    return text[:300]
