"""The answer a step expects, as a pydantic model built from the step (the contract with the LLM).

- ``classify`` -> ``{reasoning, label: one of the labels, confidence: 0-1}``
- ``extract``  -> one typed field per :class:`~sheetai.steps.ExtractField` of the step, plus
  ``reasoning``
- ``generate`` -> ``{text}``
- ``score``    -> ``{reasoning, score: a number in the step's score range}`` (default 1-5)

``reasoning`` comes first so a model thinks before it commits to an answer. The step arrives
parsed (:mod:`sheetai.config` read its fields and score range); nothing here reads config text.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from ...errors import ProviderError
from ...steps import DEFAULT_SCORE_RANGE, ExtractField, ScoreRange, Step, Task
from .strict import strict_json_schema

__all__ = ["AnswerSpec", "answer_spec", "error_text"]


def _python_type(field: ExtractField) -> Any:
    if field.type == "choice":
        return Literal[field.choices]  # type: ignore[valid-type]
    return {"text": str, "number": float, "date": dt.date, "bool": bool}[field.type]


@dataclass
class AnswerSpec:
    """The response model of a step and how an answer becomes cells."""

    step: Step
    model: type[BaseModel]
    value_keys: list[str]  # attribute names holding the value cells, in column order
    fields: list[ExtractField]
    score_range: ScoreRange | None = None

    @property
    def name(self) -> str:
        return {
            Task.CLASSIFY: "Classification",
            Task.EXTRACT: "Extraction",
            Task.GENERATE: "Generation",
            Task.SCORE: "Score",
        }[self.step.task]

    def json_schema(self) -> dict[str, Any]:
        """The strict JSON schema sent as ``response_format``."""
        return strict_json_schema(self.model)

    def response_format(self) -> dict[str, Any]:
        return {
            "type": "json_schema",
            "json_schema": {"name": self.name, "strict": True, "schema": self.json_schema()},
        }

    def validate(self, content: str) -> BaseModel:
        """Parse a completion; raises :class:`pydantic.ValidationError` when it does not fit."""
        return self.model.model_validate_json(content)

    def cells(self, answer: BaseModel) -> tuple[list[Any], str, float | None]:
        """``(values, reasoning, self-reported confidence)`` of a validated answer."""
        values = [getattr(answer, key) for key in self.value_keys]
        if self.score_range is not None and self.score_range.whole_bounds:
            values = [int(v) if float(v).is_integer() else v for v in values]
        reasoning = str(getattr(answer, "reasoning", "") or "")
        confidence = getattr(answer, "confidence", None)
        return values, reasoning, None if confidence is None else float(confidence)

    def from_cache(self, values: list[Any]) -> list[Any]:
        """Values read back from JSON (dates arrive as ISO strings)."""
        out = list(values)
        for i, field in enumerate(self.fields):
            if field.type == "date" and isinstance(out[i], str):
                with contextlib.suppress(ValueError):
                    out[i] = dt.date.fromisoformat(out[i])
        return out


def answer_spec(step: Step) -> AnswerSpec:
    """Build the response model for ``step``; raises ProviderError for a step that cannot have
    one (a classify step without two labels, an extract step without fields)."""
    config = ConfigDict(populate_by_name=True, extra="forbid")
    reasoning = (str, Field(description="One or two sentences: why this answer."))
    if step.task is Task.CLASSIFY:
        names = tuple(step.label_names)
        if len(names) < 2:
            raise ProviderError(f"step '{step.name}': classify needs at least two labels.")
        model = create_model(
            "Classification",
            __config__=config,
            reasoning=reasoning,
            label=(Literal[names], ...),  # type: ignore[valid-type,arg-type]
            confidence=(float, Field(ge=0, le=1, description="Probability that label is right")),
        )
        return AnswerSpec(step, model, ["label"], [])
    if step.task is Task.SCORE:
        scores = step.score_range or DEFAULT_SCORE_RANGE
        kind: Any = float if scores.decimals else int
        bounds = (
            (scores.low, scores.high) if scores.decimals else (int(scores.low), int(scores.high))
        )
        model = create_model(
            "Score",
            __config__=config,
            reasoning=reasoning,
            score=(kind, Field(ge=bounds[0], le=bounds[1])),
        )
        return AnswerSpec(step, model, ["score"], [], score_range=scores)
    if step.task is Task.GENERATE:
        model = create_model("Generation", __config__=config, text=(str, ...))
        return AnswerSpec(step, model, ["text"], [])
    fields = step.fields
    if not fields:
        raise ProviderError(
            f"step '{step.name}': an extract step needs its fields in Labels, one per line, "
            "e.g. 'price: number'."
        )
    definitions: dict[str, Any] = {}
    keys = []
    for index, field in enumerate(fields):
        key = f"f{index}"
        keys.append(key)
        definitions[key] = (_python_type(field) | None, Field(alias=field.name))
    if all(f.name != "reasoning" for f in fields):
        definitions["reasoning"] = reasoning
    model = create_model("Extraction", __config__=config, **definitions)
    return AnswerSpec(step, model, keys, fields)


def error_text(error: ValidationError | ValueError) -> str:
    """A short description of why an answer was rejected, for the re-ask and the flag."""
    if isinstance(error, ValidationError):
        parts = []
        for item in error.errors()[:5]:
            where = ".".join(str(p) for p in item.get("loc", ())) or "answer"
            parts.append(f"{where}: {item.get('msg', 'invalid')}")
        return "; ".join(parts)
    return str(error)
