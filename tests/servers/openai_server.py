"""A local OpenAI-compatible server that the real ``openai`` SDK talks to over HTTP.

``FakeOpenAI`` serves chat completions (plain text, strict JSON-schema structured output,
logprobs), rate limits with OpenAI's headers, injected faults, Files, Batches and Models on
``127.0.0.1`` from a background thread. ``python -m tests.servers.openai_server`` runs the same
app as its own process for benchmarks; ``start_subprocess`` starts one and waits until it answers.

Per-request fault markers, matched in the text of the user messages:
``__FAULT_500__``, ``__FAULT_429__``, ``__FAULT_BADJSON__`` (truncated JSON),
``__FAULT_BADSCHEMA__`` (valid JSON that breaks the schema), ``__FAULT_HANG__``,
``__FAULT_BADPARAM__`` (a 500 whose body names a bad parameter, as llama-cpp-python sends).
In a batch input file, a line whose user text holds ``__FAULT_500__`` goes to the error file.
``fail_batches(n, status, after)`` answers ``POST .../batches`` with ``status`` ``n`` times,
once ``after`` more batches have been created.

Azure OpenAI, for ``AzureOpenAI(azure_endpoint=server.root_url, ...)``: chat at
``POST /openai/deployments/{deployment}/chat/completions`` (the deployment is the model, whatever
the body says) and Files and Batches under ``/openai/``. As on Azure, these need the
``api-version`` query parameter (else 404 "Resource not found") and an ``api-key`` header (else
401; it must equal ``api_key`` when that is set); ``api_versions`` counts the versions seen.
Azure batches name their endpoint ``/chat/completions``; ``/v1/chat/completions`` is accepted too.

Rate limits use a 60 s sliding window. A request costs ``prompt_tokens`` (all message text / 4)
plus ``max_completion_tokens`` or ``max_tokens`` when the request sets one, else the
``completion_tokens`` of the answer it gets. Rejected requests are not counted. Chat responses
(200, 429 and 500 alike) carry OpenAI's ``x-ratelimit-*`` headers; ``reset-*`` is reported as
OpenAI's token bucket would (used / limit x 60 s), while a 429's ``retry-after`` /
``retry-after-ms`` is the exact wait until the window admits the request. ``rate_headers``
trims them to what other servers send: ``"remaining"`` keeps only ``x-ratelimit-remaining-*``
(Azure OpenAI), ``"none"`` drops them all (vLLM, Ollama); a 429 still carries ``retry-after``.

Servers that take fewer structured-output modes: ``response_formats=("text", "json_object")``
answers a ``json_schema`` request as llama-cpp-python's server does (500, its request validation
error as the message); ``("text",)`` refuses ``json_object`` too. A ``json_object`` request
with a ``schema`` (llama.cpp's extension), or any request whose system message gives a JSON
schema on a line (``...schema...: {...}``), gets JSON that fills the schema.

``GET /_fake/stats``, ``POST /_fake/reset`` and ``POST /_fake/config`` (``{"fault_rate": 0.1}``,
``{"fail_next": [3, 429, 0.5]}``, ``{"fail_batches": [1, 500, 1]}``) control a server running as
a subprocess; they are not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import random
import re
import select
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

__all__ = [
    "FakeOpenAI",
    "MARKERS",
    "default_answer",
    "fill_schema",
    "format_duration",
    "start_subprocess",
]

AnswerFn = Callable[[dict], "dict | str"]
MARKERS = (
    "__FAULT_500__",
    "__FAULT_429__",
    "__FAULT_BADJSON__",
    "__FAULT_BADSCHEMA__",
    "__FAULT_HANG__",
    "__FAULT_NOCREDIT__",
    "__FAULT_BADPARAM__",
)
FORMATS = ("text", "json_object", "json_schema")
_SCHEMA_IN_PROMPT = re.compile(r"schema[^:\n]*:\s*(\{.*\})\s*$", re.IGNORECASE | re.MULTILINE)
WINDOW_S = 60.0
UNLIMITED = 1_000_000_000  # the limit reported in headers when none is configured
MAX_BATCH_LINES = 50_000
# The batch ``endpoint`` values each API accepts, by path prefix (OpenAI /v1, Azure /openai).
BATCH_ENDPOINTS = {
    "/v1": ("/v1/chat/completions",),
    "/openai": ("/chat/completions", "/v1/chat/completions"),
}
MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-5-mini")
FOUND_P, GUESSED_P = 0.95, 0.6  # probability of an enum label found in / guessed from the text
_TOKEN_RE = re.compile(r" ?[A-Za-z]+| ?\d{1,3}|\s+|[^\w\s]+|.", re.S)


# -- pure helpers --------------------------------------------------------------------------


def format_duration(seconds: float) -> str:
    """Format a duration the way OpenAI's ``x-ratelimit-reset-*`` headers do.

    >>> [format_duration(s) for s in (0, 0.017, 1, 8.64, 60, 86.4, 360, 3725)]
    ['0s', '17ms', '1s', '8.64s', '1m0s', '1m26.4s', '6m0s', '1h2m5s']
    """
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{round(secs, 3):g}s"
    if hours >= 1:
        return f"{int(hours)}h{int(minutes)}m{text}"
    return f"{int(minutes)}m{text}" if minutes >= 1 else text


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _user_texts(body: dict) -> list[str]:
    return [_text(m.get("content")) for m in body.get("messages", []) if m.get("role") == "user"]


def _tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _stable(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _resolve(schema: dict, root: dict) -> dict:
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part] if part else node
        schema = node
    return schema


def _pick_enum(options: list, text: str) -> tuple[Any, bool]:
    """The option mentioned most often in ``text`` (ties: mentioned last), else a stable guess.

    >>> _pick_enum(["positive", "negative"], "Labels: positive, negative. Review: so negative")
    ('negative', True)
    """
    lower = text.lower()
    scored = []
    for option in options:
        hits = [m.start() for m in re.finditer(rf"\b{re.escape(str(option).lower())}\b", lower)]
        if hits:
            scored.append((len(hits), hits[-1], option))
    if scored:
        return max(scored, key=lambda s: (s[0], s[1]))[2], True
    return options[_stable(text) % len(options)], False


def fill_schema(schema: dict, text: str, root: dict | None = None, name: str = "") -> Any:
    """A deterministic value valid against a (strict) JSON schema, inspired by ``text``.

    >>> fill_schema({"type": "object", "properties": {"label": {"enum": ["spam", "ham"]},
    ...     "confidence": {"type": "number"}}}, "win money, spam!")["label"]
    'spam'
    """
    root = schema if root is None else root
    schema = _resolve(schema, root)
    seed = _stable(f"{name}|{text}")
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return _pick_enum(schema["enum"], text)[0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [_resolve(b, root) for b in schema[key]]
            real = [b for b in branches if b.get("type") != "null"] or branches
            return fill_schema(real[0], text, root, name)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {key: fill_schema(sub, text, root, key) for key, sub in props.items()}
    if kind == "array":
        count = max(schema.get("minItems", 1), 1)
        count = min(count, schema.get("maxItems", count))
        return [fill_schema(schema.get("items", {}), text, root, name) for _ in range(count)]
    if kind in ("number", "integer"):
        return _fill_number(schema, kind, name, seed)
    if kind == "boolean":
        return seed % 2 == 0
    if kind == "null":
        return None
    return _fill_string(schema, name, text)


def _fill_number(schema: dict, kind: str, name: str, seed: int) -> float | int:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if "confidence" in name.lower() or "probability" in name.lower():
        low, high = max(low if low is not None else 0, 0), min(high if high is not None else 1, 1)
    low = 0 if low is None else low
    high = low + 100 if high is None else high
    if kind == "integer":
        lo, hi = (
            math.floor(low) + ("exclusiveMinimum" in schema),
            math.ceil(high) - ("exclusiveMaximum" in schema),
        )
        return lo + seed % max(hi - lo + 1, 1) if hi >= lo else lo
    fraction = 0.7 + (seed % 29) / 100  # 0.70 .. 0.98, never on an exclusive bound
    return round(low + (high - low) * fraction, 2)


def _fill_string(schema: dict, name: str, text: str) -> str:
    formats = {"date": "2024-01-15", "date-time": "2024-01-15T09:30:00Z", "email": "a@example.com"}
    if schema.get("format") in formats:
        return formats[schema["format"]]
    if schema.get("format") in ("uri", "url"):
        return "https://example.com/"
    snippet = " ".join(text.split()[:12])
    value = f"{name or 'value'} based on: {snippet}" if snippet else (name or "value")
    value = value[: schema.get("maxLength", len(value))]
    return value.ljust(schema.get("minLength", 0), ".")


def default_answer(body: dict) -> dict | str:
    """The answer used unless a server's ``answer`` is replaced: schema-filled or plain text."""
    texts = _user_texts(body)
    last = texts[-1] if texts else ""
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return fill_schema(fmt.get("json_schema", {}).get("schema", {}), last)
    schema = fmt.get("schema") if fmt.get("type") == "json_object" else None
    schema = schema if isinstance(schema, dict) else _prompt_schema(body)
    if schema is not None:
        return fill_schema(schema, last)
    if fmt.get("type") == "json_object":
        return {"answer": " ".join(last.split()[:12])}
    return f"This is a test answer to: {' '.join(last.split()[:20])}"


