"""Checks across steps: unique names and output columns, inputs that exist, and the run order.

A step that reads another step's output runs after it; a cycle is an error at the Input cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..a1 import column_letter
from ..errors import ConfigError
from ..headers import header_columns
from ..steps import Step
from ..text import cell_text, did_you_mean, is_blank, norm_header
from .tab import ConfigTab

__all__ = ["dependency_order"]

_COUNTS = {2: "two", 3: "three", 4: "four"}


def dependency_order(
    tab: ConfigTab,
    steps: list[Step],
    sheet_headers: Mapping[str, Sequence[str]],
    sheet_rows: Mapping[str, Sequence[Sequence[Any]]],
) -> list[Step]:
    """Check input and output columns, then order steps so producers run before consumers.

    Each step's ``inputs`` are rewritten to the headers as spelled on its sheet.
    """
    by_name: dict[str, Step] = {}
    for step in steps:
        if norm_header(step.name) in by_name:
            raise ConfigError(
                f"two steps are named '{step.name}'. Step names must be unique.",
                tab.cell(step.row, "Step"),
            )
        by_name[norm_header(step.name)] = step

    producers = _producers(tab, steps)
    depends: dict[str, set[str]] = {step.name: set() for step in steps}
    for step in steps:
        _check_unambiguous(tab, step, sheet_headers.get(step.sheet, []))
        headers = [h for h in sheet_headers.get(step.sheet, []) if not is_blank(h)]
        known = {norm_header(h): cell_text(h) for h in headers}
        resolved = []
        for column in step.inputs:
            wanted = norm_header(column)
            producer = producers.get((step.sheet, wanted))
            if producer is step:
                raise ConfigError(
                    f"step '{step.name}' reads its own output column '{column}'.",
                    tab.cell(step.row, "Input"),
                )
            if producer is not None:
                depends[step.name].add(producer.name)
                resolved.append(column)
            elif wanted in known:
                resolved.append(known[wanted])
            else:
                outputs = [
                    c
                    for (s, _), p in producers.items()
                    if s == step.sheet
                    for c in p.output_columns().values
                ]
                hint = did_you_mean(column, [*known.values(), *outputs])
                lower = _found_below_row_1(sheet_rows.get(step.sheet, []), column)
                raise ConfigError(
                    f"sheet '{step.sheet}' has no column '{column}'{hint}.{lower}",
                    tab.cell(step.row, "Input"),
                )
        step.inputs = resolved
    return _topological(tab, steps, by_name, depends)


def _producers(tab: ConfigTab, steps: list[Step]) -> dict[tuple[str, str], Step]:
    """The step writing each (sheet, column); two steps writing one column is an error."""
    producers: dict[tuple[str, str], Step] = {}
    for step in steps:
        for column in step.output_columns().all:
            key = (step.sheet, norm_header(column))
            if key in producers:
                other = producers[key]
                raise ConfigError(
                    f"steps '{other.name}' and '{step.name}' both write column '{column}' of "
                    f"sheet '{step.sheet}'. Give each step its own output column.",
                    tab.cell(step.row, "Output"),
                )
            producers[key] = step
    return producers


def _topological(
    tab: ConfigTab, steps: list[Step], by_name: dict[str, Step], depends: dict[str, set[str]]
) -> list[Step]:
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
                tab.cell(step.row, "Input"),
            )
        state[step.name] = "visiting"
        for name in sorted(depends[step.name], key=lambda n: by_name[norm_header(n)].row):
            visit(by_name[norm_header(name)], [*trail, step.name])
        state[step.name] = "done"
        ordered.append(step)

    for step in steps:
        visit(step, [])
    return ordered


def _check_unambiguous(tab: ConfigTab, step: Step, header: Sequence[Any]) -> None:
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
            tab.cell(step.row, config_header),
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
