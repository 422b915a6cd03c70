"""The fake OpenAI's behaviour: options, injected faults, counters, and what each chat gets.

:class:`FakeModel` decides every chat answer as a :class:`Reply` (status, body, headers, and how
long to wait first); the HTTP layer only sends it. Every option is a public attribute that may
be changed while the server runs.

Per-request fault markers, matched in the text of the user messages: ``__FAULT_500__``,
``__FAULT_BADSCHEMA__`` (valid JSON that breaks the schema), ``__FAULT_HANG__`` (sleeps
``hang_seconds``), ``__FAULT_NOCREDIT__`` (OpenAI's 429 ``insufficient_quota``) and
``__FAULT_BADPARAM__`` (a 500 whose body names a bad parameter, as llama-cpp-python sends).

Rate limits use a sliding window (:mod:`.limits`). A request costs ``prompt_tokens`` (all
message text / 4) plus ``max_completion_tokens`` or ``max_tokens`` when the request sets one,
else the ``completion_tokens`` of its answer; rejected requests are not counted. Chat replies
carry OpenAI's ``x-ratelimit-*`` headers; ``rate_headers`` trims them to what other servers
send: ``"remaining"`` (Azure OpenAI) or ``"none"`` (vLLM, Ollama).
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .answers import (
    build_logprobs,
    default_answer,
    enum_fields,
    spread_reasoning,
    text_of,
    user_texts,
)
from .limits import UNLIMITED, SlidingWindow, format_duration

__all__ = ["FORMATS", "MARKERS", "FakeModel", "Reply", "error"]

MARKERS = (
    "__FAULT_500__",
    "__FAULT_BADSCHEMA__",
    "__FAULT_HANG__",
    "__FAULT_NOCREDIT__",
    "__FAULT_BADPARAM__",
)
FORMATS = ("text", "json_object", "json_schema")
SERVER_ERROR = "The server had an error while processing your request."


@dataclass
class Reply:
    """An HTTP answer: ``body`` is sent as JSON unless it is a string."""

    status: int
    body: dict | str
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"
    delay_s: float = 0.0  # wait this long before answering
    hang: bool = False  # then hang for the model's hang_seconds


def error(status: int, message: str, kind: str, code: str | None = None, **kw: Any) -> Reply:
    """OpenAI's error body."""
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return Reply(status, body, **kw)


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def tokens(text: str) -> int:
    return (len(text) + 3) // 4


