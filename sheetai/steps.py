"""A step of the job: one row of the config tab, validated."""

from __future__ import annotations

import hashlib
import json
from enum import Enum
from typing import Literal

from pydantic import BaseModel, Field

from .row_outputs import OutputSlots

__all__ = [
    "Task",
    "Label",
    "Example",
    "ExtractField",
    "ScoreRange",
    "DEFAULT_SCORE_RANGE",
    "Step",
    "OutputColumns",
]


class Task(str, Enum):
    """What a step asks of the model."""

    CLASSIFY = "classify"
    EXTRACT = "extract"
    GENERATE = "generate"
    SCORE = "score"


class Label(BaseModel):
    """One allowed answer of a ``classify`` step (or a field of an ``extract`` step)."""

    name: str
    description: str = ""

    def prompt_text(self) -> str:
        return f"{self.name}: {self.description}" if self.description else self.name


class ExtractField(BaseModel, frozen=True):
    """One field of an ``extract`` step: its name (the JSON key and column suffix) and type.

    ``type`` is ``text``, ``number``, ``date``, ``bool`` or ``choice`` (one of ``choices``).
    """

    name: str
    type: Literal["text", "number", "date", "bool", "choice"]
    choices: tuple[str, ...] = ()


class ScoreRange(BaseModel, frozen=True):
    """The range of a ``score`` step, and whether a score may have decimals (``0..1``) or is a
    whole number (``1-5``)."""

    low: float
    high: float
    decimals: bool

    @property
    def whole_bounds(self) -> bool:
        """Both ends are whole numbers, so a whole answer is written as an integer."""
        return self.low.is_integer() and self.high.is_integer()


#: The range of a ``score`` step whose Labels cell is blank.
DEFAULT_SCORE_RANGE = ScoreRange(low=1.0, high=5.0, decimals=False)


class Example(BaseModel):
    """A worked example: this input should get this answer."""

    text: str
    label: str


#: The headers of the columns a step writes, in the order they are written.
OutputColumns = OutputSlots[str]


class Step(BaseModel):
    """One configured step. ``row`` is its row on the config tab, for error messages.

    The config tab parses everything a provider needs: ``labels`` (classify), ``fields``
    (extract) and ``score_range`` (score); ``labels_text`` is the Labels cell as written.
    """

    name: str
    sheet: str
    inputs: list[str]
    task: Task
    instructions: str = ""
    labels: list[Label] = Field(default_factory=list)
    labels_text: str = ""
    fields: list[ExtractField] = Field(default_factory=list)
    score_range: ScoreRange | None = None
    output: str
    model: str
    min_confidence: float = 0.0
    examples: list[Example] = Field(default_factory=list)
    row: int = 0
    #: A model that answers this run *for* the step (``--only-flagged --model``): not part of
    #: the fingerprint, so its answers stand as the step's own.
    run_model: str | None = None

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]

    @property
    def gold_column(self) -> str:
        """Header of the column where a person records the right answer, if they do."""
        return f"{self.output} (gold)"

    def output_columns(self) -> OutputColumns:
        if self.task is Task.EXTRACT and self.labels:
            values = [f"{self.output} {label.name}" for label in self.labels]
        else:
            values = [self.output]
        return OutputColumns(
            values=values,
            reasoning=f"{self.output} reasoning",
            confidence=f"{self.output} confidence",
            flag=f"{self.output} flag",
        )

    def fingerprint(self) -> str:
        """A hash of everything that changes the answer; a new one re-runs every row.

        ``min_confidence`` is left out on purpose: moving the threshold only re-flags; so is
        the spelling of the Labels cell (only the parsed labels count). ``fields`` and
        ``score_range`` are read from the Labels cell, so its labels already stand for them.
        """
        definition = {
            "task": self.task.value,
            # The model sees input names only when there are several ("Header: value" lines).
            "inputs": [name.casefold() for name in self.inputs] if len(self.inputs) > 1 else [],
            "instructions": self.instructions,
            "labels": [label.model_dump() for label in self.labels],
            "examples": [example.model_dump() for example in self.examples],
            "model": self.model.strip().casefold(),
        }
        blob = json.dumps(definition, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
