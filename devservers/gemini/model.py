"""The fake Gemini's behaviour: answers that fill the request's JSON schema, usage, faults.

Faults come two ways. ``fail_next(*names)`` queues one fault for each of the next
``generateContent`` requests, in order: ``"429"`` (``RESOURCE_EXHAUSTED`` with a
``google.rpc.RetryInfo`` ``retryDelay`` of ``retry_delay_s``), ``"500"``, ``"503"``,
``"invalid"`` (an answer that breaks the schema), ``"safety"`` (``finishReason: SAFETY``),
``"recitation"``, ``"blocked"`` (``promptFeedback.blockReason``) and ``"max_tokens"`` (an answer
cut off at ``maxOutputTokens``). A marker in a row's text gives that row the fault every time
it is asked, live or in a batch: ``__INVALID__``, ``__SAFETY__``, ``__BLOCKED__``,
``__MAX_TOKENS__``, and ``__BATCH_FAIL__`` (the row's batch line ends with an error).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from devservers.openai.answers import fill_schema

__all__ = ["FakeGeminiModel", "Reply", "api_error"]

_MARKERS = {"__INVALID__": "invalid", "__SAFETY__": "safety", "__BLOCKED__": "blocked"}
_MARKERS["__MAX_TOKENS__"] = "max_tokens"
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}
_STATUS |= {404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


@dataclass
class Reply:
    status: int
    body: dict[str, Any]


def api_error(code: int, message: str, details: list[dict[str, Any]] | None = None) -> Reply:
    """An error in the shape Google's APIs send (``google.rpc.Status`` under ``error``)."""
    status = _STATUS.get(code, "UNKNOWN")
    return Reply(code, {"error": {"code": code, "message": message, "status": status,
                                  "details": details or []}})  # fmt: skip


def _tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4)


def _text(contents: Any) -> str:
    """Every text part of a request's ``contents`` (or ``systemInstruction``)."""
    items = contents if isinstance(contents, list) else [contents]
    return "".join(
        str(part.get("text") or "")
        for item in items
        if isinstance(item, dict)
        for part in item.get("parts") or []
    )


@dataclass
class _Batch:
    name: str
    model: str
    display_name: str
    requests: list[dict[str, Any]]
    created: float
    state: str = "BATCH_STATE_PENDING"
    responses: list[dict[str, Any]] = field(default_factory=list)


