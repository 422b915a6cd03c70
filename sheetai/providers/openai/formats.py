"""Which structured-output mode a server takes, and what each mode sends.

- ``json_schema``: OpenAI's strict structured outputs (the default; vLLM, llama.cpp's server).
- ``json_object``: JSON mode, with the schema beside it (``schema``, which llama.cpp's servers
  use as a grammar) and described in the system message for servers that ignore it.
- ``text``: no ``response_format`` at all; the system message asks for the JSON and describes
  the schema. Answers are validated and re-asked exactly as in the other modes.

A server that does not take a mode says so in an error (llama-cpp-python answers 500 with its
request validation error); :func:`refuses_format` reads that, and the mode that worked is kept
per (base URL, model) in :class:`ModeStore` under ``SHEETAI_HOME``, so later runs start with it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

from ...sqlite import open_store
from ..llm.schema import AnswerSpec

__all__ = [
    "MODES",
    "ModeStore",
    "next_mode",
    "refuses_format",
    "names_bad_parameter",
    "response_format",
    "with_instructions",
    "SCHEMA_LINE",
]

MODES = ("json_schema", "json_object", "text")
#: Starts the line of the system message that holds the schema in ``json_object`` and ``text``.
SCHEMA_LINE = "JSON schema of the answer: "

_FORMAT = re.compile(r"response_format|json_schema|json_object", re.IGNORECASE)
_CHOICE = re.compile(
    r"must be one of|should be|not supported|unsupported|invalid|illegal|unknown|"
    r"not allowed|literal_error|extra_forbidden|expected",
    re.IGNORECASE,
)
# The wording of servers that reject a request for what it asks, not for how busy they are:
# sending it again gets the same answer.
_BAD_PARAMETER = re.compile(
    r"validation error|illegal param|invalid (?:param|value|argument|request|type)|"
    r"must be one of|input should be|unrecognized (?:request )?(?:argument|param)|"
    r"not supported|unsupported (?:param|value)|extra inputs are not permitted|"
    r"literal_error|is not allowed|missing required",
    re.IGNORECASE,
)


def refuses_format(status: int, message: str) -> bool:
    """Whether an error says the server does not take the ``response_format`` sent.

    >>> refuses_format(500, "1 validation error: {'loc': ('body', 'response_format', 'type'), "
    ...     "'msg': \\"Input should be 'text' or 'json_object'\\", 'input': 'json_schema'}")
    True
    >>> refuses_format(400, 'response_format type must be one of "text" or "json_object"')
    True
    >>> refuses_format(500, "The server had an error while processing your request.")
    False
    >>> refuses_format(400, "JSON schema error at #: unrecognized type nonsense")
    False
    """
    if status < 400 or status in (401, 403, 404, 408, 409, 429):
        return False
    return bool(_FORMAT.search(message)) and bool(_CHOICE.search(message))


def names_bad_parameter(message: str) -> bool:
    """Whether a 5xx error names a bad request, which no retry can fix.

    >>> names_bad_parameter("Illegal param: \\"n_probs\\" must be a positive number")
    True
    >>> names_bad_parameter("The server had an error while processing your request.")
    False
    """
    return bool(_BAD_PARAMETER.search(message))


def next_mode(mode: str) -> str | None:
    """The mode to try once ``mode`` is refused, None after the last.

    >>> next_mode("json_schema"), next_mode("json_object"), next_mode("text")
    ('json_object', 'text', None)
    """
    at = MODES.index(mode)
    return MODES[at + 1] if at + 1 < len(MODES) else None


def response_format(spec: AnswerSpec, mode: str) -> dict[str, Any] | None:
    """The ``response_format`` of a request in ``mode`` (None: send none)."""
    if mode == "json_schema":
        return spec.response_format()
    if mode == "json_object":
        return {"type": "json_object", "schema": spec.json_schema()}
    return None


def with_instructions(
    messages: list[dict[str, Any]], spec: AnswerSpec, mode: str
) -> list[dict[str, Any]]:
    """``messages`` with the schema spelled out in the system message, outside ``json_schema``
    (where the server holds the model to the schema itself)."""
    if mode == "json_schema" or not messages or messages[0].get("role") != "system":
        return messages
    schema = json.dumps(spec.json_schema(), separators=(",", ":"), ensure_ascii=False)
    extra = (
        "\n\nAnswer with one JSON object and nothing else (no prose, no code fence). Every "
        "key of the schema is required; use null where it allows null.\n" + SCHEMA_LINE + schema
    )
    first = {**messages[0], "content": str(messages[0].get("content") or "") + extra}
    return [first, *messages[1:]]


class ModeStore:
    """The response mode that worked, per (base URL, model), in ``<home>/servers.sqlite3``."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_store(
            path,
            [
                "CREATE TABLE IF NOT EXISTS response_modes (base_url TEXT NOT NULL, model TEXT "
                "NOT NULL, mode TEXT NOT NULL, updated REAL NOT NULL, "
                "PRIMARY KEY (base_url, model))"
            ],
        )

    @classmethod
    def in_home(cls, home: Path) -> ModeStore:
        return cls(Path(home) / "servers.sqlite3")

    def get(self, base_url: str, model: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT mode FROM response_modes WHERE base_url = ? AND model = ?",
                (base_url, model),
            ).fetchone()
        return row[0] if row and row[0] in MODES else None

    def put(self, base_url: str, model: str, mode: str) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO response_modes VALUES (?, ?, ?, ?)",
                (base_url, model, mode, time.time()),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
