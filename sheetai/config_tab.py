"""Read the config tab (``sheetai`` by default) into validated, dependency-ordered steps.

The layout is a public contract: header in row 1, one step per row::

    Step | Sheet | Input | Task | Instructions | Labels | Output | Model | Min confidence | Examples

Every problem is reported as a :class:`~sheetai.errors.ConfigError` naming the cell and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .a1 import cell_address, column_letter, quote_sheet
from .errors import ConfigError
from .headers import header_columns
from .steps import Example, Label, Step, Task
from .text import cell_text, did_you_mean, is_blank, norm_header

__all__ = ["CONFIG_HEADERS", "parse_config", "parse_labels", "parse_examples", "config_rows"]

CONFIG_HEADERS = [
    "Step",
    "Sheet",
    "Input",
    "Task",
    "Instructions",
    "Labels",
    "Output",
    "Model",
    "Min confidence",
    "Examples",
]
_REQUIRED = ["Step", "Sheet", "Input", "Task", "Output"]


def parse_labels(text: str) -> list[Label]:
    """Labels, one per line or comma-separated, each optionally ``Label: description``.

    >>> [l.name for l in parse_labels("Positive, Neutral ,Negative")]
    ['Positive', 'Neutral', 'Negative']
    >>> parse_labels("Bug: something broken, crashes\\nIdea: a wish")[0].description
    'something broken, crashes'
    """
    lines = [line for line in re.split(r"\r?\n", text) if line.strip()]
    parts = lines if len(lines) > 1 else [p for p in text.split(",") if p.strip()]
    labels = []
    for part in parts:
        # "12:00-14:00" is a label, not "12" described as "00-14:00".
        match = re.match(r"^(.*?):(?!\d)(.*)$", part, flags=re.DOTALL)
        name, description = (match.group(1), match.group(2)) if match else (part, "")
        labels.append(Label(name=name.strip(" -•*\t"), description=description.strip()))
    return labels


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


def config_rows(values: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Copy of the tab's rows, each padded to the header's width."""
    width = max((len(row) for row in values), default=0)
    return [list(row) + [None] * (width - len(row)) for row in values]


class _Reader:
    """Parses one config tab; holds what is needed to address cells in errors."""

    def __init__(self, tab: str, values: Sequence[Sequence[Any]]) -> None:
        self.tab = tab
        self.rows = config_rows(values)
        self.columns = self._header_columns()

    def cell(self, row: int, header: str) -> str:
        col = self.columns.get(norm_header(header))
        return f"{quote_sheet(self.tab)}!{cell_address(row, (col or 0) + 1)}"

    def get(self, row_values: list[Any], header: str) -> Any:
        col = self.columns.get(norm_header(header))
        return None if col is None else row_values[col]

    def _header_columns(self) -> dict[str, int]:
        if not self.rows or all(is_blank(v) for v in self.rows[0]):
            raise ConfigError(
                "the config tab is empty. Put these headers in row 1: "
                + " | ".join(CONFIG_HEADERS)
                + " (or create a starter tab with `sheetai init`).",
                cell=f"{quote_sheet(self.tab)}!A1",
            )
        columns: dict[str, int] = {}
        for index, value in enumerate(self.rows[0]):
            if not is_blank(value):
                columns.setdefault(norm_header(value), index)
        for header in _REQUIRED:
            if norm_header(header) not in columns:
                found = [cell_text(v) for v in self.rows[0] if not is_blank(v)]
                hint = did_you_mean(header, found)
                raise ConfigError(
                    f"the config tab has no '{header}' column{hint}. Row 1 must hold the "
                    "headers " + " | ".join(CONFIG_HEADERS) + ".",
                    cell=f"{quote_sheet(self.tab)}!1:1",
                )
        return columns


def parse_config(
    values: Sequence[Sequence[Any]],
    sheet_headers: Mapping[str, Sequence[str]],
    *,
    tab: str = "sheetai",
    default_model: str = "local",
    sheet_rows: Mapping[str, Sequence[Sequence[Any]]] | None = None,
) -> list[Step]:
    """Parse and check the config tab; return the steps in the order they must run.

    Args:
        values: the tab's cells, row 1 first.
        sheet_headers: every sheet of the workbook and its row-1 headers.
        tab: the tab's name, for error addresses.
        default_model: used where the Model cell is blank.
        sheet_rows: the sheets' cells, when at hand: an input column missing from row 1 is then
            looked for further down, to tell the user their headers are not in row 1.
    """
    reader = _Reader(tab, values)
    steps: list[Step] = []
    for index, row_values in enumerate(reader.rows[1:], start=2):
        if all(is_blank(v) for v in row_values):
            continue
        steps.append(_parse_step(reader, index, row_values, sheet_headers, default_model))
    if not steps:
        raise ConfigError(
            "the config tab has headers but no steps. Add one row per step below row 1.",
            cell=f"{quote_sheet(tab)}!A2",
        )
    return _dependency_order(reader, steps, sheet_headers, sheet_rows or {})