def _prompt_schema(body: dict) -> dict | None:
    """A JSON schema given on a line of the system message, as a model would read it."""
    system = [_text(m.get("content")) for m in body.get("messages", [])]
    system = [
        t
        for m, t in zip(body.get("messages", []), system, strict=True)
        if m.get("role") == "system"
    ]
    for text in system:
        for match in _SCHEMA_IN_PROMPT.finditer(text):
            try:
                schema = json.loads(match.group(1))
            except ValueError:
                continue
            if isinstance(schema, dict):
                return schema
    return None


def llama_cpp_python_error(loc: tuple, kind: str, msg: str, given: Any, path: str) -> dict:
    """The body llama-cpp-python's server sends for a request its pydantic model rejects.

    Its route handler catches FastAPI's ``RequestValidationError`` like any exception and
    answers 500 with ``str(error)`` as the message.
    """
    detail = {"type": kind, "loc": ("body", *loc), "msg": msg, "input": given}
    if kind == "literal_error":
        detail["ctx"] = {"expected": msg.removeprefix("Input should be ")}
    message = f"1 validation error:\n  {detail!r}\n\n  Endpoint: POST {path}"
    return {
        "error": {"message": message, "type": "internal_server_error", "param": None, "code": None}
    }


def _enum_fields(schema: dict, value: Any, root: dict) -> list[tuple[Any, list]]:
    """The (chosen value, options) of every enum field in ``value``, in document order."""
    schema = _resolve(schema, root)
    if "enum" in schema:
        return [(value, schema["enum"])] if value in schema["enum"] else []
    for key in ("anyOf", "oneOf"):
        for branch in schema.get(key, []):
            found = _enum_fields(branch, value, root)
            if found:
                return found
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return [f for k, v in value.items() if k in props for f in _enum_fields(props[k], v, root)]
    if isinstance(value, list) and "items" in schema:
        return [f for v in value for f in _enum_fields(schema["items"], v, root)]
    return []


def _entry(token: str, logprob: float, top: list[tuple[str, float]]) -> dict:
    top_entries = [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in top]
    return {
        "token": token,
        "logprob": logprob,
        "bytes": list(token.encode()),
        "top_logprobs": top_entries,
    }


