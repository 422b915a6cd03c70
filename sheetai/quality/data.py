"""What quality control reads from a workbook: each classify step's answers and the labels a
person vouched for (the ``sheetai review`` tab's ``Correct label`` column and ``<Output> (gold)``
columns on the data sheet).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..a1 import cell_address, quote_sheet
from ..backends.base import Backend, Grid
from ..config_tab import parse_config
from ..engine.columns import header_index, resolve_columns
from ..engine.plan import row_text
from ..engine.runlog import LOG_TAB
from ..errors import ConfigError
from ..settings import Settings
from ..state import STATE_TAB
from ..steps import Example, Step, Task
from ..text import cell_text, did_you_mean, is_blank, norm_header
from .sampling import LOW_STRATUM

__all__ = [
    "REVIEW_TAB",
    "REVIEW_HEADERS",
    "SheetRow",
    "StepData",
    "Workbook",
    "load_workbook",
    "step_data",
    "reviewed_labels",
    "reviewed_examples",
    "select_steps",
    "LOW_STRATUM",
]

REVIEW_TAB = "sheetai review"
REVIEW_HEADERS = ["Step", "Row", "Input", "Answer", "Confidence", "Correct label", "Stratum"]


@dataclass
class SheetRow:
    """One answered (or reviewed) data row of a step. ``row`` is the sheet's row number."""

    row: int
    text: str
    answer: str | None
    confidence: float | None
    flag: str
    gold: str | None = None
    source: str = ""  # where the gold label came from: "review" or "gold column"
    stratum: str = ""  # the review tab's Stratum, when the row was drawn by `sheetai review`


@dataclass
class StepData:
    """A classify step's rows and the problems met while reading its reviews."""

    step: Step
    rows: list[SheetRow]
    warnings: list[str] = field(default_factory=list)

    @property
    def answered(self) -> list[SheetRow]:
        return [r for r in self.rows if r.answer is not None and not r.flag.startswith("ERROR")]

    @property
    def reviewed(self) -> list[SheetRow]:
        return [r for r in self.rows if r.gold is not None]


@dataclass
class Workbook:
    """The config's steps and every sheet's values, read in one call."""

    steps: list[Step]
    grids: dict[str, Grid]
    titles: list[str]


def load_workbook(backend: Backend, settings: Settings) -> Workbook:
    """Read every sheet once and parse the config tab (errors name the cell, as in a sync)."""
    titles = backend.sheet_titles()
    wanted = norm_header(settings.config_tab)
    tab = next((t for t in titles if norm_header(t) == wanted), None)
    if tab is None:
        hint = did_you_mean(settings.config_tab, titles)
        raise ConfigError(
            f"{backend.location}: the workbook has no '{settings.config_tab}' tab{hint}. "
            "Add a tab with one row per step, or create one with `sheetai init`."
        )
    grids = backend.read(titles)
    headers = {
        t: list(g[0] if g else [])
        for t, g in grids.items()
        if t not in (STATE_TAB, LOG_TAB, REVIEW_TAB)
    }
    steps = parse_config(grids.get(tab, []), headers, tab=tab, default_model=settings.default_model)
    return Workbook(steps, grids, titles)


def select_steps(steps: Sequence[Step], name: str | None) -> list[Step]:
    """The classify steps, or the one named ``name`` (an error if it is not a classify step)."""
    if name is None:
        return [s for s in steps if s.task is Task.CLASSIFY]
    chosen = [s for s in steps if norm_header(s.name) == norm_header(name)]
    if not chosen:
        names = [s.name for s in steps]
        raise ConfigError(
            f"--step: no step named '{name}'{did_you_mean(name, names)}. Steps: {', '.join(names)}."
        )
    if chosen[0].task is not Task.CLASSIFY:
        raise ConfigError(
            f"--step: step '{chosen[0].name}' is a '{chosen[0].task.value}' step; review and qc "
            "measure classify steps only."
        )
    return chosen


def _cell(grid: Grid, row: int, col: int | None) -> Any:
    if col is None or row - 1 >= len(grid):
        return None
    cells = grid[row - 1]
    return cells[col] if col < len(cells) else None


def _confidence(value: Any) -> float | None:
    if is_blank(value):
        return None
    try:
        number = float(str(value).strip().rstrip("%"))
    except ValueError:
        return None
    return number / 100 if number > 1 else number


