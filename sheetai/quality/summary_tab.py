"""The ``sheetai summary`` tab: the return-on-investment view of a workbook.

Per step: answers per label (with a chart), flags, the cost and time of the last run read
from the ``sheetai log`` tab, with the cost per row, and (once rows are reviewed) the estimated
accuracy of the answers on the sheet, as ``sheetai qc`` reports it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..backends.base import ChartSpec, Grid
from ..engine.columns import resolve_columns
from ..engine.grid import row_get
from ..headers import header_index
from ..steps import Step, Task
from ..tabs import LOG_TAB, SUMMARY_TAB
from ..text import cell_text, is_blank, norm_header
from .report import StepReport

__all__ = ["SUMMARY_TAB", "StepOverview", "overview", "add_accuracy", "summary_grid"]


@dataclass
class StepOverview:
    """One step's counts and the figures of its last run (``--json`` fields)."""

    step: str
    model: str
    rows: int
    answered: int
    label_counts: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    last_run: str | None = None
    last_run_rows: int = 0
    last_run_cost_usd: float = 0.0
    last_run_seconds: float = 0.0
    last_run_cost_per_row_usd: float | None = None
    total_cost_usd: float = 0.0
    accuracy: float | None = None  # of the answers on the sheet now, from reviewed rows
    accuracy_ci: list[float] | None = None
    accuracy_headline: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _number(value: Any) -> float:
    try:
        return float(cell_text(value) or 0)
    except ValueError:
        return 0.0


def _log_runs(log: Grid | None, step: str) -> list[dict[str, Any]]:
    if not log:
        return []
    index = header_index(log[0])
    need = ["when (utc)", "step", "processed", "cost (usd)", "seconds"]
    if any(h not in index for h in need):
        return []
    runs = []
    for cells in log[1:]:

        def get(h: str, cells: Sequence[Any] = cells) -> Any:
            col = index[h]
            return cells[col] if col < len(cells) else None

        if norm_header(get("step")) == norm_header(step):
            runs.append(
                {
                    "when": cell_text(get("when (utc)")),
                    "processed": int(_number(get("processed"))),
                    "cost": _number(get("cost (usd)")),
                    "seconds": _number(get("seconds")),
                }
            )
    return runs


def overview(step: Step, grids: Mapping[str, Grid]) -> StepOverview:
    """Count a step's answers and flags, and read its runs from the log tab."""
    grid = grids.get(step.sheet) or [[]]
    cols = resolve_columns(step, list(grid[0]))
    names = {norm_header(n): n for n in step.label_names}
    labels: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    rows = answered = 0
    for cells in grid[1:]:
        if all(is_blank(row_get(cells, c)) for c in cols.inputs.values()):
            continue
        rows += 1
        outputs = cols.read(cells)
        value = outputs.values[0]
        if not is_blank(value):
            answered += 1
            if step.task is Task.CLASSIFY:
                labels[names.get(norm_header(value), cell_text(value))] += 1
        flag = cell_text(outputs.flag)
        if flag:
            flags["ERROR" if flag.startswith("ERROR") else flag] += 1
    result = StepOverview(step.name, step.model, rows, answered)
    result.label_counts = {n: labels.get(n, 0) for n in step.label_names}
    result.label_counts.update({k: v for k, v in labels.items() if k not in result.label_counts})
    result.flags = dict(flags)
    runs = _log_runs(grids.get(LOG_TAB), step.name)
    result.total_cost_usd = round(sum(r["cost"] for r in runs), 6)
    if runs:
        last = max(runs, key=lambda r: r["when"])
        same = [r for r in runs if r["when"] == last["when"]]
        result.last_run = last["when"]
        result.last_run_rows = sum(r["processed"] for r in same)
        result.last_run_cost_usd = round(sum(r["cost"] for r in same), 6)
        result.last_run_seconds = round(sum(r["seconds"] for r in same), 2)
        if result.last_run_rows:
            result.last_run_cost_per_row_usd = round(
                result.last_run_cost_usd / result.last_run_rows, 8
            )
    return result


def _interval(ci: list[float] | None) -> list[float | None]:
    return list(ci) if ci else [None, None]


def add_accuracy(overviews: Sequence[StepOverview], report: StepReport) -> None:
    """Put ``sheetai qc``'s headline accuracy on the step's overview."""
    for o in overviews:
        if norm_header(o.step) == norm_header(report.step):
            o.accuracy, o.accuracy_ci = report.accuracy, report.accuracy_ci
            o.accuracy_headline = report.headline


def summary_grid(overviews: Sequence[StepOverview]) -> tuple[Grid, list[ChartSpec]]:
    """The tab's rows: a block per step, with a chart of answers per label."""
    grid: Grid = []
    charts: list[ChartSpec] = []
    for o in overviews:
        top = len(grid) + 1
        block: Grid = [
            ["Step", o.step, "Model", o.model],
            ["Rows with input", o.rows, "Answered", o.answered],
            ["Last run (UTC)", o.last_run, "Rows written", o.last_run_rows],
            ["Cost of last run (USD)", o.last_run_cost_usd, "Seconds", o.last_run_seconds],
            ["Cost per row (USD)", o.last_run_cost_per_row_usd, "All runs (USD)", o.total_cost_usd],
            ["Accuracy of answers now", o.accuracy, "95% CI", *_interval(o.accuracy_ci)],
            ["Measured", o.accuracy_headline or "no reviewed rows: run `sheetai review`"],
            [],
            ["Label", "Rows"],
        ]
        header = top + len(block) - 1
        block += [[label, count] for label, count in o.label_counts.items()]
        last = top + len(block) - 1
        block += [[], ["Flag", "Rows"]]
        block += [[flag, count] for flag, count in sorted(o.flags.items())] or [["(none)", 0]]
        if o.label_counts:
            charts.append(
                ChartSpec(
                    title=f"{o.step}: answers per label",
                    anchor=f"F{top}",
                    categories=1,
                    series=[2],
                    header_row=header,
                    first_row=header + 1,
                    last_row=last,
                    y_title="rows",
                )
            )
        block += [[]] * max(0, 17 - len(block))
        grid += block + [[]]
    return grid, charts
