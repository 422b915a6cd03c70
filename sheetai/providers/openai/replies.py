"""How to read a failed or odd reply: how long to wait, and what to tell the user.

Pure functions used by the :mod:`.runner`; no state, no I/O.
"""

from __future__ import annotations

import json
import random
from typing import Any

__all__ = ["MAX_WAIT", "retry_after", "backoff", "json_object", "fatal_text"]

# A server asking for a longer pause than this is retried after this long anyway.
MAX_WAIT = 120.0


def retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after``.

    >>> retry_after({"retry-after-ms": "1500"}), retry_after({"retry-after": "2"})
    (1.5, 2.0)
    """
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value) / scale)
            except ValueError:
                continue
    return None


def backoff(attempt: int) -> float:
    """Exponential back-off with jitter: ~0.5, 1, 2 ... s, at most 20 s."""
    return min(20.0, 0.5 * 2**attempt) * (0.5 + random.random() / 2)


def json_object(content: bytes) -> dict[str, Any] | None:
    """The reply's JSON object, or None when it is not one.

    >>> json_object(b'{"a": 1}'), json_object(b"<html>"), json_object(b"[]")
    ({'a': 1}, None, None)
    """
    try:
        body = json.loads(content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def fatal_text(status: int, model: str, message: str) -> str:
    if status == 401:
        return (
            "the server refused the API key (401). Check OPENAI_API_KEY (or "
            "AZURE_OPENAI_API_KEY for Azure)."
        )
    if status == 404:
        return (
            f"model '{model}' was not found (404): check the Model column, or "
            "OPENAI_BASE_URL / the Azure deployment name."
        )
    return f"access denied ({status}): {message[:150]}"
