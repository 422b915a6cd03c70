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
from .schema import AnswerSpec, error_text

__all__ = ["Parsed", "parse_completion", "label_probability"]


@dataclass
class Parsed:
    """What a completion said: an answer (values...) or why it is not valid."""

    content: str
    tokens_in: int
    tokens_out: int
    values: list[Any] | None = None
    reasoning: str = ""
    confidence: float | None = None
    confidence_from_logprobs: bool = False
    error: str = ""


def parse_completion(spec: AnswerSpec, data: dict[str, Any]) -> Parsed:
    """Validate a ``chat.completion`` body against the step's answer model."""
    usage = data.get("usage") or {}
    choices = data.get("choices") or [{}]
    choice = choices[0] or {}
    message = choice.get("message") or {}
    content = message.get("content") or ""
    parsed = Parsed(
        content,
        int(usage.get("prompt_tokens") or 0),
        int(usage.get("completion_tokens") or 0),
    )
    if message.get("refusal"):
        parsed.error = f"the model refused: {message['refusal']}"
        return parsed
    try:
        answer = spec.validate(content)
    except ValidationError as error:
        parsed.error = error_text(error)
        if choice.get("finish_reason") == "length":
            parsed.error = "the answer was cut off (max tokens); " + parsed.error
        return parsed
    parsed.values, parsed.reasoning, parsed.confidence = spec.cells(answer)
    if spec.step.task is Task.CLASSIFY:
        probability = label_probability(choice.get("logprobs"), content, parsed.values[0])
        if probability is not None:
            parsed.confidence = probability
            parsed.confidence_from_logprobs = True
    return parsed


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
