"""The answer schemas sent to OpenAI: accepted by strict mode, and unchanged across releases.

The schema is part of every cache key, so a schema that changed shape without a reason would
make every cached answer miss and be paid for again.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field, create_model

from sheetai.config import parse_config
from sheetai.providers.llm.prompt import prompt_fingerprint, system_prompt
from sheetai.providers.llm.schema import answer_spec
from sheetai.providers.llm.strict import strict_json_schema
from sheetai.steps import Step

from .conftest import CONFIG_HEADER, sentiment_step

# What OpenAI's structured outputs accept in strict mode (platform.openai.com, "Supported
# schemas"); anything else is refused when the request is sent.
_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf",
    "$ref", "$defs", "description", "title", "format", "pattern", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
}  # fmt: skip
_FORMATS = {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}


def strict_problems(schema: dict[str, Any], where: str = "#") -> list[str]:
    """Why OpenAI's strict mode would refuse ``schema`` (empty when it would accept it)."""
    problems = [f"{where}: unsupported keyword {key!r}" for key in schema if key not in _KEYWORDS]
    if "$ref" in schema and len(schema) > 1:
        problems.append(f"{where}: $ref with siblings")
    if "format" in schema and schema["format"] not in _FORMATS:
        problems.append(f"{where}: unsupported format {schema['format']!r}")
    if schema.get("type") == "object":
        if schema.get("additionalProperties") is not False:
            problems.append(f"{where}: additionalProperties is not false")
        if schema.get("required") != list(schema.get("properties", {})):
            problems.append(f"{where}: not every property is required")
    for key, value in schema.get("properties", {}).items():
        problems += strict_problems(value, f"{where}/properties/{key}")
    for key, value in schema.get("$defs", {}).items():
        problems += strict_problems(value, f"{where}/$defs/{key}")
    for i, value in enumerate(schema.get("anyOf", [])):
        problems += strict_problems(value, f"{where}/anyOf/{i}")
    if isinstance(schema.get("items"), dict):
        problems += strict_problems(schema["items"], f"{where}/items")
    return problems


def step_of(task: str, labels: str, examples: str = "") -> Step:
    row = sentiment_step(Task=task, Labels=labels, Examples=examples, Model="gpt-4o-mini")
    (step,) = parse_config([CONFIG_HEADER, row], {"Feedback": ["Review"]})
    return step


# (task, Labels cell, the prompt fingerprint: computed by the release that used the OpenAI SDK's
# own strict-schema helper, so answers it cached are found again)
STEPS = [
    ("classify", "Positive: happy, thankful\nNeutral\nNegative: angry", "69d5c94d3c895a7379a6320e"),
    ("extract", "amount: number\nwhen: date\nsize: one of S|M|L\nnote", "6096d4eab44c8b35b5549115"),
    ("score", "", "a9cac3aa11fb16b34a8e94b0"),
    ("score", "0 to 100", "20728519cb70622b8b09ba12"),
    ("score", "0..1", "395d22e9a88e795da41a890a"),
    ("generate", "", "571ed5862d95ecfe91f9044f"),
]  # fmt: skip


@pytest.mark.parametrize(("task", "labels", "fingerprint"), STEPS)
def test_every_task_s_schema_is_strict_and_keeps_its_cache_key(
    task: str, labels: str, fingerprint: str
) -> None:
    spec = answer_spec(step_of(task, labels))
    schema = spec.json_schema()
    assert strict_problems(schema) == []
    assert spec.response_format()["json_schema"]["strict"] is True
    assert prompt_fingerprint("gpt-4o-mini", system_prompt(spec), schema) == fingerprint


def test_an_extract_schema_has_a_nullable_typed_property_per_field() -> None:
    schema = answer_spec(
        step_of("extract", "amount: number\nwhen: date\nsize: one of S|M")
    ).json_schema()
    assert schema["required"] == ["amount", "when", "size", "reasoning"]
    assert schema["properties"]["when"]["anyOf"] == [
        {"format": "date", "type": "string"},
        {"type": "null"},
    ]
    assert schema["properties"]["size"]["anyOf"][0] == {"enum": ["S", "M"], "type": "string"}


class _Address(BaseModel):
    street: str
    city: str | None = None


def test_nested_models_are_closed_and_a_described_ref_is_inlined() -> None:
    model = create_model(
        "Order",
        ship_to=(_Address, Field(description="where it goes")),
        bill_to=(_Address, ...),
        lines=(list[_Address], ...),
    )
    schema = strict_json_schema(model)
    assert strict_problems(schema) == []
    assert schema["properties"]["ship_to"]["description"] == "where it goes"
    assert schema["properties"]["ship_to"]["required"] == ["street", "city"]
    assert schema["properties"]["bill_to"] == {"$ref": "#/$defs/_Address"}
    assert schema["$defs"]["_Address"]["additionalProperties"] is False
    assert "default" not in schema["$defs"]["_Address"]["properties"]["city"]


def test_the_checker_catches_what_strict_mode_refuses() -> None:
    loose = {"type": "object", "properties": {"a": {"type": "string", "default": "x"}}}
    assert strict_problems(loose) == [
        "#: additionalProperties is not false",
        "#: not every property is required",
        "#/properties/a: unsupported keyword 'default'",
    ]
