"""How to read a failed or odd reply: how long to wait, and what to tell the user.

Pure functions used by the :mod:`.runner`; no state, no I/O.
"""

from __future__ import annotations

import errno
import json
import re
import socket
from typing import Any

from ...backoff import Backoff

__all__ = [
    "BACKOFF",
    "MAX_WAIT",
    "json_object",
    "fatal_text",
    "connect_failure",
    "server_message",
    "condense",
]

# A server asking for a longer pause than this is retried after this long anyway.
MAX_WAIT = 120.0
# Waits without a retry-after: ~0.5, 1, 2 ... s, at most 20 s (see sheetai.backoff).
BACKOFF = Backoff(base=0.5, cap=20.0, max_wait=MAX_WAIT)


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


_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}


def connect_failure(error: BaseException) -> str | None:
    """Why a request never reached the server (refused, no such host, unreachable), or None.

    The SDK reports all of these as a timeout or a connection error; the cause is further down
    the chain of exceptions.

    >>> cause = ConnectionRefusedError(111, "Connect call failed")
    >>> wrapper = TimeoutError("Request timed out.")
    >>> wrapper.__cause__ = cause
    >>> connect_failure(wrapper), connect_failure(TimeoutError("read timed out"))
    ('connection refused', None)
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, socket.gaierror):
            return "no such host"
        if isinstance(current, OSError) and current.errno in _UNREACHABLE:
            return "host unreachable"
        current = current.__cause__ or current.__context__
    return None


def server_message(error: Any) -> str:
    """What the server said: ``error.message`` of an OpenAI-style body, else the SDK's text."""
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(inner, str):
            return inner
    return str(getattr(error, "message", "") or error)


# One error of a pydantic request model (FastAPI servers: llama-cpp-python, vLLM, LiteLLM).
_PYDANTIC_ERROR = re.compile(r"""'loc': \(([^)]*)\), 'msg': (?:"([^"]*)"|'([^']*)')""")


def condense(message: str, limit: int = 200) -> str:
    """A server's message short enough for a flag cell, the useful part first.

    >>> condense("1 validation error:  {'type': 'literal_error', 'loc': ('body', "
    ...     "'response_format', 'type'), 'msg': 'Input should be text', 'input': 'x'}")
    'response_format.type: Input should be text'
    >>> condense("too   many\\n spaces")
    'too many spaces'
    """
    found = _PYDANTIC_ERROR.findall(message)
    if found:
        parts = []
        for loc, double, single in found:
            where = ".".join(p.strip(" '\"") for p in loc.split(",") if p.strip(" '\""))
            parts.append(f"{where.removeprefix('body.')}: {double or single}")
        message = "; ".join(parts)
    return " ".join(message.split())[:limit]
