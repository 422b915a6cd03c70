"""The fake Claude's behaviour: options, injected faults, counters and what each message gets.

Every answer is a :class:`~devservers.openai.Reply` (status, JSON body, headers, delay); the HTTP
layer (:mod:`.app`) only sends it. Options are public attributes that may change while it runs.

Per-request fault markers, matched in the first user message: ``__FAULT_500__`` (500
``api_error``), ``__FAULT_529__`` (529 ``overloaded_error``), ``__FAULT_BADJSON__`` (the first
answer is not valid JSON, or a tool input that breaks the schema; a re-ask is answered well),
``__FAULT_ALWAYSBAD__`` (every answer breaks the schema), ``__FAULT_REFUSAL__`` (``stop_reason``
``refusal``) and ``__FAULT_CUTOFF__`` (the answer stops at ``max_tokens``).
:meth:`FakeClaudeModel.fail_next` answers the next requests with 429 (with ``retry-after``), 529
or 500 whatever they hold.

Usage counts tokens as text / 4. A system block marked ``cache_control`` is written to the cache
the first time its text is seen (``cache_creation_input_tokens``) and read from it afterwards
(``cache_read_input_tokens``); ``input_tokens`` is the rest, as Anthropic reports it.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import Counter, deque
from typing import Any

from devservers.openai import Reply, fill_schema

from .limits import Limits, Window

__all__ = ["FakeClaudeModel", "MARKERS", "anthropic_error", "tokens"]

MARKERS = (
    "__FAULT_500__",
    "__FAULT_529__",
    "__FAULT_BADJSON__",
    "__FAULT_ALWAYSBAD__",
    "__FAULT_REFUSAL__",
    "__FAULT_CUTOFF__",
)
_ERRORS = {
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}
# What anthropic.transform_schema moves into a description: "{minimum: 1, maximum: 5}".
_BOUNDS = re.compile(r"\{((?:\w+: [-\d.]+(?:, )?)+)\}")


def tokens(text: str) -> int:
    return (len(text) + 3) // 4


def anthropic_error(status: int, message: str = "", **kw: Any) -> Reply:
    """Anthropic's error body: ``{"type": "error", "error": {"type", "message"}}``."""
    kind, default = _ERRORS.get(status, ("invalid_request_error", "invalid request"))
    body = {"type": "error", "error": {"type": kind, "message": message or default}}
    return Reply(status, body, **kw)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else []
    return "".join(
        str(p.get("text") or json.dumps(p.get("input") or "")) for p in parts if isinstance(p, dict)
    )


