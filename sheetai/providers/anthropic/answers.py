"""Turn a Messages API reply (plain JSON, as the server sent it) into what the row gets.

Shared by live requests and Message Batches. ``stop_reason`` ``refusal`` and ``max_tokens`` are
final (asking again would only pay again): the row is flagged with the reason. An answer that
breaks the schema may be asked again once (the caller decides).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..llm.schema import AnswerSpec, error_text
from ..prices import Usage
from .client import MAX_TOKENS_SETTING

__all__ = ["Reply", "read_reply", "usage_of"]


@dataclass
class Reply:
    """What one reply said: an answer (``values``) or why there is none."""

    usage: Usage
    content: list[dict[str, Any]]
    values: list[Any] | None = None
    reasoning: str = ""
    confidence: float | None = None
    error: str = ""
    hopeless: bool = False  # a refusal or a cut-off answer: not asked again

    @property
    def tokens(self) -> int:
        u = self.usage
        return u.input_tokens + u.cached_tokens + u.cache_write_tokens + u.output_tokens

    def text(self) -> str:
        """The answer as a person may read it in the reasoning cell of an invalid row."""
        parts = []
        for block in self.content:
            if block.get("type") == "tool_use":
                parts.append(json.dumps(block.get("input"), ensure_ascii=False))
            elif block.get("type") == "text":
                parts.append(str(block.get("text") or ""))
        return "".join(parts)[:2000]


def _count(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def usage_of(message: dict[str, Any]) -> Usage:
    """The reply's billed tokens by price (Anthropic's ``input_tokens`` exclude cache tokens).

    >>> usage_of({"usage": {"input_tokens": 5, "output_tokens": 7,
    ...     "cache_read_input_tokens": 100, "cache_creation_input_tokens": None}})
    Usage(input_tokens=5, output_tokens=7, cached_tokens=100, cache_write_tokens=0)
    """
    usage = message.get("usage") or {}
    return Usage(
        input_tokens=_count(usage.get("input_tokens")),
        output_tokens=_count(usage.get("output_tokens")),
        cached_tokens=_count(usage.get("cache_read_input_tokens")),
        cache_write_tokens=_count(usage.get("cache_creation_input_tokens")),
    )


def read_reply(spec: AnswerSpec, message: dict[str, Any], max_tokens: int) -> Reply:
    """Validate a ``message`` against the step's answer model."""
    content = [b for b in message.get("content") or [] if isinstance(b, dict)]
    reply = Reply(usage_of(message), content)
    stop = message.get("stop_reason")
    if stop == "refusal":
        reply.error, reply.hopeless = "the model refused to answer (stop_reason: refusal)", True
        return reply
    if stop == "max_tokens":
        reply.error = (
            f"the answer was cut off at the {max_tokens}-token limit; raise {MAX_TOKENS_SETTING}"
        )
        reply.hopeless = True
        return reply
    uses = [b for b in content if b.get("type") == "tool_use"]
    try:
        if uses:
            answer = spec.model.model_validate(uses[0].get("input"))
        else:
            text = "".join(str(b.get("text") or "") for b in content if b.get("type") == "text")
            answer = spec.validate(text)
    except ValidationError as error:
        reply.error = error_text(error)
        return reply
    reply.values, reply.reasoning, reply.confidence = spec.cells(answer)
    return reply
