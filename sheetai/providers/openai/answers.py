"""Turn a chat completion (plain JSON, as the server sent it) into a row's result.

Shared by the live runner and the Batch API collector. The SDK's pydantic response models are
skipped on purpose: decoding the JSON once is a fraction of the client CPU per row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ...steps import Task
from ..llm.schema import AnswerSpec, error_text

__all__ = ["Parsed", "parse_completion", "label_probability"]


@dataclass
class Parsed:
    """What a completion said: an answer (values...) or why it is not valid."""

    content: str
    tokens_in: int
    tokens_out: int
    tokens_cached: int = 0  # of tokens_in, read from the prompt cache
    values: list[Any] | None = None
    reasoning: str = ""
    confidence: float | None = None
    confidence_from_logprobs: bool = False
    error: str = ""
    # The completion holds no answer and asking again would only pay again: a refusal, an
    # empty reply, an answer cut off at the token cap. The row fails with ``error``.
    hopeless: bool = False
    cut_off: bool = False  # ... because the answer reached the output cap: a larger one may do


def parse_completion(spec: AnswerSpec, data: dict[str, Any]) -> Parsed:
    """Validate a ``chat.completion`` body against the step's answer model."""
    usage = data.get("usage") or {}
    choices = data.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = choice.get("message")
    message = message if isinstance(message, dict) else {}
    content = message.get("content") or ""
    parsed = Parsed(
        content if isinstance(content, str) else str(content),
        _count(usage.get("prompt_tokens")),
        _count(usage.get("completion_tokens")),
        _cached_tokens(usage),
    )
    if not choice:
        return _hopeless(parsed, "the server's reply held no answer (no choices)")
    if message.get("refusal"):
        return _hopeless(parsed, f"the model refused: {message['refusal']}")
    try:
        answer = spec.validate(parsed.content)
    except ValidationError as error:
        if choice.get("finish_reason") == "length":
            parsed.cut_off = True
            return _hopeless(parsed, _cut_off_text(parsed, usage))
        parsed.error = error_text(error)
        return parsed
    parsed.values, parsed.reasoning, parsed.confidence = spec.cells(answer)
    if spec.step.task is Task.CLASSIFY:
        probability = label_probability(choice.get("logprobs"), content, parsed.values[0])
        if probability is not None:
            parsed.confidence = probability
            parsed.confidence_from_logprobs = True
    return parsed


def _hopeless(parsed: Parsed, why: str) -> Parsed:
    parsed.error, parsed.hopeless = why, True
    return parsed


def _cut_off_text(parsed: Parsed, usage: dict[str, Any]) -> str:
    details = usage.get("completion_tokens_details") or {}
    thinking = _count(details.get("reasoning_tokens") if isinstance(details, dict) else 0)
    # Short enough to fit a flag cell whole: the setting to change is the point.
    where = f"the {parsed.tokens_out}-token limit" if parsed.tokens_out else "the token limit"
    if not parsed.content.strip() and thinking:
        return f"the model spent {where} reasoning; raise SHEETAI_OPENAI_MAX_OUTPUT_TOKENS"
    return f"the answer was cut off at {where}; raise SHEETAI_OPENAI_MAX_OUTPUT_TOKENS"


def _cached_tokens(usage: dict[str, Any]) -> int:
    details = usage.get("prompt_tokens_details")
    return _count(details.get("cached_tokens")) if isinstance(details, dict) else 0


def _count(value: Any) -> int:
    """A token count from a reply, 0 when missing or not a number."""
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def label_probability(logprobs: Any, content: str, label: str) -> float | None:
    """P(label) from token log-probabilities: the product over the label's tokens.

    None when the server sent no log-probabilities or they do not line up with the content.

    >>> lp = {"content": [{"token": '{"label":"', "logprob": 0.0},
    ...     {"token": "Pos", "logprob": math.log(0.8)}, {"token": "itive", "logprob": 0.0},
    ...     {"token": '"}', "logprob": 0.0}]}
    >>> round(label_probability(lp, '{"label":"Positive"}', "Positive"), 3)
    0.8
    """
    tokens = (logprobs or {}).get("content") if isinstance(logprobs, dict) else None
    if not tokens:
        return None
    key = content.find('"label"')
    if key < 0:
        return None
    start = content.find('"', content.find(":", key) + 1) + 1
    end = start + len(label)
    if content[start:end] != label:
        return None
    total, offset, seen = 0.0, 0, False
    for entry in tokens:
        token = entry.get("token") or ""
        if offset < end and offset + len(token) > start:
            total += float(entry.get("logprob") or 0.0)
            seen = True
        offset += len(token)
        if offset >= end:
            break
    if not seen or offset < end:
        return None
    return round(min(1.0, math.exp(total)), 4)