def step_data(step: Step, grids: Mapping[str, Grid]) -> StepData:
    """The step's rows with answers and reviewed labels (review tab first, then gold column).

    A review-tab row is matched to the sheet by its ``Row`` when that row still holds the same
    input, else by the input text (rows may have been sorted since); a row it cannot find, or a
    label that is not one of the step's, is skipped with a warning naming the cell.
    """
    grid = grids.get(step.sheet) or [[]]
    cols = resolve_columns(step, list(grid[0]))
    names = {norm_header(n): n for n in step.label_names}
    data = StepData(step, [])
    by_text: dict[str, SheetRow] = {}
    by_row: dict[int, SheetRow] = {}
    for row in range(2, len(grid) + 1):
        inputs = {name: _cell(grid, row, col) for name, col in cols.inputs.items()}
        if all(is_blank(v) for v in inputs.values()):
            continue
        answer = _cell(grid, row, cols.values[0])
        sheet_row = SheetRow(
            row=row,
            text=row_text(inputs),
            answer=names.get(norm_header(answer)) if not is_blank(answer) else None,
            confidence=_confidence(_cell(grid, row, cols.confidence)),
            flag=cell_text(_cell(grid, row, cols.flag)),
        )
        gold = _cell(grid, row, cols.gold)
        if not is_blank(gold):
            label = names.get(norm_header(gold))
            if label is None:
                where = f"{quote_sheet(step.sheet)}!{cell_address(row, (cols.gold or 0) + 1)}"
                data.warnings.append(
                    f"{where}: '{cell_text(gold)}' is not a label of step '{step.name}'"
                    f"{did_you_mean(cell_text(gold), step.label_names)}; row skipped."
                )
            else:
                sheet_row.gold, sheet_row.source = label, "gold column"
        data.rows.append(sheet_row)
        by_row[row] = sheet_row
        by_text.setdefault(sheet_row.text, sheet_row)
    for entry in _review_entries(grids.get(REVIEW_TAB), step, data.warnings):
        row_number, text, label, stratum, where = entry
        target = by_row.get(row_number) if row_number is not None else None
        if target is None or target.text != text:
            target = by_text.get(text)
        if target is None:
            data.warnings.append(
                f"{where}: row {row_number} of '{step.sheet}' no longer holds this input; "
                "review skipped."
            )
            continue
        target.gold, target.source, target.stratum = label, "review", stratum
    return data


def _review_entries(
    grid: Grid | None, step: Step, warnings: list[str]
) -> list[tuple[int | None, str, str, str, str]]:
    """(row, input text, label, stratum, cell address) of each filled review-tab row."""
    if not grid:
        return []
    index = header_index(grid[0])
    missing = [h for h in ("Step", "Input", "Correct label") if norm_header(h) not in index]
    if missing:
        warnings.append(
            f"{quote_sheet(REVIEW_TAB)}!A1: the review tab has no {', '.join(missing)} column; "
            "run `sheetai review` to make a new one."
        )
        return []
    col = {h: index.get(norm_header(h)) for h in REVIEW_HEADERS}
    names = {norm_header(n): n for n in step.label_names}
    entries = []
    for row in range(2, len(grid) + 1):
        if norm_header(_cell(grid, row, col["Step"])) != norm_header(step.name):
            continue
        value = _cell(grid, row, col["Correct label"])
        if is_blank(value):
            continue
        where = f"{quote_sheet(REVIEW_TAB)}!{cell_address(row, (col['Correct label'] or 0) + 1)}"
        label = names.get(norm_header(value))
        if label is None:
            warnings.append(
                f"{where}: '{cell_text(value)}' is not a label of step '{step.name}'"
                f"{did_you_mean(cell_text(value), step.label_names)}; row skipped."
            )
            continue
        try:
            row_number: int | None = int(float(cell_text(_cell(grid, row, col["Row"]))))
        except ValueError:
            row_number = None
        text = cell_text(_cell(grid, row, col["Input"]))
        stratum = cell_text(_cell(grid, row, col["Stratum"]))
        entries.append((row_number, text, label, stratum, where))
    return entries


def reviewed_labels(grids: Mapping[str, Grid], step: Step) -> dict[str, str]:
    """Input text -> label for every row a person labelled in the review tab.

    The engine can learn from these like from a gold column; the text is what the model reads
    for the row (:func:`~sheetai.engine.plan.row_text`), so sorting the sheet changes nothing.
    """
    warnings: list[str] = []
    return {
        text: label
        for _, text, label, _, _ in _review_entries(grids.get(REVIEW_TAB), step, warnings)
    }


def reviewed_examples(grids: Mapping[str, Grid], step: Step) -> list[Example]:
    """:func:`reviewed_labels` as training examples for a provider."""
    return [Example(text=t, label=lab) for t, lab in reviewed_labels(grids, step).items() if t]
