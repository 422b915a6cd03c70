"""Send one chat request, retried until the server answers or the row must give up.

Retries are ours, not the SDK's (its client is built with ``max_retries=0``): an SDK retry would
skip the throttle and, after a 429, hit the same full window again. Ours honour
``retry-after(-ms)``, pause the whole throttle after a 429, and back off exponentially
(:data:`.replies.BACKOFF`) on 5xx, timeouts and dropped connections. An error that would be the
same on every try (a 4xx, a 5xx naming a bad parameter) is not retried, and the row's flag
carries the server's own message. With ``service_tier: "flex"``, a 429 saying Flex has no
capacity ("resource unavailable") is retried with back-off for as long as the run goes on: it
costs nothing and counts against no retry limit, so no row is lost to it.

A server that refuses the ``response_format`` sent is asked again at once in the next mode of
:mod:`.formats` (``json_schema`` -> ``json_object`` -> ``text``), once for the whole run. A
server that cannot be reached on the first requests (connection refused, no such host) stops
the step at once with the URL, before any row is written. A local server's timed-out request is
not sent again: it may still be computing it, and a copy would only queue behind it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import openai

from ...backoff import Backoff, retry_after
from ..llm.answers import Drained, Fatal
from ..llm.schema import AnswerSpec
from ..llm.throttle import Throttle
from . import formats
from .client import http_module, scrub
from .pricing import prompt_tokens
from .replies import (
    BACKOFF,
    condense,
    connect_failure,
    fatal_text,
    json_object,
    server_message,
)
from .stats import RunStats

__all__ = ["Drained", "Fatal", "RunStats", "Sender"]

_RESPONSE_TYPE = http_module().Response  # asks the SDK for the raw response, headers included
_NO_CAPACITY = "Flex capacity unavailable (429)"


@dataclass
class Sender:
    """Sends one step's requests to one endpoint for the length of one run.

    Lives in the event loop's thread; ``stop`` is set from the caller's thread.
    """

    spec: AnswerSpec
    model: str
    throttle: Throttle
    stop: threading.Event
    stats: RunStats
    max_retries: int
    logprobs: bool
    reasoning_effort: str
    service_tier: str
    secret: str | None
    base_url: str
    url_setting: str
    mode: str
    mode_forced: bool
    on_mode: Callable[[str], None] | None
    local: bool
    timeout_s: float
    timeout_setting: str
    backoff: Backoff = BACKOFF
    reached: bool = field(default=False, init=False)  # the server answered (even an error)
    _noted_mode: str = field(default="", init=False)
    _formats: dict[str, dict[str, Any] | None] = field(default_factory=dict, init=False)

    async def send(
        self, client: Any, messages: list[dict[str, Any]], attempt: int, cap: int
    ) -> Any:
        """The completion body as a dict, or the reason (str) after the last retry.

        ``cap`` is the answer's max_completion_tokens, held against the tokens limit with the
        prompt.

        Raises:
            Fatal: no row of the step can succeed.
            Drained: the caller stopped before the request was sent.
        """
        tokens = prompt_tokens(messages) + cap
        last = ""  # the server's last message, for the flag of a row that gives up
        waits = 0  # Flex capacity waits so far: they grow, but never end the row
        while True:
            await self.throttle.acquire(tokens)
            if self.stop.is_set():
                raise Drained
            self.stats.requests += 1
            mode = self.mode
            wait: float
            try:
                # The SDK's generic post (its documented door for raw calls): same auth, errors
                # and connection pool as ``chat.completions.create``, without the typed
                # transform of the body and response, which cost more CPU than the HTTP call.
                raw = await client.post(
                    "/chat/completions", body=self.body(messages, mode, cap), cast_to=_RESPONSE_TYPE
                )
            except openai.RateLimitError as error:
                self.reached = True
                if getattr(error, "code", None) == "insufficient_quota":
                    # Out of credit: no wait helps, and every row would fail the same way.
                    raise Fatal(
                        f"the OpenAI account has no credit left for '{self.model}' "
                        "(insufficient_quota). Add credit or use another key, then run again: "
                        "rows already answered are kept."
                    ) from None
                self.stats.rate_limited += 1
                told = retry_after(error.response.headers)
                if self.service_tier == "flex" and _no_capacity(error):
                    wait = self.backoff.delay(waits, told)
                    waits += 1
                    self.throttle.pause(wait)
                    self._count(_NO_CAPACITY)
                    continue
                wait = self.backoff.delay(attempt, told)
                self.throttle.pause(wait)
                reason = "rate limited (429)"
            except openai.APIStatusError as error:
                self.reached = True
                status = error.status_code
                message = scrub(server_message(error), self.secret)
                if self._switch_mode(mode, status, message):
                    continue
                if status >= 500 and formats.names_bad_parameter(message):
                    # The same request would be refused the same way: one try is enough.
                    return f"the server refused the request ({status}): {condense(message)}"
                if status >= 500 or status in (408, 409):
                    wait, reason, last = (
                        self.backoff.delay(attempt),
                        f"server error {status}",
                        message,
                    )
                elif status == 400 and self.logprobs and "logprob" in message.lower():
                    self.logprobs = False  # a server without log-probabilities
                    continue
                elif status in (401, 403, 404):
                    raise Fatal(fatal_text(status, self.model, message)) from None
                else:
                    return f"request rejected ({status}): {condense(message)}"
            except (openai.APITimeoutError, openai.APIConnectionError) as error:
                why = connect_failure(error)
                if why is not None and not self.reached:
                    raise Fatal(
                        f"cannot connect to {self.base_url} ({why}): check {self.url_setting}"
                    ) from None
                if why is not None or not isinstance(error, openai.APITimeoutError):
                    wait, reason = self.backoff.delay(attempt), "connection failed"
                elif self.local:
                    return (
                        f"timed out after {self.timeout_s:g} s, not sent again (the local server "
                        f"may still be on it): raise {self.timeout_setting}"
                    )
                else:
                    wait, reason = self.backoff.delay(attempt), "timed out"
            else:
                self.reached = True
                if not self.throttle.learned or self.stats.requests % 200 == 0:
                    self.throttle.learn(raw.headers)
                body = json_object(raw.content)
                if body is not None:
                    self._note_mode(mode)
                    return body
                # A proxy's error page, an empty body: the request may well succeed again.
                wait = self.backoff.delay(attempt)
                reason = "the server's reply was not JSON (HTTP 200)"
            self._count(reason)
            attempt += 1
            if attempt > self.max_retries:
                said = f" ({condense(last, 120)})" if last else ""
                return f"{reason}{said}; gave up after {attempt} attempts"
            self.stats.retries += 1
            if not reason.startswith("rate limited"):
                await asyncio.sleep(wait)

    def body(self, messages: list[dict[str, Any]], mode: str, cap: int) -> dict[str, Any]:
        """The JSON body of one chat request in response-format ``mode``."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": formats.with_instructions(messages, self.spec, mode),
            "max_completion_tokens": cap,
        }
        if self.local:
            body["max_tokens"] = cap  # servers that know only the old name
        if mode not in self._formats:
            self._formats[mode] = formats.response_format(self.spec, mode)
        fmt = self._formats[mode]
        if fmt is not None:
            body["response_format"] = fmt
        if self.logprobs and self.spec.value_keys == ["label"]:
            body["logprobs"] = True
        if self.reasoning_effort:
            body["reasoning_effort"] = self.reasoning_effort
        if self.service_tier:
            body["service_tier"] = self.service_tier
        return body

    def _count(self, reason: str) -> None:
        self.stats.errors[reason] = self.stats.errors.get(reason, 0) + 1

    def _switch_mode(self, sent: str, status: int, message: str) -> bool:
        """Whether to send again because the server refused the response format ``sent``."""
        if self.mode_forced or not formats.refuses_format(status, message):
            return False
        if sent != self.mode:
            return True  # another request has switched already
        following = formats.next_mode(sent)
        if following is None:
            return False
        self.mode = following
        return True

    def _note_mode(self, mode: str) -> None:
        if mode != self._noted_mode:
            self._noted_mode = mode
            if self.on_mode is not None:
                self.on_mode(mode)


def _no_capacity(error: openai.RateLimitError) -> bool:
    """OpenAI's 429 when Flex processing has no capacity (not billed; try again later)."""
    code = str(getattr(error, "code", "") or "")
    return code == "resource_unavailable" or "resource unavailable" in str(error).lower()