def _filler_alternatives(token: str, k: int) -> list[tuple[str, float]]:
    others = [t for t in ('"', " ", "\n", ",", "the", ":", "}") if t != token]
    return [(token, -0.0001)] + [(t, -8.0 - i) for i, t in enumerate(others[: max(k - 1, 0)])]


def build_logprobs(content: str, enums: list[tuple[Any, list]], text: str, k: int) -> list[dict]:
    """Token entries covering ``content``; an enum value's first token carries the label's odds."""
    spans: list[tuple[int, int, Any, list]] = []
    cursor = 0
    for value, options in enums:
        needle = json.dumps(value)
        at = content.find(needle, cursor)
        if isinstance(value, str) and at >= 0:
            spans.append((at + 1, at + len(needle) - 1, value, options))
            cursor = at + len(needle)
    entries: list[dict] = []
    start = 0
    for begin, end, value, options in spans + [(len(content), len(content), None, [])]:
        for token in _TOKEN_RE.findall(content[start:begin]):
            entries.append(_entry(token, -0.0001, _filler_alternatives(token, k)))
        if value is not None:
            entries.extend(_label_entries(content[begin:end], value, options, text, k))
        start = end
    return entries


def _label_entries(label: str, value: Any, options: list, text: str, k: int) -> list[dict]:
    tokens = _TOKEN_RE.findall(label) or [label]
    found = _pick_enum(options, text)[1] if text else False
    p = FOUND_P if found else GUESSED_P
    rest = [str(o) for o in options if o != value]
    firsts = []
    for option in rest:
        first = (_TOKEN_RE.findall(option) or [option])[0]
        if first != tokens[0] and first not in firsts:
            firsts.append(first)
    shares = [(1 - p) * 0.5 ** (i + 1) for i in range(len(firsts))]
    top = [(tokens[0], math.log(p))] + [
        (t, math.log(s)) for t, s in zip(firsts, shares, strict=True)
    ]
    top += _filler_alternatives(tokens[0], k)[1:]
    entries = [_entry(tokens[0], math.log(p), top[:k])]
    entries += [_entry(t, -0.0001, _filler_alternatives(t, k)) for t in tokens[1:]]
    return entries


def _error(status: int, message: str, kind: str, code: str | None = None, headers=None) -> Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


# -- rate limiting -------------------------------------------------------------------------


class SlidingWindow:
    """Requests and tokens admitted in the last 60 s; touched only on the server's loop."""

    def __init__(self) -> None:
        self.events: deque[tuple[float, int]] = deque()
        self.tokens = 0

    def _expire(self, now: float) -> None:
        while self.events and self.events[0][0] <= now - WINDOW_S:
            self.tokens -= self.events.popleft()[1]

    def admit(self, cost: int, rpm: int | None, tpm: int | None, now: float):
        """Record the request and return None, or return ``(kind, wait_s, used, limit)``."""
        self._expire(now)
        if rpm is not None and len(self.events) >= rpm:
            wait = self.events[-rpm][0] + WINDOW_S - now if rpm else WINDOW_S
            return "requests", wait, len(self.events), rpm
        if tpm is not None and self.tokens + cost > tpm:
            wait, freed = WINDOW_S, 0
            for stamp, tokens in self.events:
                freed += tokens
                if self.tokens - freed + cost <= tpm:
                    wait = stamp + WINDOW_S - now
                    break
            return "tokens", wait, self.tokens, tpm
        self.events.append((now, cost))
        self.tokens += cost
        return None

    def headers(self, rpm: int | None, tpm: int | None, now: float) -> dict[str, str]:
        """OpenAI's headers; resets are reported as a token bucket would (used/limit x 60 s)."""
        self._expire(now)
        rpm, tpm = rpm or UNLIMITED, tpm or UNLIMITED
        used_r, used_t = len(self.events), self.tokens
        return {
            "x-ratelimit-limit-requests": str(rpm),
            "x-ratelimit-limit-tokens": str(tpm),
            "x-ratelimit-remaining-requests": str(max(rpm - used_r, 0)),
            "x-ratelimit-remaining-tokens": str(max(tpm - used_t, 0)),
            "x-ratelimit-reset-requests": format_duration(min(used_r / rpm, 1) * WINDOW_S),
            "x-ratelimit-reset-tokens": format_duration(min(used_t / tpm, 1) * WINDOW_S),
        }


# -- the server ----------------------------------------------------------------------------


