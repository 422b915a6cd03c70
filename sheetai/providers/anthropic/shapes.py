"""The Messages API request of one row: the step's constant part first, cached; the row last.

Anthropic caches a prompt's prefix up to a ``cache_control`` mark. Everything that is the same
for every row of a step (instructions, labels with their descriptions, examples, the schema's
wording) is the system block, marked ``{"type": "ephemeral"}``; the row alone is the user
message. The answer's shape is asked for one of two ways (:func:`.client.output_method`):

- ``json_schema``: ``output_config.format`` with the step's JSON schema (the 4.5 models on);
- ``tool``: one tool whose ``input_schema`` is that schema, forced by ``tool_choice``
  (``strict`` on models with structured outputs; earlier models are checked by pydantic alone).

The schema is the strict one of :mod:`sheetai.providers.llm.schema`, passed through the SDK's
``transform_schema`` (bounds Anthropic does not enforce move into the description).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anthropic

from ..llm.prompt import reask_message, user_message
from ..llm.schema import AnswerSpec

__all__ = ["Shape"]


@dataclass
class Shape:
    """Builds every request body of one step for one model."""

    spec: AnswerSpec
    model: str
    system: str
    max_tokens: int
    method: str = "json_schema"
    strict_tool: bool = True
    _schema: dict[str, Any] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._schema = anthropic.transform_schema(self.spec.json_schema())

    @property
    def tool_name(self) -> str:
        return f"record_{self.spec.name.lower()}"

    def body(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The ``POST /v1/messages`` body for ``messages`` (the row, and a re-ask if any)."""
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "system": [
                {"type": "text", "text": self.system, "cache_control": {"type": "ephemeral"}}
            ],
            "messages": messages,
        }
        if self.method == "tool":
            tool: dict[str, Any] = {
                "name": self.tool_name,
                "description": f"Record the {self.spec.name.lower()} of the row.",
                "input_schema": self._schema,
            }
            if self.strict_tool:
                tool["strict"] = True
            body["tools"] = [tool]
            body["tool_choice"] = {"type": "tool", "name": self.tool_name}
        else:
            body["output_config"] = {"format": {"type": "json_schema", "schema": self._schema}}
        return body

    def first(self, text: str) -> list[dict[str, Any]]:
        """The messages of a row's first request."""
        return [{"role": "user", "content": user_message(text)}]

    def reask(
        self, messages: list[dict[str, Any]], reply: list[dict[str, Any]], error: str
    ) -> list[dict[str, Any]]:
        """``messages`` followed by the answer that did not fit and why (sent once).

        A forced tool's answer must be followed by its ``tool_result``: the error goes there.
        """
        uses = [b for b in reply if b.get("type") == "tool_use"]
        if uses:
            said = reask_message(error)["content"]
            result = {"type": "tool_result", "tool_use_id": uses[0].get("id"), "content": said}
            return [
                *messages,
                {"role": "assistant", "content": uses[:1]},
                {"role": "user", "content": [{**result, "is_error": True}]},
            ]
        text = "".join(str(b.get("text") or "") for b in reply if b.get("type") == "text")
        return [*messages, {"role": "assistant", "content": text or "{}"}, reask_message(error)]
