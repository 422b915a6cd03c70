"""What one Gemini request asks (contents, JSON schema, token caps) and what its answer says.

Answers are JSON-schema structured output (``response_mime_type: application/json`` with
``response_json_schema``). The step's strict schema (:mod:`..llm.schema`) is adapted to the
subset Gemini takes: ``$ref`` inlined, ``const`` as a one-value ``enum``, no ``default``.

``maxOutputTokens`` is tight per task, plus what the model thinks: Gemini bills thinking tokens
as output and counts them against the cap, so 2.5 Flash and Flash-Lite think not at all,
2.5 Pro at its minimum and the 3.x models at the ``low`` level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ...steps import Task
from ..llm.prompt import reask_message, user_message
from ..llm.schema import AnswerSpec, error_text
from ..prices import Usage

__all__ = [
    "Parsed",
    "gemini_schema",
    "generation_config",
    "max_output_tokens",
    "first_turn",
    "reask_turns",
    "read_response",
    "estimate_tokens",
]

_ANSWER_TOKENS = {Task.CLASSIFY: 300, Task.SCORE: 300, Task.EXTRACT: 300, Task.GENERATE: 1_500}
# Finish reasons that mean the model will not answer this row: asking again only pays again.
_BLOCKED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "LANGUAGE"}
_DROP = {"default", "examples"}


def estimate_tokens(text: str) -> int:
    """Characters / 4, rounded up (what a quota counts before it has tokenised a request).

    >>> estimate_tokens("abcde")
    2
    """
    return (len(text) + 3) // 4


def gemini_schema(spec: AnswerSpec) -> dict[str, Any]:
    """The step's answer schema in the JSON-schema subset Gemini accepts.

    >>> node = _adapt({"$defs": {"K": {"const": "a"}}, "properties": {"k": {"$ref": "#/$defs/K"}}})
    >>> node
    {'properties': {'k': {'enum': ['a']}}}
    """
    return _adapt(spec.json_schema())


def _adapt(schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema.get("$defs") or {}

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return walk(
                {**defs[ref.split("/")[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
            )
        out = {k: walk(v) for k, v in node.items() if k not in _DROP and k != "$defs"}
        if "const" in out:
            out["enum"] = [out.pop("const")]
        return out

    result = walk(schema)
    assert isinstance(result, dict)
    return result


def thinking(model: str) -> tuple[dict[str, Any] | None, int]:
    """The thinking config for ``model`` and the output tokens to allow for it.

    >>> thinking("gemini-2.5-flash"), thinking("gemini-3-flash-preview")[1]
    (({'thinking_budget': 0}, 0), 2048)
    """
    name = model.casefold()
    if name.startswith("gemini-2.5-pro"):
        return {"thinking_budget": 128}, 128
    if name.startswith("gemini-2.5"):
        return {"thinking_budget": 0}, 0
    if name.startswith("gemini-3"):
        return {"thinking_level": "low"}, 2_048
    return None, 0


def max_output_tokens(spec: AnswerSpec, model: str) -> int:
    """The answer's token cap: per task (extract: 40 more per field), plus thinking."""
    return _ANSWER_TOKENS[spec.step.task] + 40 * len(spec.fields) + thinking(model)[1]


def generation_config(spec: AnswerSpec, system: str, model: str) -> dict[str, Any]:
    """The ``GenerateContentConfig`` of every request of a step (as the SDK's dict)."""
    config: dict[str, Any] = {
        "system_instruction": system,
        "response_mime_type": "application/json",
        "response_json_schema": gemini_schema(spec),
        "max_output_tokens": max_output_tokens(spec, model),
        "candidate_count": 1,
    }
    think = thinking(model)[0]
    if think is not None:
        config["thinking_config"] = think
    return config


def first_turn(text: str) -> list[dict[str, Any]]:
    """The row as the only user turn, fenced off as data."""
    return [{"role": "user", "parts": [{"text": user_message(text)}]}]


def reask_turns(contents: list[dict[str, Any]], answer: str, error: str) -> list[dict[str, Any]]:
    """The conversation asking once more after an answer that broke the schema."""
    again = str(reask_message(error)["content"])
    return [
        *contents,
        {"role": "model", "parts": [{"text": answer}]},
        {"role": "user", "parts": [{"text": again}]},
    ]


@dataclass
class Parsed:
    """What a response said: an answer (``values``) or why it is not valid."""

    content: str
    usage: Usage = field(default_factory=Usage)
    values: list[Any] | None = None
    reasoning: str = ""
    confidence: float | None = None
    error: str = ""
    # No answer will come from asking again (blocked, cut off): the row is flagged with error.
    hopeless: bool = False

    @property
    def tokens(self) -> int:
        u = self.usage
        return u.input_tokens + u.cached_tokens + u.output_tokens


def _usage(meta: Any) -> Usage:
    """Billed tokens from ``usageMetadata``; thinking is billed as output, cached input apart."""
    if meta is None:
        return Usage()
    prompt = meta.prompt_token_count or 0
    cached = min(prompt, meta.cached_content_token_count or 0)
    out = (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)
    return Usage(input_tokens=prompt - cached, output_tokens=out, cached_tokens=cached)


def _name(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


def read_response(spec: AnswerSpec, response: Any, limit: int) -> Parsed:
    """Validate a ``GenerateContentResponse`` against the step's answer model."""
    candidates = response.candidates or []
    candidate = candidates[0] if candidates else None
    parts = (candidate.content.parts or []) if candidate and candidate.content else []
    text = "".join(p.text for p in parts if p.text and not p.thought)
    parsed = Parsed(text, _usage(response.usage_metadata))
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason:
        return _hopeless(parsed, f"Gemini blocked the prompt ({_name(feedback.block_reason)})")
    if candidate is None:
        return _hopeless(parsed, "Gemini's reply held no answer (no candidates)")
    reason = _name(candidate.finish_reason)
    if reason in _BLOCKED:
        return _hopeless(parsed, f"Gemini stopped the answer ({reason})")
    try:
        answer = spec.validate(text)
    except ValidationError as error:
        if reason == "MAX_TOKENS":
            why = f"the answer was cut off at the {limit}-token limit (MAX_TOKENS)"
            return _hopeless(parsed, why)
        parsed.error = error_text(error)
        return parsed
    parsed.values, parsed.reasoning, parsed.confidence = spec.cells(answer)
    return parsed


def _hopeless(parsed: Parsed, why: str) -> Parsed:
    parsed.error, parsed.hopeless = why, True
    return parsed