class FakeOpenAI:
    """An OpenAI-compatible ASGI app served by uvicorn on 127.0.0.1 in a background thread.

    Every option is also a public attribute that may be changed while the server runs.

    Args:
        rpm: requests per minute (60 s sliding window); None means unlimited.
        tpm: tokens per minute, counted as described in the module docstring.
        latency_ms: added to every admitted chat request, plus ``uniform(0, jitter_ms)``.
        fault_rate: fraction of admitted chat requests answered with a 500.
        bad_json_rate: fraction of JSON answers truncated so that they do not parse.
        bad_schema_rate: fraction of JSON answers replaced by JSON that breaks the schema.
        hang_rate: fraction of chat requests that sleep ``hang_seconds`` before answering.
        batch_delay_s: seconds from batch creation to completion (0: done at the first poll).
        batch_fail_rate: fraction of batch lines that go to the error file.
        seed: seeds the RNG behind every ``*_rate`` and the jitter.
        answer: ``answer(request_body) -> dict | str``; a dict is sent as compact JSON.
        api_key: when set, requests must carry ``Authorization: Bearer <api_key>``.
        record_bodies: keep every chat request body in ``chat_bodies``.
        rate_headers: ``"all"``, ``"remaining"`` or ``"none"`` (see the module docstring).
        response_formats: the ``response_format`` types taken; others are refused (500) with
            llama-cpp-python's body (see the module docstring).
        batch_api: False answers Files and Batches with 404, as vLLM, Ollama and llama.cpp do.
        slots: serve llama.cpp's ``GET /props`` with this ``total_slots`` (None: 404).
        port: 0 picks a free port.
    """

    def __init__(
        self,
        *,
        rpm: int | None = None,
        tpm: int | None = None,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        fault_rate: float = 0.0,
        bad_json_rate: float = 0.0,
        bad_schema_rate: float = 0.0,
        hang_rate: float = 0.0,
        hang_seconds: float = 30.0,
        marker_retry_after_s: float = 1.0,
        batch_delay_s: float = 0.0,
        batch_fail_rate: float = 0.0,
        seed: int = 0,
        answer: AnswerFn = default_answer,
        api_key: str | None = None,
        record_bodies: bool = True,
        port: int = 0,
        rate_headers: str = "all",
        response_formats: tuple[str, ...] = FORMATS,
        batch_api: bool = True,
        slots: int | None = None,
    ) -> None:
        self.rpm, self.tpm = rpm, tpm
        self.latency_ms, self.jitter_ms = latency_ms, jitter_ms
        self.fault_rate, self.hang_rate, self.hang_seconds = fault_rate, hang_rate, hang_seconds
        self.bad_json_rate, self.bad_schema_rate = bad_json_rate, bad_schema_rate
        self.marker_retry_after_s = marker_retry_after_s
        self.batch_delay_s, self.batch_fail_rate = batch_delay_s, batch_fail_rate
        self.answer, self.api_key, self.record_bodies = answer, api_key, record_bodies
        self.port = port
        self.rate_headers = rate_headers
        self.response_formats = tuple(response_formats)
        self.batch_api, self.slots = batch_api, slots
        self.rng = random.Random(seed)
        self._forced: deque[tuple[int, float]] = deque()
        self._batch_faults: deque[int] = deque()  # per POST .../batches: 0 creates, else status
        self._window = SlidingWindow()
        self._lock = threading.Lock()
        self._files: dict[str, dict] = {}
        self._file_data: dict[str, bytes] = {}
        self._batches: dict[str, dict] = {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.reset_counters()
        self.app = Starlette(routes=self._routes(), exception_handlers={404: self._not_found})

    # -- lifecycle

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, for ``OpenAI(base_url=...)``."""
        if not self.port:
            raise RuntimeError("FakeOpenAI is not started")
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``, for ``AzureOpenAI(azure_endpoint=...)``."""
        return self.base_url.removesuffix("/v1")

    def _bind(self) -> socket.socket:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only then (else +40 ms per response).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(2048)
        self.port = sock.getsockname()[1]
        return sock

    def _uvicorn(self) -> uvicorn.Server:
        config = uvicorn.Config(
            self, log_level="warning", access_log=False, lifespan="off", ws="none",
            http="h11", loop="asyncio", timeout_graceful_shutdown=2, timeout_keep_alive=60,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        return self._server

    def start(self) -> FakeOpenAI:
        """Serve in a daemon thread; return once the server accepts connections."""
        sock = self._bind()
        server = self._uvicorn()
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="FakeOpenAI", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("FakeOpenAI did not start")
            time.sleep(0.005)
        self._sock = sock
        return self

    def stop(self) -> None:
        """Stop serving; hanging requests are cut short."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self._server, self._thread, self._sock = None, None, None

    # -- counters and fault controls (thread-safe)

    def reset_counters(self) -> None:
        """Zero every counter and forget recorded bodies."""
        with self._lock:
            self.requests_total = 0
            self._by_path: Counter[str] = Counter()
            self._by_status: Counter[int] = Counter()
            self.rate_limited = 0
            self._bodies: list[dict] = []
            self._api_versions: Counter[str] = Counter()
            self.in_flight = self.max_in_flight = 0

    @property
    def requests_by_path(self) -> dict[str, int]:
        with self._lock:
            return dict(self._by_path)

    @property
    def responses_by_status(self) -> dict[int, int]:
        with self._lock:
            return dict(self._by_status)

    @property
    def api_versions(self) -> dict[str, int]:
        """How many Azure (``/openai/...``) requests carried each ``api-version``."""
        with self._lock:
            return dict(self._api_versions)

    @property
    def chat_bodies(self) -> list[dict]:
        """The chat request bodies received, in arrival order (a copy)."""
        with self._lock:
            return list(self._bodies)

    def stats(self) -> dict[str, Any]:
        """All counters as plain data, also at ``GET /_fake/stats`` (``/_fake/`` is not counted)."""
        with self._lock:
            return {
                "requests_total": self.requests_total,
                "requests_by_path": dict(self._by_path),
                "responses_by_status": {str(k): v for k, v in self._by_status.items()},
                "rate_limited": self.rate_limited,
                "chat_bodies": len(self._bodies),
                "api_versions": dict(self._api_versions),
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "cpu_seconds": time.process_time(),
            }

    def fail_next(self, n: int = 1, status: int = 429, retry_after_s: float = 1.0) -> None:
        """Answer the next ``n`` chat requests with ``status`` (429 carries ``retry_after_s``)."""
        self._forced.extend([(status, retry_after_s)] * n)

    def fail_batches(self, n: int = 1, status: int = 500, after: int = 0) -> None:
        """Answer ``POST .../batches`` with ``status`` ``n`` times, after ``after`` more succeed."""
        self._batch_faults.extend([0] * after + [status] * n)

    # -- ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_fake/"):
            return await self.app(scope, receive, send)
        with self._lock:
            self.requests_total += 1
            self._by_path[scope["path"]] += 1

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                with self._lock:
                    self._by_status[message["status"]] += 1
                    self.rate_limited += message["status"] == 429
            await send(message)

        if scope["path"].startswith("/v1/") and not self._authorized(scope):
            response = _error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
            return await response(scope, receive, counting_send)
        if not self.batch_api and scope["path"].startswith(("/v1/files", "/v1/batches")):
            return await self._not_found_app(scope, receive, counting_send)
        refused = self._azure_refusal(scope) if scope["path"].startswith("/openai/") else None
        if refused is not None:
            return await refused(scope, receive, counting_send)
        await self.app(scope, receive, counting_send)

    def _authorized(self, scope: Scope) -> bool:
        auth = next((v for k, v in scope["headers"] if k == b"authorization"), b"").decode()
        return auth.startswith("Bearer ") and self.api_key in (None, auth[7:])

    def _azure_refusal(self, scope: Scope) -> Response | None:
        """Azure's answer to a request without a valid ``api-key`` or an ``api-version``."""
        key = next((v for k, v in scope["headers"] if k == b"api-key"), b"").decode()
        if not key or self.api_key not in (None, key):
            return _error(
                401,
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure "
                "to provide a valid key for an active subscription and use a correct regional "
                "API endpoint for your resource.",
                "invalid_request_error",
                "401",
            )
        version = parse_qs(scope["query_string"].decode()).get("api-version", [""])[0]
        if not version:
            return _error(404, "Resource not found", "invalid_request_error", "404")
        with self._lock:
            self._api_versions[version] += 1
        return None

    def _routes(self) -> list[Route]:
        shared = [  # OpenAI's under /v1, Azure's under /openai
            ("/files", self._upload_file, "POST"),
            ("/files", self._list_files, "GET"),
            ("/files/{file_id}", self._get_file, "GET"),
            ("/files/{file_id}", self._delete_file, "DELETE"),
            ("/files/{file_id}/content", self._file_content, "GET"),
            ("/batches", self._create_batch, "POST"),
            ("/batches", self._list_batches, "GET"),
            ("/batches/{batch_id}", self._get_batch, "GET"),
            ("/batches/{batch_id}/cancel", self._cancel_batch, "POST"),
        ]
        return [
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route(
                "/openai/deployments/{deployment}/chat/completions", self._chat, methods=["POST"]
            ),
            Route("/v1/models", self._list_models, methods=["GET"]),
            Route("/props", self._props, methods=["GET"]),
            Route("/v1/models/{model}", self._get_model, methods=["GET"]),
            *[Route(p + path, fn, methods=[m]) for p in BATCH_ENDPOINTS for path, fn, m in shared],
            Route("/_fake/stats", self._stats, methods=["GET"]),
            Route("/_fake/reset", self._reset, methods=["POST"]),
            Route("/_fake/config", self._config, methods=["POST"]),
        ]

    async def _not_found_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = _error(
            404, f"Unknown request URL: {scope['path']}.", "invalid_request_error", "unknown_url"
        )
        await response(scope, receive, send)

    async def _props(self, request: Request) -> Response:
        """llama.cpp's server properties; only ``total_slots`` is served."""
        if self.slots is None:
            return await self._not_found(request, Exception())
        return JSONResponse({"total_slots": self.slots, "model_path": "fake.gguf"})

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        return _error(
            404,
            f"Unknown request URL: {request.method} {request.url.path}.",
            "invalid_request_error",
            "unknown_url",
        )

    # -- chat completions

    async def _chat(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(
                400, "We could not parse the JSON body of your request.", "invalid_request_error"
            )
        if isinstance(body, dict) and "deployment" in request.path_params:
            body["model"] = request.path_params["deployment"]  # Azure: the deployment decides
        if not isinstance(body, dict) or not body.get("model") or not body.get("messages"):
            return _error(
                400,
                "Missing required parameter: 'model' or 'messages'.",
                "invalid_request_error",
                "missing_required_parameter",
            )
        if body.get("stream"):
            return _error(
                400, "FakeOpenAI does not stream.", "invalid_request_error", "unsupported_value"
            )
        with self._lock:
            if self.record_bodies:
                self._bodies.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._chat_response(body)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _rate_headers(self, now: float) -> dict[str, str]:
        headers = self._window.headers(self.rpm, self.tpm, now)
        if self.rate_headers == "remaining":
            return {k: v for k, v in headers.items() if k.startswith("x-ratelimit-remaining-")}
        return headers if self.rate_headers == "all" else {}

    def _roll(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    async def _chat_response(self, body: dict) -> Response:
        now = time.monotonic()
        user = "\n".join(_user_texts(body))
        markers = {m for m in MARKERS if m in user} if "__FAULT_" in user else set()
        headers = self._rate_headers(now)
        refused = self._refusal(body, markers)
        if refused is not None:
            return JSONResponse(refused, status_code=500, headers=headers)
        forced = self._forced.popleft() if self._forced else None
        if "__FAULT_NOCREDIT__" in markers:  # OpenAI's answer when the account is out of credit
            return _error(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                "insufficient_quota",
                headers=headers,
            )
        if forced and forced[0] == 429 or "__FAULT_429__" in markers:
            wait = forced[1] if forced else self.marker_retry_after_s
            return self._rate_limited(body, ("requests", wait, 0, self.rpm or UNLIMITED), headers)
        if forced:
            return _error(
                forced[0],
                "The server had an error while processing your request.",
                "server_error",
                headers=headers,
            )
        if "__FAULT_BADJSON__" in markers or self._roll(self.bad_json_rate):
            markers.add("__FAULT_BADJSON__")
        if "__FAULT_BADSCHEMA__" in markers or self._roll(self.bad_schema_rate):
            markers.add("__FAULT_BADSCHEMA__")
        try:
            completion, cost = self._complete(body, markers)
        except Exception as exc:  # a broken answer function should fail the test loudly
            return _error(500, f"answer function failed: {exc!r}", "server_error", headers=headers)
        verdict = self._window.admit(cost, self.rpm, self.tpm, now)
        headers = self._rate_headers(now)
        if verdict:
            return self._rate_limited(body, verdict, headers, cost)
        delay = self.latency_ms + (self.rng.uniform(0, self.jitter_ms) if self.jitter_ms else 0)
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        if "__FAULT_HANG__" in markers or self._roll(self.hang_rate):
            await self._hang()
        if "__FAULT_500__" in markers or self._roll(self.fault_rate):
            return _error(
                500,
                "The server had an error while processing your request.",
                "server_error",
                headers=headers,
            )
        return JSONResponse(completion, headers=headers)

    def _refusal(self, body: dict, markers: set[str]) -> dict | None:
        """llama-cpp-python's answer to a format it does not take, or a parameter it rejects."""
        path = "/v1/chat/completions"
        kind = (body.get("response_format") or {}).get("type")
        if kind is not None and kind not in self.response_formats:
            taken = [f for f in FORMATS if f in self.response_formats]
            expected = " or ".join(f"'{f}'" for f in taken)
            return llama_cpp_python_error(
                ("response_format", "type"),
                "literal_error",
                f"Input should be {expected}",
                kind,
                path,
            )
        if "__FAULT_BADPARAM__" in markers:
            return llama_cpp_python_error(
                ("fault_param",), "extra_forbidden", "Extra inputs are not permitted", True, path
            )
        return None

    async def _hang(self) -> None:
        end = time.monotonic() + self.hang_seconds
        while time.monotonic() < end and self._server is not None and not self._server.should_exit:
            await asyncio.sleep(min(0.05, end - time.monotonic()))

    def _rate_limited(self, body: dict, verdict: tuple, headers: dict, cost: int = 1) -> Response:
        kind, wait, used, limit = verdict
        unit = "RPM" if kind == "requests" else "TPM"
        message = (
            f"Rate limit reached for {body.get('model')} in organization org-fake "
            f"on {kind} per min "
            f"({unit}): Limit {limit}, Used {used}, Requested {1 if kind == 'requests' else cost}. "
            f"Please try again in {format_duration(wait)}."
        )
        wait = max(wait, 0.001)
        retry = {"retry-after": str(math.ceil(wait)), "retry-after-ms": str(math.ceil(wait * 1000))}
        return _error(429, message, kind, "rate_limit_exceeded", headers={**headers, **retry})

    def _complete(self, body: dict, markers: set[str]) -> tuple[dict, int]:
        """The ``chat.completion`` object for ``body`` and its rate-limit cost in tokens."""
        messages = body["messages"]
        prompt_tokens = _tokens("".join(_text(m.get("content")) for m in messages))
        answer = self.answer(body)
        fmt = (body.get("response_format") or {}).get("type")
        content = (
            answer
            if isinstance(answer, str)
            else json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
        )
        schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema", {})
        enums = (
            _enum_fields(schema, answer, schema)
            if fmt == "json_schema" and not isinstance(answer, str)
            else []
        )
        if fmt in ("json_schema", "json_object") and "__FAULT_BADSCHEMA__" in markers:
            content, enums = '{"unexpected_field":"this does not match the schema"}', []
        if fmt in ("json_schema", "json_object") and "__FAULT_BADJSON__" in markers:
            content, enums = content[: max(1, len(content) // 2)], []
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        finish = "stop"
        if limit and _tokens(content) > limit:
            content, finish = content[: limit * 4], "length"
        logprobs: dict[str, Any] | None = None
        if body.get("logprobs"):
            texts = _user_texts(body)
            k = int(body.get("top_logprobs") or 0)
            logprobs = {
                "content": build_logprobs(content, enums, texts[-1] if texts else "", k),
                "refusal": None,
            }
        completion_tokens = _tokens(content)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": content,
            "refusal": None,
            "annotations": [],
        }
        choices = [
            {"index": i, "message": message, "logprobs": logprobs, "finish_reason": finish}
            for i in range(int(body.get("n") or 1))
        ]
        completion = {
            "id": _new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens * len(choices),
                "total_tokens": prompt_tokens + completion_tokens * len(choices),
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
            "service_tier": "default",
            "system_fingerprint": "fp_fakeopenai",
        }
        return completion, prompt_tokens + (limit or completion_tokens * len(choices))

    # -- models

    def _model(self, name: str) -> dict:
        return {"id": name, "object": "model", "created": 1700000000, "owned_by": "system"}

    async def _list_models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [self._model(m) for m in MODELS]})

    async def _get_model(self, request: Request) -> Response:
        return JSONResponse(self._model(request.path_params["model"]))

    # -- files

    async def _upload_file(self, request: Request) -> Response:
        fields = _parse_multipart(await request.body(), request.headers.get("content-type", ""))
        if "file" not in fields or "purpose" not in fields:
            return _error(
                400, "Missing required parameter: 'file' or 'purpose'.", "invalid_request_error"
            )
        filename, data = fields["file"]
        purpose = fields["purpose"][1].decode()
        return JSONResponse(self._store_file(data, filename or "upload", purpose))

    def _store_file(self, data: bytes, filename: str, purpose: str) -> dict:
        meta: dict[str, Any] = {
            "id": _new_id("file-"), "object": "file", "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename, "purpose": purpose, "status": "processed", "status_details": None,
        }  # fmt: skip
        self._files[meta["id"]], self._file_data[meta["id"]] = meta, data
        return meta

    def _missing(self, kind: str, key: str) -> Response:
        return _error(404, f"No such {kind}: '{key}'", "invalid_request_error")

    async def _list_files(self, request: Request) -> Response:
        purpose = request.query_params.get("purpose")
        data = [f for f in reversed(self._files.values()) if purpose in (None, f["purpose"])]
        return JSONResponse({"object": "list", "data": data, "has_more": False})

    async def _get_file(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        meta = self._files.get(file_id)
        return JSONResponse(meta) if meta else self._missing("File", file_id)

    async def _delete_file(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        if self._files.pop(file_id, None) is None:
            return self._missing("File", file_id)
        del self._file_data[file_id]
        return JSONResponse({"id": file_id, "object": "file", "deleted": True})

    async def _file_content(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        if file_id not in self._file_data:
            return self._missing("File", file_id)
        return Response(self._file_data[file_id], media_type="application/octet-stream")

    # -- batches

    async def _create_batch(self, request: Request) -> Response:
        status = self._batch_faults.popleft() if self._batch_faults else 0
        if status:
            return _error(
                status, "The server had an error while processing your request.", "server_error"
            )
        try:
            params = json.loads(await request.body())
        except ValueError:
            return _error(
                400, "We could not parse the JSON body of your request.", "invalid_request_error"
            )
        file_id = params.get("input_file_id")
        if file_id not in self._files:
            return self._missing("File", str(file_id))
        endpoints = BATCH_ENDPOINTS[request.url.path[: request.url.path.index("/", 1)]]
        if params.get("endpoint") not in endpoints:
            return _error(
                400,
                f"FakeOpenAI batches support only {' or '.join(endpoints)}.",
                "invalid_request_error",
            )
        if params.get("completion_window") != "24h":
            return _error(400, "completion_window must be '24h'.", "invalid_request_error")
        now = int(time.time())
        batch = {
            "id": _new_id("batch_"), "object": "batch", "endpoint": params["endpoint"],
            "errors": None, "input_file_id": file_id, "completion_window": "24h",
            "status": "validating", "output_file_id": None, "error_file_id": None,
            "created_at": now, "in_progress_at": None, "expires_at": now + 86400,
            "finalizing_at": None, "completed_at": None, "failed_at": None, "expired_at": None,
            "cancelling_at": None, "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": params.get("metadata"), "model": None, "usage": None,
            "_started": time.monotonic(),
        }  # fmt: skip
        self._batches[batch["id"]] = batch
        return JSONResponse(_public(batch))

    async def _get_batch(self, request: Request) -> Response:
        batch = self._batches.get(request.path_params["batch_id"])
        if batch is None:
            return self._missing("batch", request.path_params["batch_id"])
        self._advance(batch)
        return JSONResponse(_public(batch))

    async def _list_batches(self, request: Request) -> Response:
        batches = list(reversed(self._batches.values()))
        after = request.query_params.get("after")
        if after in self._batches:
            batches = batches[[b["id"] for b in batches].index(after) + 1 :]
        limit = int(request.query_params.get("limit", 20))
        for batch in batches[:limit]:
            self._advance(batch)
        page = [_public(b) for b in batches[:limit]]
        return JSONResponse({
            "object": "list", "data": page, "has_more": len(batches) > limit,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
        })  # fmt: skip

    async def _cancel_batch(self, request: Request) -> Response:
        batch = self._batches.get(request.path_params["batch_id"])
        if batch is None:
            return self._missing("batch", request.path_params["batch_id"])
        self._advance(batch)
        if batch["status"] in ("completed", "failed", "expired", "cancelled"):
            return _error(
                409,
                f"Cannot cancel a batch with status '{batch['status']}'.",
                "invalid_request_error",
            )
        batch["status"], batch["cancelling_at"] = "cancelling", int(time.time())
        return JSONResponse(_public(batch))

    def _advance(self, batch: dict) -> None:
        """Move a batch along validating -> in_progress -> completed as time passes."""
        now = int(time.time())
        if batch["status"] == "cancelling":
            batch["status"], batch["cancelled_at"] = "cancelled", now
        if batch["status"] == "validating":
            lines, errors = _validate_batch(
                self._file_data[batch["input_file_id"]], batch["endpoint"]
            )
            if errors:
                batch.update(
                    status="failed", failed_at=now, errors={"object": "list", "data": errors}
                )
                return
            batch.update(status="in_progress", in_progress_at=now, _lines=lines)
            batch["request_counts"]["total"] = len(lines)
            batch["model"] = lines[0][1]["model"]
        if (
            batch["status"] == "in_progress"
            and time.monotonic() - batch["_started"] >= self.batch_delay_s
        ):
            self._run_batch(batch)

    def _run_batch(self, batch: dict) -> None:
        outputs, failures = [], []
        tokens_in = tokens_out = 0
        for custom_id, body in batch.pop("_lines"):
            user = "\n".join(_user_texts(body))
            line = {"id": _new_id("batch_req_"), "custom_id": custom_id, "error": None}
            if "__FAULT_500__" in user or self._roll(self.batch_fail_rate):
                error = {
                    "message": "The server had an error processing your request.",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
                line["response"] = {
                    "status_code": 500,
                    "request_id": uuid.uuid4().hex,
                    "body": {"error": error},
                }
                failures.append(line)
                continue
            markers = {m for m in MARKERS if m in user}
            completion, _ = self._complete(body, markers)
            tokens_in += completion["usage"]["prompt_tokens"]
            tokens_out += completion["usage"]["completion_tokens"]
            line["response"] = {
                "status_code": 200,
                "request_id": uuid.uuid4().hex,
                "body": completion,
            }
            outputs.append(line)
        jsonl = lambda rows: "".join(json.dumps(r) + "\n" for r in rows).encode()  # noqa: E731
        if outputs:
            batch["output_file_id"] = self._store_file(
                jsonl(outputs), f"{batch['id']}_output.jsonl", "batch_output"
            )["id"]
        if failures:
            batch["error_file_id"] = self._store_file(
                jsonl(failures), f"{batch['id']}_error.jsonl", "batch_output"
            )["id"]
        now = int(time.time())
        batch.update(status="completed", finalizing_at=now, completed_at=now)
        batch["request_counts"].update(completed=len(outputs), failed=len(failures))
        batch["usage"] = {
            "input_tokens": tokens_in, "output_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        }  # fmt: skip

    # -- control endpoints, for a server running as a subprocess

    async def _stats(self, request: Request) -> Response:
        return JSONResponse(self.stats())

    async def _reset(self, request: Request) -> Response:
        self.reset_counters()
        return JSONResponse(self.stats())

    async def _config(self, request: Request) -> Response:
        """Set options (``{"fault_rate": 0.1}``) or queue faults (``{"fail_next": [3, 429]}``)."""
        changes = json.loads(await request.body())
        for key, value in changes.items():
            if key == "fail_next":
                self.fail_next(*value)
            elif key == "fail_batches":
                self.fail_batches(*value)
            elif key == "seed":
                self.rng.seed(value)
            elif key in _CLI_OPTIONS:
                setattr(self, key, value)
            else:
                return _error(400, f"Unknown option {key!r}.", "invalid_request_error")
        return JSONResponse({"ok": True})


def _public(batch: dict) -> dict:
    return {k: v for k, v in batch.items() if not k.startswith("_")}


def _parse_multipart(body: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    """``{field: (filename, bytes)}`` from a ``multipart/form-data`` body."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        return {}
    fields = {}
    for part in body.split(b"--" + match.group(1).encode())[1:-1]:
        head, _, data = part[2:].partition(b"\r\n\r\n")
        disposition = head.decode("utf-8", "replace")
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        if name:
            fields[name.group(1)] = (filename.group(1) if filename else None, data[:-2])
    return fields


def _validate_batch(data: bytes, endpoint: str) -> tuple[list[tuple[str, dict]], list[dict]]:
    """The (custom_id, body) pairs of a batch input file, or OpenAI-style line errors."""

    def error(code: str, line: int | None, message: str, param: str | None = None) -> dict:
        return {"code": code, "line": line, "message": message, "param": param}

    rows = [
        (n, raw)
        for n, raw in enumerate(data.decode("utf-8", "replace").split("\n"), 1)
        if raw.strip()
    ]
    if not rows:
        return [], [error("empty_file", None, "The batch input file is empty.")]
    if len(rows) > MAX_BATCH_LINES:
        return [], [
            error(
                "too_many_tasks",
                None,
                f"The batch has {len(rows)} requests; the limit is {MAX_BATCH_LINES}.",
            )
        ]
    lines, errors, seen, model = [], [], set(), None
    for n, raw in rows:
        try:
            item = json.loads(raw)
        except ValueError:
            item = None
        if not isinstance(item, dict):
            errors.append(
                error("invalid_json_line", n, "This line is not parseable as valid JSON.")
            )
            continue
        body, custom_id = item.get("body"), item.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            errors.append(
                error("invalid_request", n, "Missing required parameter: 'custom_id'.", "custom_id")
            )
        elif custom_id in seen:
            errors.append(
                error(
                    "duplicate_custom_id",
                    n,
                    "The custom_id for this request is a duplicate of another request. "
                    "The custom_id parameter must be unique for each request in a batch.",
                    "custom_id",
                )
            )
        elif item.get("method") != "POST":
            errors.append(error("invalid_request", n, "The 'method' must be 'POST'.", "method"))
        elif item.get("url") != endpoint:
            errors.append(
                error(
                    "url_mismatch",
                    n,
                    f"The provided URL '{item.get('url')}' does not match "
                    f"the batch endpoint '{endpoint}'.",
                    "url",
                )
            )
        elif not isinstance(body, dict) or not body.get("model") or not body.get("messages"):
            errors.append(
                error("invalid_request", n, "The 'body' must hold 'model' and 'messages'.", "body")
            )
        elif model not in (None, body["model"]):
            errors.append(
                error(
                    "model_mismatch",
                    n,
                    "The provided model does not match the other requests in the batch.",
                    "body.model",
                )
            )
        else:
            seen.add(custom_id)
            model = body["model"]
            lines.append((custom_id, body))
    return lines, errors[:1000]


# -- as a separate process -----------------------------------------------------------------

_CLI_OPTIONS = {
    "rpm": int, "tpm": int, "latency_ms": float, "jitter_ms": float, "fault_rate": float,
    "bad_json_rate": float, "bad_schema_rate": float, "hang_rate": float, "hang_seconds": float,
    "marker_retry_after_s": float, "batch_delay_s": float, "batch_fail_rate": float,
    "seed": int, "api_key": str, "rate_headers": str,
}  # fmt: skip
REPO_ROOT = Path(__file__).resolve().parents[2]


def start_subprocess(timeout: float = 20.0, **opts: Any) -> tuple[subprocess.Popen, str]:
    """Start ``python -m tests.servers.openai_server`` with ``opts``; return ``(proc, base_url)``.

    Stop it with ``proc.terminate(); proc.wait()``. Options are the constructor's
    (``rpm=3000, latency_ms=200``), plus ``port`` and ``record_bodies``.
    """
    argv = [sys.executable, "-m", "tests.servers.openai_server"]
    for key, value in opts.items():
        if key == "record_bodies":
            argv += ["--record-bodies"] if value else []
        elif value is not None:
            argv += [f"--{key.replace('_', '-')}", str(value)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    proc.stdout.close()
    if not line.startswith("READY "):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"FakeOpenAI subprocess did not start (exit code {proc.returncode})")
    return proc, line.split()[1]


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT/SIGTERM; print ``READY <base_url>`` once listening."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.servers.openai_server", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--record-bodies", action="store_true", help="keep chat bodies (memory grows)"
    )
    for name, kind in _CLI_OPTIONS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind)
    args = vars(parser.parse_args(argv))
    opts = {k: v for k, v in args.items() if v is not None}
    server = FakeOpenAI(**opts)
    sock = server._bind()
    print(f"READY {server.base_url}", flush=True)
    server._uvicorn().run(sockets=[sock])


if __name__ == "__main__":
    main()