class FakeGeminiModel:
    """Options, fault schedule, counters and batches of a fake Gemini API.

    Attributes:
        api_key: the key every request must carry in ``x-goog-api-key`` (None: any key).
        cached_tokens: ``cachedContentTokenCount`` of every answer (implicit caching).
        thoughts_tokens: ``thoughtsTokenCount`` of every answer (billed as output).
        retry_delay_s: the ``retryDelay`` a fault ``"429"`` names.
        batch_delay_s: how long a batch runs before it ends.
        latency_ms: how long each ``generateContent`` takes.
    """

    def __init__(self, api_key: str | None = "gemini-test-key") -> None:
        self.api_key = api_key
        self.cached_tokens = 0
        self.thoughts_tokens = 0
        self.retry_delay_s = 0.05
        self.batch_delay_s = 0.0
        self.latency_ms = 0.0
        self.expire_next_batch = False
        self._faults: deque[str] = deque()
        self._lock = threading.Lock()
        self.requests_by_path: Counter[str] = Counter()
        self.generate_bodies: list[dict[str, Any]] = []
        self.batches: dict[str, _Batch] = {}

    # -- controls and counters

    def fail_next(self, *faults: str) -> None:
        with self._lock:
            self._faults.extend(faults)

    def count(self, path: str) -> None:
        with self._lock:
            self.requests_by_path[path] += 1

    @property
    def generate_requests(self) -> int:
        return len(self.generate_bodies)

    # -- generateContent

    def generate(self, model: str, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.generate_bodies.append(body)
            fault = self._faults.popleft() if self._faults else None
        if fault == "429":
            info = {"@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{self.retry_delay_s:g}s"}  # fmt: skip
            return api_error(429, "Resource has been exhausted (e.g. check quota).", [info])
        if fault in ("500", "503"):
            return api_error(int(fault), "The service is currently unavailable.")
        return Reply(200, self.answer(model, body, fault))

    def answer(self, model: str, body: dict[str, Any], fault: str | None = None) -> dict[str, Any]:
        """A ``GenerateContentResponse`` for ``body``: the schema filled from the row's text."""
        contents = body.get("contents") or []
        row = _text(contents[:1])
        for marker, name in _MARKERS.items():
            # A re-asked request still carries the marker: an invalid row stays invalid.
            if marker in row:
                fault = fault or name
        config = body.get("generationConfig") or {}
        prompt = _tokens(_text(body.get("systemInstruction") or {}) + _text(contents))
        prompt += _tokens(json.dumps(config.get("responseJsonSchema") or {}))
        usage = {"promptTokenCount": prompt, "totalTokenCount": prompt}
        if self.cached_tokens:
            usage["cachedContentTokenCount"] = min(self.cached_tokens, prompt)
        if fault == "blocked":
            return {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage,
                    "modelVersion": model}  # fmt: skip
        schema = config.get("responseJsonSchema") or {"type": "string"}
        text = json.dumps(fill_schema(schema, row))
        reason = "STOP"
        if fault == "invalid":
            text = '{"label": "Nonsense"'
        elif fault == "max_tokens":
            text, reason = text[: len(text) // 2], "MAX_TOKENS"
        elif fault in ("safety", "recitation"):
            text, reason = "", fault.upper()
        out = _tokens(text) if text else 0
        usage["candidatesTokenCount"] = out
        if self.thoughts_tokens:
            usage["thoughtsTokenCount"] = self.thoughts_tokens
        usage["totalTokenCount"] = prompt + out + self.thoughts_tokens
        candidate: dict[str, Any] = {"finishReason": reason, "index": 0}
        if text:
            candidate["content"] = {"role": "model", "parts": [{"text": text}]}
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model,
                "responseId": uuid.uuid4().hex[:16]}  # fmt: skip

    # -- batch mode

    def create_batch(self, model: str, body: dict[str, Any]) -> Reply:
        batch = body.get("batch") or {}
        requests = ((batch.get("inputConfig") or {}).get("requests") or {}).get("requests")
        if not isinstance(requests, list) or not requests:
            return api_error(400, "batch.inputConfig.requests must list the requests.")
        name = f"batches/{uuid.uuid4().hex[:12]}"
        with self._lock:
            item = _Batch(name, model, str(batch.get("displayName") or ""), requests, time.time())
            if self.expire_next_batch:
                item.state, self.expire_next_batch = "BATCH_STATE_EXPIRED", False
            self.batches[name] = item
        return Reply(200, self.operation(item))

    def get_batch(self, name: str) -> Reply:
        item = self.batches.get(name)
        if item is None:
            return api_error(404, f"Batch {name} not found.")
        running = item.state in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING")
        if running and time.time() - item.created >= self.batch_delay_s:
            item.responses = [self._line(item.model, line) for line in item.requests]
            item.state = "BATCH_STATE_SUCCEEDED"
        elif running:
            item.state = "BATCH_STATE_RUNNING"
        return Reply(200, self.operation(item))

    def cancel_batch(self, name: str) -> Reply:
        item = self.batches.get(name)
        if item is None:
            return api_error(404, f"Batch {name} not found.")
        if item.state in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING"):
            item.state = "BATCH_STATE_CANCELLED"
        return Reply(200, {})

    def delete_batch(self, name: str) -> Reply:
        if self.batches.pop(name, None) is None:
            return api_error(404, f"Batch {name} not found.")
        return Reply(200, {})

    def _line(self, model: str, line: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"metadata": line.get("metadata") or {}}
        request = line.get("request") or {}
        if "__BATCH_FAIL__" in _text((request.get("contents") or [])[:1]):
            out["error"] = {"code": 13, "message": "Internal error while answering this request."}
        else:
            out["response"] = self.answer(model, request)
        return out

    def operation(self, item: _Batch) -> dict[str, Any]:
        """The batch as the long-running ``Operation`` the Gemini API returns."""
        ended = item.state not in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING")
        failed = sum("error" in r for r in item.responses)
        meta: dict[str, Any] = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatch",
            "model": item.model, "displayName": item.display_name, "state": item.state,
            "createTime": _stamp(item.created), "updateTime": _stamp(time.time()),
            "batchStats": {"requestCount": str(len(item.requests)),
                           "successfulRequestCount": str(len(item.responses) - failed),
                           "failedRequestCount": str(failed)},
        }  # fmt: skip
        if item.responses:
            meta["output"] = {"inlinedResponses": {"inlinedResponses": item.responses}}
        return {"name": item.name, "metadata": meta, "done": ended}


def _stamp(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