def _parse_step(
    reader: _Reader,
    row: int,
    row_values: list[Any],
    sheet_headers: Mapping[str, Sequence[str]],
    default_model: str,
) -> Step:
    def text(header: str) -> str:
        value = reader.get(row_values, header)
        return "" if value is None else str(value).strip()

    name = cell_text(reader.get(row_values, "Step"))
    if not name:
        raise ConfigError(
            "the step has no name. Give each step a short name.", reader.cell(row, "Step")
        )

    sheet = text("Sheet")
    sheets = {norm_header(s): s for s in sheet_headers}
    if not sheet:
        raise ConfigError(
            f"step '{name}' names no sheet. Put the name of the data sheet here.",
            reader.cell(row, "Sheet"),
        )
    if norm_header(sheet) not in sheets:
        hint = did_you_mean(sheet, sheets.values())
        raise ConfigError(f"the workbook has no sheet '{sheet}'{hint}.", reader.cell(row, "Sheet"))
    sheet = sheets[norm_header(sheet)]

    task_text = text("Task").casefold()
    tasks = [t.value for t in Task]
    if task_text not in tasks:
        hint = did_you_mean(task_text, tasks) if task_text else ""
        raise ConfigError(
            f"unknown task '{text('Task')}'{hint}. Use one of: {', '.join(tasks)}.",
            reader.cell(row, "Task"),
        )
    task = Task(task_text)

    inputs = [part.strip() for part in text("Input").split(",") if part.strip()]
    if not inputs:
        raise ConfigError(
            f"step '{name}' has no input column. Name one or more column headers of sheet "
            f"'{sheet}', separated by commas.",
            reader.cell(row, "Input"),
        )

    output = text("Output")
    if not output:
        raise ConfigError(
            f"step '{name}' has no output column. Name the column the answers go to "
            "(it is created if missing).",
            reader.cell(row, "Output"),
        )

    labels_text = text("Labels")
    labels = parse_labels(labels_text) if labels_text else []
    if task is Task.CLASSIFY:
        _check_labels(reader, row, name, labels)

    examples = []
    for example_text, label in parse_examples(text("Examples")):
        if not label:
            raise ConfigError(
                f"example '{example_text[:40]}' has no answer. Write each example as "
                "'text => label', one per line.",
                reader.cell(row, "Examples"),
            )
        if "=>" in example_text:
            raise ConfigError(
                f"the examples '{example_text[:40]}…' seem to share one line. Put each "
                "'text => label' on its own line (Alt+Enter in Excel, Ctrl+Enter in Sheets).",
                reader.cell(row, "Examples"),
            )
        if task is Task.CLASSIFY:
            label = _match_label(reader, row, label, labels, "Examples")
        examples.append(Example(text=example_text, label=label))

    return Step(
        name=name,
        sheet=sheet,
        inputs=inputs,
        task=task,
        instructions=text("Instructions"),
        labels=labels,
        labels_text=labels_text,
        output=output,
        model=text("Model") or default_model,
        min_confidence=_min_confidence(reader, row, reader.get(row_values, "Min confidence")),
        examples=examples,
        row=row,
    )


def _check_labels(reader: _Reader, row: int, name: str, labels: list[Label]) -> None:
    if len(labels) < 2:
        raise ConfigError(
            f"classify step '{name}' needs at least two labels. List them one per line or "
            "separated by commas, e.g. 'Positive, Neutral, Negative'.",
            reader.cell(row, "Labels"),
        )
    seen: set[str] = set()
    for label in labels:
        key = norm_header(label.name)
        if not key:
            raise ConfigError(
                "a label has no name (a line starts with ':').", reader.cell(row, "Labels")
            )
        if key in seen:
            raise ConfigError(f"label '{label.name}' is listed twice.", reader.cell(row, "Labels"))
        seen.add(key)


def _match_label(reader: _Reader, row: int, label: str, labels: list[Label], header: str) -> str:
    names = {norm_header(lab.name): lab.name for lab in labels}
    if norm_header(label) in names:
        return names[norm_header(label)]
    hint = did_you_mean(label, names.values())
    raise ConfigError(
        f"example answer '{label}' is not one of the labels{hint}. "
        f"Allowed: {', '.join(names.values())}.",
        reader.cell(row, header),
    )


def _min_confidence(reader: _Reader, row: int, value: Any) -> float:
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
            f"min confidence '{raw}' is not a number between 0 and 1 (e.g. 0.6 or 60%).",
            reader.cell(row, "Min confidence"),
        )
    return number


