"""One row of the config tab into a :class:`~sheetai.steps.Step`, every value parsed and checked.

Cross-row checks (unique names, columns, order) are :mod:`.order`'s; this module looks at one row
and raises a :class:`~sheetai.errors.ConfigError` at the first cell that is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ConfigError
from ..steps import Example, Label, Step, Task
from ..text import cell_text, did_you_mean, is_blank, norm_header
from .fields import parse_fields, parse_score_range
from .labels import parse_labels
from .tab import ConfigTab

__all__ = ["parse_step", "parse_examples"]


def parse_examples(text: str) -> list[tuple[str, str]]:
    """Few-shot lines ``text => label``; lines without ``=>`` are rejected by the caller.

    >>> parse_examples("great service => Positive\\nlate again =>Negative")
    [('great service', 'Positive'), ('late again', 'Negative')]
    """
    pairs = []
    for line in re.split(r"\r?\n", text):
        if not line.strip():
            continue
        left, sep, right = line.rpartition("=>")
        pairs.append((left.strip(), right.strip()) if sep else (line.strip(), ""))
    return pairs


def parse_step(
    tab: ConfigTab,
    row: int,
    row_values: list[Any],
    sheet_headers: Mapping[str, Sequence[str]],
    default_model: str,
) -> Step:
    """The step on config row ``row`` (1-based), its input columns not yet checked.

    Args:
        tab: the config tab, for values and cell addresses.
        row: the row's number on the tab.
        row_values: the row's cells (see :attr:`ConfigTab.rows`).
        sheet_headers: every sheet of the workbook and its row-1 headers.
        default_model: used where the Model cell is blank.
    """

    def text(header: str) -> str:
        value = tab.get(row_values, header)
        return "" if value is None else str(value).strip()

    name = cell_text(tab.get(row_values, "Step"))
    if not name:
        raise ConfigError(
            "the step has no name. Give each step a short name.", tab.cell(row, "Step")
        )
    sheet = _sheet(tab, row, name, text("Sheet"), sheet_headers)
    task = _task(tab, row, text("Task"))

    inputs = [part.strip() for part in text("Input").split(",") if part.strip()]
    if not inputs:
        raise ConfigError(
            f"step '{name}' has no input column. Name one or more column headers of sheet "
            f"'{sheet}', separated by commas.",
            tab.cell(row, "Input"),
        )

    output = text("Output")
    if not output:
        raise ConfigError(
            f"step '{name}' has no output column. Name the column the answers go to "
            "(it is created if missing).",
            tab.cell(row, "Output"),
        )

    labels_text = text("Labels")
    labels = parse_labels(labels_text) if labels_text else []
    labels_cell = tab.cell(row, "Labels")
    if task is Task.CLASSIFY:
        _check_labels(labels_cell, name, labels)
    fields = parse_fields(labels, name, labels_cell) if task is Task.EXTRACT else []
    score_range = parse_score_range(labels_text, labels_cell) if task is Task.SCORE else None
    examples = _examples(tab.cell(row, "Examples"), text("Examples"), task, labels)
    confidence = _min_confidence(
        tab.cell(row, "Min confidence"), tab.get(row_values, "Min confidence")
    )

    return Step(
        name=name,
        sheet=sheet,
        inputs=inputs,
        task=task,
        instructions=text("Instructions"),
        labels=labels,
        labels_text=labels_text,
        fields=fields,
        score_range=score_range,
        output=output,
        model=text("Model") or default_model,
        min_confidence=confidence,
        examples=examples,
        row=row,
    )


def _sheet(
    tab: ConfigTab, row: int, name: str, sheet: str, sheet_headers: Mapping[str, Sequence[str]]
) -> str:
    sheets = {norm_header(s): s for s in sheet_headers}
    if not sheet:
        raise ConfigError(
            f"step '{name}' names no sheet. Put the name of the data sheet here.",
            tab.cell(row, "Sheet"),
        )
    if norm_header(sheet) not in sheets:
        hint = did_you_mean(sheet, sheets.values())
        raise ConfigError(f"the workbook has no sheet '{sheet}'{hint}.", tab.cell(row, "Sheet"))
    return sheets[norm_header(sheet)]


def _task(tab: ConfigTab, row: int, written: str) -> Task:
    task_text = written.casefold()
    tasks = [t.value for t in Task]
    if task_text not in tasks:
        hint = did_you_mean(task_text, tasks) if task_text else ""
        raise ConfigError(
            f"unknown task '{written}'{hint}. Use one of: {', '.join(tasks)}.",
            tab.cell(row, "Task"),
        )
    return Task(task_text)


def _check_labels(cell: str, name: str, labels: list[Label]) -> None:
    if len(labels) < 2:
        raise ConfigError(
            f"classify step '{name}' needs at least two labels. List them one per line or "
            "separated by commas, e.g. 'Positive, Neutral, Negative'.",
            cell,
        )
    seen: set[str] = set()
    for label in labels:
        key = norm_header(label.name)
        if not key:
            raise ConfigError("a label has no name (a line starts with ':').", cell)
        if key in seen:
            raise ConfigError(f"label '{label.name}' is listed twice.", cell)
        seen.add(key)


def _examples(cell: str, text: str, task: Task, labels: list[Label]) -> list[Example]:
    examples = []
    for example_text, label in parse_examples(text):
        if not label:
            raise ConfigError(
                f"example '{example_text[:40]}' has no answer. Write each example as "
                "'text => label', one per line.",
                cell,
            )
        if "=>" in example_text:
            raise ConfigError(
                f"the examples '{example_text[:40]}…' seem to share one line. Put each "
                "'text => label' on its own line (Alt+Enter in Excel, Ctrl+Enter in Sheets).",
                cell,
            )
        if task is Task.CLASSIFY:
            label = _match_label(cell, label, labels)
        examples.append(Example(text=example_text, label=label))
    return examples


def _match_label(cell: str, label: str, labels: list[Label]) -> str:
    names = {norm_header(lab.name): lab.name for lab in labels}
    if norm_header(label) in names:
        return names[norm_header(label)]
    hint = did_you_mean(label, names.values())
    raise ConfigError(
        f"example answer '{label}' is not one of the labels{hint}. "
        f"Allowed: {', '.join(names.values())}.",
        cell,
    )


def _min_confidence(cell: str, value: Any) -> float:
    if is_blank(value):
        return 0.0
    raw = str(value).strip()
    try:
        number = float(raw.rstrip("%")) / (100 if raw.endswith("%") else 1)
    except ValueError:
        number = -1.0
    if 1 < number <= 100 and not raw.endswith("%") and float(number).is_integer():
        number /= 100  # "60" means 60 %
    if not 0 <= number <= 1:
        raise ConfigError(
            f"min confidence '{raw}' is not a number between 0 and 1 (e.g. 0.6 or 60%).", cell
        )
    return number
