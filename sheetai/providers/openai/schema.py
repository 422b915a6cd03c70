"""The answer a step expects, as a pydantic model built from the step (the contract with the LLM).

- ``classify`` -> ``{reasoning, label: one of the labels, confidence: 0-1}``
- ``extract``  -> one typed field per ``Labels`` line (``field: text | number | date | bool |
  one of a|b|c``), plus ``reasoning``
- ``generate`` -> ``{text}``
- ``score``    -> ``{reasoning, score: a number in the range given in Labels}`` (default 1-5)

``reasoning`` comes first so a model thinks before it commits to an answer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

from openai.lib._pydantic import to_strict_json_schema
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from ...errors import ProviderError
from ...steps import Step, Task

__all__ = [
    "AnswerSpec",
    "FieldSpec",
    "answer_spec",
    "parse_fields",
    "parse_score_range",
    "DEFAULT_SCORE_RANGE",
]

#: The range of a ``score`` step whose Labels cell is blank.
DEFAULT_SCORE_RANGE = (1.0, 5.0)
_TYPES = ("text", "number", "date", "bool")
_RANGE_RE = re.compile(
    r"^\s*(-?\d+(?:\.\d+)?)\s*(?:-|–|—|to|\.\.)\s*(-?\d+(?:\.\d+)?)\s*$", re.IGNORECASE
)


@dataclass(frozen=True)
class FieldSpec:
    """One extracted field: its name (the JSON key and column suffix) and its type."""

    name: str
    kind: str  # text | number | date | bool | choice
    choices: tuple[str, ...] = ()


def parse_fields(step: Step) -> list[FieldSpec]:
    """The fields of an ``extract`` step, from its ``field: type`` label lines.

    A blank type means text; ``one of a|b|c`` (or ``a|b|c``) is a choice.

    >>> from sheetai.steps import Label
    >>> s = Step(name="e", sheet="S", inputs=["x"], task=Task.EXTRACT, output="O", model="m",
    ...          labels=[Label(name="price", description="number"),
    ...                  Label(name="size", description="one of S|M|L")])
    >>> [(f.name, f.kind, f.choices) for f in parse_fields(s)]
    [('price', 'number', ()), ('size', 'choice', ('S', 'M', 'L'))]
    """
    fields = []
    for label in step.labels:
        kind = label.description.strip().casefold()
        if not kind:
            kind = "text"
        if kind.startswith("one of") or "|" in kind:
            raw = label.description.strip()
            raw = raw[6:] if raw.casefold().startswith("one of") else raw
            choices = tuple(c.strip() for c in re.split(r"[|/]", raw) if c.strip())
            if len(choices) < 2:
                raise ProviderError(
                    f"step '{step.name}': field '{label.name}' lists fewer than two choices. "
                    "Write e.g. 'size: one of S|M|L'."
                )
            fields.append(FieldSpec(label.name, "choice", choices))
            continue
        kind = {"string": "text", "float": "number", "int": "number", "boolean": "bool"}.get(
            kind, kind
        )
        if kind not in _TYPES:
            raise ProviderError(
                f"step '{step.name}': field '{label.name}' has unknown type "
                f"'{label.description}'. Use text, number, date, bool or 'one of a|b|c'."
            )
        fields.append(FieldSpec(label.name, kind))
    if not fields:
        raise ProviderError(
            f"step '{step.name}': an extract step needs its fields in Labels, one per line, "
            "e.g. 'price: number'."
        )
    return fields


def parse_score_range(text: str) -> tuple[float, float]:
    """The ``(low, high)`` range of a score step's Labels cell; blank means 1-5.

    >>> parse_score_range("1-5"), parse_score_range("0 to 100"), parse_score_range("")
    ((1.0, 5.0), (0.0, 100.0), (1.0, 5.0))
    """
    if not text.strip():
        return DEFAULT_SCORE_RANGE
    match = _RANGE_RE.match(text.strip())
    if not match:
        raise ValueError(text)
    low, high = float(match.group(1)), float(match.group(2))
    if high <= low:
        raise ValueError(text)
    return low, high


def whole_number_scores(text: str, low: float, high: float) -> bool:
    """Whether a score range asks for whole numbers: whole bounds written without a decimal
    point, more than one apart (``0..1`` as whole numbers would only allow 0 or 1).

    >>> whole_number_scores("1-5", 1.0, 5.0), whole_number_scores("0..1", 0.0, 1.0)
    (True, False)
    >>> whole_number_scores("0.0 to 10.0", 0.0, 10.0)
    False
    """
    written_decimal = re.search(r"\d\.\d", text) is not None
    return low.is_integer() and high.is_integer() and high - low > 1 and not written_decimal


def _python_type(field: FieldSpec) -> Any:
    if field.kind == "choice":
        return Literal[field.choices]  # type: ignore[valid-type]
    return {"text": str, "number": float, "date": dt.date, "bool": bool}[field.kind]


@dataclass
class AnswerSpec:
    """The response model of a step and how an answer becomes cells."""

    step: Step
    model: type[BaseModel]
    value_keys: list[str]  # attribute names holding the value cells, in column order
    fields: list[FieldSpec]
    score_range: tuple[float, float] | None = None

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
        return to_strict_json_schema(self.model)

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
        if self.score_range is not None and all(v == int(v) for v in self.score_range):
            values = [int(v) if float(v).is_integer() else v for v in values]
        reasoning = str(getattr(answer, "reasoning", "") or "")
        confidence = getattr(answer, "confidence", None)
        return values, reasoning, None if confidence is None else float(confidence)

    def from_cache(self, values: list[Any]) -> list[Any]:
        """Values read back from JSON (dates arrive as ISO strings)."""
        out = list(values)
        for i, field in enumerate(self.fields):
            if field.kind == "date" and isinstance(out[i], str):
                with contextlib.suppress(ValueError):
                    out[i] = dt.date.fromisoformat(out[i])
        return out


def answer_spec(step: Step) -> AnswerSpec:
    """Build the response model for ``step``; raises ProviderError for an unusable config."""
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
        try:
            low, high = parse_score_range(step.labels_text)
        except ValueError:
            raise ProviderError(
                f"step '{step.name}': Labels of a score step must be a range such as '1-5' or "
                f"'0 to 100' (blank means 1-5), not '{step.labels_text}'."
            ) from None
        kind: Any = int if whole_number_scores(step.labels_text, low, high) else float
        bounds = (int(low), int(high)) if kind is int else (low, high)
        model = create_model(
            "Score",
            __config__=config,
            reasoning=reasoning,
            score=(kind, Field(ge=bounds[0], le=bounds[1])),
        )
        return AnswerSpec(step, model, ["score"], [], score_range=(low, high))
    if step.task is Task.GENERATE:
        model = create_model("Generation", __config__=config, text=(str, ...))
        return AnswerSpec(step, model, ["text"], [])
    fields = parse_fields(step)
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