def _dependency_order(
    reader: _Reader,
    steps: list[Step],
    sheet_headers: Mapping[str, Sequence[str]],
    sheet_rows: Mapping[str, Sequence[Sequence[Any]]],
) -> list[Step]:
    """Check input and output columns, then order steps so producers run before consumers."""
    by_name: dict[str, Step] = {}
    for step in steps:
        if norm_header(step.name) in by_name:
            raise ConfigError(
                f"two steps are named '{step.name}'. Step names must be unique.",
                reader.cell(step.row, "Step"),
            )
        by_name[norm_header(step.name)] = step

    producers: dict[tuple[str, str], Step] = {}
    for step in steps:
        for column in step.output_columns().all:
            key = (step.sheet, norm_header(column))
            if key in producers:
                other = producers[key]
                raise ConfigError(
                    f"steps '{other.name}' and '{step.name}' both write column '{column}' of "
                    f"sheet '{step.sheet}'. Give each step its own output column.",
                    reader.cell(step.row, "Output"),
                )
            producers[key] = step

    depends: dict[str, set[str]] = {step.name: set() for step in steps}
    for step in steps:
        _check_unambiguous(reader, step, sheet_headers.get(step.sheet, []))
        headers = [h for h in sheet_headers.get(step.sheet, []) if not is_blank(h)]
        known = {norm_header(h): cell_text(h) for h in headers}
        resolved = []
        for column in step.inputs:
            wanted = norm_header(column)
            producer = producers.get((step.sheet, wanted))
            if producer is step:
                raise ConfigError(
                    f"step '{step.name}' reads its own output column '{column}'.",
                    reader.cell(step.row, "Input"),
                )
            if producer is not None:
                depends[step.name].add(producer.name)
                resolved.append(column)
            elif wanted in known:
                resolved.append(known[wanted])
            else:
                hint = did_you_mean(
                    column,
                    [
                        *known.values(),
                        *(
                            c
                            for (s, _), p in producers.items()
                            if s == step.sheet
                            for c in p.output_columns().values
                        ),
                    ],
                )
                lower = _found_below_row_1(sheet_rows.get(step.sheet, []), column)
                raise ConfigError(
                    f"sheet '{step.sheet}' has no column '{column}'{hint}.{lower}",
                    reader.cell(step.row, "Input"),
                )
        step.inputs = resolved

    ordered: list[Step] = []
    state: dict[str, str] = {}

    def visit(step: Step, trail: list[str]) -> None:
        if state.get(step.name) == "done":
            return
        if state.get(step.name) == "visiting":
            cycle = " → ".join([*trail[trail.index(step.name) :], step.name])
            raise ConfigError(
                f"steps depend on each other in a cycle ({cycle}). A step may only read the "
                "outputs of steps that do not read its own output.",
                reader.cell(step.row, "Input"),
            )
        state[step.name] = "visiting"
        for name in sorted(depends[step.name], key=lambda n: by_name[norm_header(n)].row):
            visit(by_name[norm_header(name)], [*trail, step.name])
        state[step.name] = "done"
        ordered.append(step)

    for step in steps:
        visit(step, [])
    return ordered


_COUNTS = {2: "two", 3: "three", 4: "four"}


def _check_unambiguous(reader: _Reader, step: Step, header: Sequence[Any]) -> None:
    """Refuse a step whose input or output header heads more than one column of its sheet.

    Headers match ignoring case and spaces, so 'Review' and 'Review ' collide too. Duplicates
    the step does not use are fine.
    """
    columns = header_columns(header)
    names = step.output_columns()
    used = [(name, "Input", "read") for name in step.inputs]
    used += [(name, "Output", "write") for name in [*names.all, step.gold_column]]
    for name, config_header, verb in used:
        found = columns.get(norm_header(name), [])
        if len(found) < 2:
            continue
        letters = [column_letter(c + 1) for c in found]
        where = ", ".join(letters[:-1]) + " and " + letters[-1]
        spellings = [cell_text(header[c]) for c in found]
        spelled = ""
        if len(set(str(header[c]) for c in found)) > 1:
            quoted = ", ".join(f"'{header[c]}'" for c in found)
            spelled = f" (spelled {quoted}: headers match ignoring case and spaces)"
        count = _COUNTS.get(len(found), str(len(found)))
        raise ConfigError(
            f"sheet '{step.sheet}' has {count} columns headed '{spellings[0]}' ({where})"
            f"{spelled}, so step '{step.name}' cannot tell which to {verb}; rename one.",
            reader.cell(step.row, config_header),
        )


def _found_below_row_1(rows: Sequence[Sequence[Any]], column: str) -> str:
    """A hint when the header sits lower than row 1 (a title row above the table)."""
    wanted = norm_header(column)
    for number, row in enumerate(rows[1:20], start=2):
        if any(norm_header(v) == wanted for v in row):
            return (
                f" It is in row {number}: sheetai reads headers from row 1, so delete the rows "
                "above the table's header."
            )
    return ""