class FakeModel:
    """Options, fault schedule and counters of a fake OpenAI-compatible server.

    Args:
        rpm: requests per minute (sliding window); None means unlimited.
        tpm: tokens per minute, counted as described in the module docstring.
        window_s: the rate-limit window; 60 s as OpenAI's unless a test compresses time.
        latency_ms: added to every admitted chat request.
        fault_rate: fraction of admitted chat requests answered with a 500.
        hang_seconds: how long ``__FAULT_HANG__`` sleeps (cut short when the server stops).
        batch_delay_s: seconds from batch creation to completion (0: done at the first poll).
        answer: ``answer(request_body) -> dict | str``; a dict is sent as compact JSON.
        answer_spread: how much the length of an answer's ``reasoning`` varies, as the sigma
            of a log-normal factor (0: as ``answer`` gives it; 0.5: a long tail, as real
            answers have; see :func:`.answers.spread_reasoning`).
        edit_reply: ``edit_reply(request_body, completion)`` sees each successful chat answer
            before it is sent and returns the completion to send (changed or not) or a
            :class:`Reply` to send instead (an HTML page, an error).
        on_request: ``await on_request(method, path)`` once each request's body has arrived,
            before it is answered (a test that must act while a client waits).
        api_key: when set, requests must carry it (``Authorization: Bearer``, or ``api-key``).
        rate_headers: ``"all"``, ``"remaining"`` or ``"none"``.
        response_formats: the ``response_format`` types taken; others are refused (500) with
            llama-cpp-python's body.
        batch_api: False answers Files and Batches with 404, as vLLM, Ollama and llama.cpp do.
        slots: serve llama.cpp's ``GET /props`` with this ``total_slots`` (None: 404).
    """

    def __init__(
        self,
        *,
        rpm: int | None = None,
        tpm: int | None = None,
        window_s: float = 60.0,
        latency_ms: float = 0.0,
        fault_rate: float = 0.0,
        hang_seconds: float = 30.0,
        batch_delay_s: float = 0.0,
        answer: Callable[[dict], dict | str] = default_answer,
        answer_spread: float = 0.0,
        edit_reply: Callable[[dict, dict], dict | Reply] | None = None,
        on_request: Callable[[str, str], Awaitable[None]] | None = None,
        api_key: str | None = None,
        rate_headers: str = "all",
        response_formats: tuple[str, ...] = FORMATS,
        batch_api: bool = True,
        slots: int | None = None,
    ) -> None:
        self.rpm, self.tpm, self.latency_ms = rpm, tpm, latency_ms
        self.fault_rate, self.hang_seconds = fault_rate, hang_seconds
        self.batch_delay_s = batch_delay_s
        self.answer, self.edit_reply, self.on_request = answer, edit_reply, on_request
        self.answer_spread = answer_spread
        self.api_key, self.rate_headers = api_key, rate_headers
        self.response_formats = tuple(response_formats)
        self.batch_api, self.slots = batch_api, slots
        self.rng = random.Random(0)
        self._forced: deque[tuple[int, float]] = deque()
        self.batch_faults: deque[int] = deque()  # per batch creation: 0 creates, else status
        self._window = SlidingWindow(window_s)
        self._lock = threading.Lock()
        self.reset_counters()

    # -- counters and fault controls (thread-safe)

    def reset_counters(self) -> None:
        """Zero every counter and forget recorded bodies."""
        with self._lock:
            self._by_path: Counter[str] = Counter()
            self._by_status: Counter[int] = Counter()
            self._bodies: list[dict] = []
            self._api_versions: Counter[str] = Counter()
            self.rate_limited = 0
            self.in_flight = self.max_in_flight = 0
            self.tokens_held = 0  # what admitted chats cost against the tokens limit

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
        """The counters a benchmark reads, as plain data (also at ``GET /_fake/stats``)."""
        with self._lock:
            return {
                "requests_by_path": dict(self._by_path),
                "responses_by_status": {str(k): v for k, v in self._by_status.items()},
                "rate_limited": self.rate_limited,
                "max_in_flight": self.max_in_flight,
                "tokens_held": self.tokens_held,
            }

    def count_request(self, path: str) -> None:
        with self._lock:
            self._by_path[path] += 1

    def count_response(self, status: int) -> None:
        with self._lock:
            self._by_status[status] += 1
            self.rate_limited += status == 429

    def count_api_version(self, version: str) -> None:
        with self._lock:
            self._api_versions[version] += 1

    def fail_next(self, n: int = 1, status: int = 429, retry_after_s: float = 1.0) -> None:
        """Answer the next ``n`` chat requests with ``status`` (429 carries ``retry_after_s``)."""
        self._forced.extend([(status, retry_after_s)] * n)

    def fail_batches(self, n: int = 1, status: int = 500, after: int = 0) -> None:
        """Answer batch creation with ``status`` ``n`` times, once ``after`` more succeed."""
        self.batch_faults.extend([0] * after + [status] * n)

    def roll(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    # -- chat completions

    def begin_chat(self, body: dict) -> None:
        with self._lock:
            self._bodies.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def end_chat(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _rate_headers(self, now: float) -> dict[str, str]:
        headers = self._window.headers(self.rpm, self.tpm, now)
        if self.rate_headers == "remaining":
            return {k: v for k, v in headers.items() if k.startswith("x-ratelimit-remaining-")}
        return headers if self.rate_headers == "all" else {}

    def chat(self, body: dict) -> Reply:
        """The reply to one chat request (called on the server's event loop)."""
        now = time.monotonic()
        user = "\n".join(user_texts(body))
        markers = {m for m in MARKERS if m in user} if "__FAULT_" in user else set()
        headers = self._rate_headers(now)
        refused = self._refusal(body, markers)
        if refused is not None:
            return Reply(500, refused, headers)
        forced = self._forced.popleft() if self._forced else None
        if "__FAULT_NOCREDIT__" in markers:  # OpenAI's answer when the account is out of credit
            message = "You exceeded your current quota, please check your plan and billing details."
            return error(429, message, "insufficient_quota", "insufficient_quota", headers=headers)
        if forced and forced[0] == 429:
            return self._rate_limited(
                body, ("requests", forced[1], 0, self.rpm or UNLIMITED), headers
            )
        if forced:
            return error(forced[0], SERVER_ERROR, "server_error", headers=headers)
        completion, cost = self.complete(body, markers)
        verdict = self._window.admit(cost, self.rpm, self.tpm, now)
        headers = self._rate_headers(now)
        if verdict:
            return self._rate_limited(body, verdict, headers, cost)
        with self._lock:
            self.tokens_held += cost
        delay_s, hang = self.latency_ms / 1000, "__FAULT_HANG__" in markers
        if "__FAULT_500__" in markers or self.roll(self.fault_rate):
            failed = error(500, SERVER_ERROR, "server_error", headers=headers)
            failed.delay_s, failed.hang = delay_s, hang
            return failed
        edited = completion if self.edit_reply is None else self.edit_reply(body, completion)
        if isinstance(edited, Reply):
            return edited
        return Reply(200, edited, headers, delay_s=delay_s, hang=hang)

    def _refusal(self, body: dict, markers: set[str]) -> dict | None:
        """llama-cpp-python's answer to a format it does not take, or a parameter it rejects.

        Its route handler catches FastAPI's ``RequestValidationError`` like any exception and
        answers 500 with ``str(error)`` as the message.
        """
        kind = (body.get("response_format") or {}).get("type")
        detail: dict[str, Any]
        if kind is not None and kind not in self.response_formats:
            expected = " or ".join(f"'{f}'" for f in FORMATS if f in self.response_formats)
            detail = {
                "type": "literal_error",
                "loc": ("body", "response_format", "type"),
                "msg": f"Input should be {expected}",
                "input": kind,
                "ctx": {"expected": expected},
            }
        elif "__FAULT_BADPARAM__" in markers:
            detail = {
                "type": "extra_forbidden",
                "loc": ("body", "fault_param"),
                "msg": "Extra inputs are not permitted",
                "input": True,
            }
        else:
            return None
        message = f"1 validation error:\n  {detail!r}\n\n  Endpoint: POST /v1/chat/completions"
        return {
            "error": {
                "message": message,
                "type": "internal_server_error",
                "param": None,
                "code": None,
            }
        }

    def _rate_limited(self, body: dict, verdict: tuple, headers: dict, cost: int = 1) -> Reply:
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
        return error(429, message, kind, "rate_limit_exceeded", headers={**headers, **retry})

    def complete(self, body: dict, markers: set[str]) -> tuple[dict, int]:
        """The ``chat.completion`` object for ``body`` and its rate-limit cost in tokens."""
        prompt_tokens = tokens("".join(text_of(m) for m in body["messages"]))
        answer = self.answer(body)
        if self.answer_spread and isinstance(answer, dict):
            texts = user_texts(body)
            answer = spread_reasoning(answer, texts[-1] if texts else "", self.answer_spread)
        fmt = (body.get("response_format") or {}).get("type")
        content = (
            answer
            if isinstance(answer, str)
            else json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
        )
        schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema", {})
        enums = []
        if fmt == "json_schema" and not isinstance(answer, str):
            enums = enum_fields(schema, answer, schema)
        if fmt in ("json_schema", "json_object") and "__FAULT_BADSCHEMA__" in markers:
            content, enums = '{"unexpected_field":"this does not match the schema"}', []
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        finish = "stop"
        if limit and tokens(content) > limit:
            content, finish = content[: limit * 4], "length"
        logprobs: dict[str, Any] | None = None
        if body.get("logprobs"):
            texts = user_texts(body)
            k = int(body.get("top_logprobs") or 0)
            entries = build_logprobs(content, enums, texts[-1] if texts else "", k)
            logprobs = {"content": entries, "refusal": None}
        completion_tokens = tokens(content)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": content,
            "refusal": None,
            "annotations": [],
        }
        completion = {
            "id": new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {"index": 0, "message": message, "logprobs": logprobs, "finish_reason": finish}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
            "service_tier": "default",
            "system_fingerprint": "fp_fakeopenai",
        }
        return completion, prompt_tokens + (limit or completion_tokens)
