"""Send one Messages request, retried until Anthropic answers or the row must give up.

Retries are ours, not the SDK's (its clients are built with ``max_retries=0``): an SDK retry
would skip the throttle and, after a 429, hit the same full window again. A 429 pauses the whole
throttle for the ``retry-after`` the server asks (every worker waits, not just this one); 529
``overloaded_error``, other 5xx, 408/409 and dropped connections back off exponentially
(:data:`BACKOFF`). A 4xx that would be the same on every try ends the row with the server's
message; 401/403/404 end the step. A server that refuses ``output_config`` (a model without
JSON outputs) is asked again at once with a forced tool, for the rest of the run.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2

from ...backoff import Backoff, retry_after
from ..llm.answers import Counters, Drained, Fatal
from ..llm.throttle import Throttle
from .client import KEY_VARIABLE, URL_VARIABLE
from .shapes import Shape

__all__ = ["BACKOFF", "Drained", "Fatal", "RunStats", "Sender", "prompt_tokens"]

# Waits without a retry-after: ~0.5, 1, 2 ... s, at most 20 s; a retry-after up to 120 s.
BACKOFF = Backoff(base=0.5, cap=20.0, max_wait=120.0)
_RETRIED = {408: "request timeout (408)", 409: "conflict (409)", 529: "overloaded (529)"}


@dataclass
class RunStats(Counters):
    """The shared counters, the errors by reason and the output method used."""

    errors: dict[str, int] = field(default_factory=dict)
    response_format: str = ""  # json_schema or tool


def prompt_tokens(body: dict[str, Any]) -> int:
    """Estimated input tokens of a body (characters / 4, as rate limiters estimate)."""
    chars = sum(len(str(b.get("text") or "")) for b in body.get("system") or [])
    for message in body["messages"]:
        content = message["content"]
        chars += len(content) if isinstance(content, str) else len(str(content))
    return (chars + 3) // 4


def _message(error: anthropic.APIStatusError) -> str:
    body = error.body
    inner = body.get("error") if isinstance(body, dict) else None
    if isinstance(inner, dict) and isinstance(inner.get("message"), str):
        return " ".join(inner["message"].split())[:200]
    return str(error.message)[:200]


@dataclass
class Sender:
    """Sends one step's requests for the length of one run, in the event loop's thread."""

    shape: Shape
    throttle: Throttle
    stop: threading.Event
    stats: RunStats
    max_retries: int
    base_url: str
    backoff: Backoff = BACKOFF
    reached: bool = field(default=False, init=False)

    async def send(self, client: Any, messages: list[dict[str, Any]]) -> dict[str, Any] | str:
        """The reply's ``message`` as a dict, or the reason (str) the row gives up.

        Raises:
            Fatal: no row of the step can succeed.
            Drained: the caller stopped before the request was sent.
        """
        attempt = 0
        while True:
            body = self.shape.body(messages)
            await self.throttle.acquire(prompt_tokens(body), self.shape.max_tokens)
            if self.stop.is_set():
                raise Drained
            self.stats.requests += 1
            wait = 0.0
            try:
                # The SDK's generic post (its documented door for raw calls): the same auth,
                # errors and connection pool as ``messages.create``, without the typed
                # transform of body and reply, which costs more CPU than the HTTP call.
                raw = await client.post("/v1/messages", body=body, cast_to=httpx2.Response)
            except anthropic.RateLimitError as error:
                self.reached = True
                self.stats.rate_limited += 1
                self.throttle.settle_output(self.shape.max_tokens, 0)
                self.throttle.pause(
                    self.backoff.delay(attempt, retry_after(error.response.headers))
                )
                reason = "rate limited (429)"
            except anthropic.APIStatusError as error:
                self.reached = True
                self.throttle.settle_output(self.shape.max_tokens, 0)
                status, said = error.status_code, _message(error)
                if status == 400 and self.shape.method != "tool" and "output_config" in said:
                    self.shape.method = "tool"
                    continue
                if status in (401, 403, 404):
                    raise Fatal(_fatal(status, self.shape.model, said)) from None
                if status < 500 and status not in _RETRIED:
                    return f"request rejected ({status}): {said}"
                wait = self.backoff.delay(attempt, retry_after(error.response.headers))
                reason = _RETRIED.get(status, f"server error {status}")
            except anthropic.APIConnectionError as error:
                self.throttle.settle_output(self.shape.max_tokens, 0)
                timed_out = isinstance(error, anthropic.APITimeoutError)
                if not self.reached and not timed_out:
                    raise Fatal(
                        f"cannot connect to {self.base_url} ({error.message}): check {URL_VARIABLE}"
                    ) from None
                wait, reason = (
                    self.backoff.delay(attempt),
                    "timed out" if timed_out else "connection failed",
                )
            else:
                self.reached = True
                if not self.throttle.learned or self.stats.requests % 200 == 0:
                    self.throttle.learn(raw.headers)
                self.stats.response_format = self.shape.method
                message: dict[str, Any] = raw.json()
                return message
            self.stats.errors[reason] = self.stats.errors.get(reason, 0) + 1
            attempt += 1
            if attempt > self.max_retries:
                return f"{reason}; gave up after {attempt} attempts"
            self.stats.retries += 1
            if wait > 0:
                await asyncio.sleep(wait)


def _fatal(status: int, model: str, said: str) -> str:
    if status == 401:
        return f"Anthropic refused the API key (401): check {KEY_VARIABLE}."
    if status == 404:
        return f"model '{model}' was not found (404): check the Model column ({said})."
    return f"access denied ({status}): {said}"