def _with_bounds(schema: Any) -> Any:
    """The schema with the bounds a description carries put back, so answers respect them."""
    if isinstance(schema, list):
        return [_with_bounds(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _with_bounds(v) for k, v in schema.items()}
    found = _BOUNDS.search(str(schema.get("description") or ""))
    if found:
        for pair in found.group(1).split(", "):
            key, _, value = pair.partition(": ")
            out[key] = float(value) if "." in value else int(value)
    return out


class FakeClaudeModel:
    """Options, fault schedule and counters of a fake Anthropic API.

    Args:
        rpm, input_tpm, output_tpm: per-minute limits (None: unlimited, no header).
        window_s: the rate-limit window; tests compress it.
        latency_ms: added to every admitted message request.
        batch_delay_s: seconds from a batch's creation until it ends (0: at the first poll).
        api_key: when set, requests must carry it in ``x-api-key`` (401 otherwise).
        expire_markers: user texts holding one of these make a batch line ``expired``.
    """

    def __init__(
        self,
        *,
        rpm: int | None = None,
        input_tpm: int | None = None,
        output_tpm: int | None = None,
        window_s: float = 60.0,
        latency_ms: float = 0.0,
        batch_delay_s: float = 0.0,
        api_key: str | None = None,
    ) -> None:
        self.limits = Limits(rpm, input_tpm, output_tpm)
        self.latency_ms, self.batch_delay_s, self.api_key = latency_ms, batch_delay_s, api_key
        self._window = Window(window_s)
        self._forced: deque[tuple[int, float]] = deque()
        self._cached: set[str] = set()
        self._lock = threading.Lock()
        self.reset_counters()

    def reset_counters(self) -> None:
        """Zero every counter and forget recorded bodies."""
        with self._lock:
            self.by_path: Counter[str] = Counter()
            self.by_status: Counter[int] = Counter()
            self.bodies: list[dict] = []
            self.usages: list[dict] = []  # usage of every message answered 200 (batch lines too)
            self.rate_limited = 0

    def stats(self) -> dict[str, Any]:
        """The counters, as plain data (also at ``GET /_fake/stats``)."""
        with self._lock:
            return {
                "requests_by_path": dict(self.by_path),
                "responses_by_status": {str(k): v for k, v in self.by_status.items()},
                "rate_limited": self.rate_limited,
                "output_tokens": sum(u["output_tokens"] for u in self.usages),
                "answered": len(self.usages),
            }

    def count(self, path: str, status: int) -> None:
        with self._lock:
            self.by_path[path] += 1
            self.by_status[status] += 1
            self.rate_limited += status == 429

    def fail_next(self, n: int = 1, status: int = 429, retry_after_s: float = 1.0) -> None:
        """Answer the next ``n`` message requests with ``status`` (429 carries ``retry-after``)."""
        self._forced.extend([(status, retry_after_s)] * n)

    # -- messages

    def message(self, body: dict) -> Reply:
        """The reply to ``POST /v1/messages`` (called on the server's loop)."""
        with self._lock:
            self.bodies.append(body)
        now = time.monotonic()
        forced = self._forced.popleft() if self._forced else None
        if forced is not None:
            headers = self._window.headers(self.limits, now)
            if forced[0] == 429:
                headers["retry-after"] = f"{forced[1]:g}"
            return anthropic_error(forced[0], headers=headers)
        prompt = _text(body.get("system")) + "".join(
            _text(m.get("content")) for m in body["messages"]
        )
        verdict = self._window.admit(self.limits, tokens(prompt), int(body["max_tokens"]), now)
        headers = self._window.headers(self.limits, now)
        if isinstance(verdict, tuple):
            kind, wait = verdict
            headers["retry-after"] = str(max(1, round(wait)))
            return anthropic_error(
                429, f"This request would exceed your {kind} rate limit", headers=headers
            )
        first = _text(body["messages"][0].get("content"))
        markers = {m for m in MARKERS if m in first} if "__FAULT_" in first else set()
        delay = self.latency_ms / 1000
        for marker, status in (("__FAULT_500__", 500), ("__FAULT_529__", 529)):
            if marker in markers:
                return anthropic_error(status, headers=headers, delay_s=delay)
        message = self.complete(body, markers)
        verdict[2] = message["usage"]["output_tokens"]  # settled to what was written
        return Reply(200, message, headers, delay_s=delay)

    def complete(self, body: dict, markers: set[str]) -> dict:
        """The ``message`` object answering ``body``."""
        tool = body.get("tools", [None])[0] if body.get("tools") else None
        fmt = (body.get("output_config") or {}).get("format") or {}
        schema = _with_bounds(tool["input_schema"] if tool else fmt.get("schema") or {})
        first = _text(body["messages"][0].get("content"))
        answer: Any = fill_schema(schema, first) if schema else f"An answer to: {first[:80]}"
        stop = "tool_use" if tool else "end_turn"
        reasked = len(body["messages"]) > 1
        if "__FAULT_ALWAYSBAD__" in markers or ("__FAULT_BADJSON__" in markers and not reasked):
            answer = {"unexpected": "not the schema"} if tool else '{"label": "Posi'
        if "__FAULT_REFUSAL__" in markers:
            answer, stop, tool = "I can't help with that.", "refusal", None
        text = answer if isinstance(answer, str) else json.dumps(answer, separators=(",", ":"))
        if "__FAULT_CUTOFF__" in markers or tokens(text) > body["max_tokens"]:
            text, stop, tool = (
                text[: min(len(text) // 2, body["max_tokens"] * 4)],
                "max_tokens",
                None,
            )
        if tool is not None:
            block = {
                "type": "tool_use",
                "id": f"toolu_{uuid.uuid4().hex[:20]}",
                "name": tool["name"],
                "input": answer,
            }
        else:
            block = {"type": "text", "text": text}
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [block],
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": self._usage(body, tokens(text)),
        }

    def _usage(self, body: dict, output_tokens: int) -> dict:
        system = body.get("system")
        blocks = system if isinstance(system, list) else []
        marked = "".join(b.get("text", "") for b in blocks if b.get("cache_control"))
        rest = system if isinstance(system, str) else ""
        rest += "".join(b.get("text", "") for b in blocks if not b.get("cache_control"))
        rest += "".join(_text(m.get("content")) for m in body["messages"])
        created = read = 0
        if marked:
            with self._lock:
                if marked in self._cached:
                    read = tokens(marked)
                else:
                    self._cached.add(marked)
                    created = tokens(marked)
        usage = {
            "input_tokens": tokens(rest),
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": created,
            "cache_read_input_tokens": read,
            "service_tier": "standard",
        }
        with self._lock:
            self.usages.append(usage)
        return usage
