"""The ``sheetai qc`` tab: each step's report as tables, with charts where the backend draws them
(openpyxl charts in .xlsx; values only elsewhere)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backends.base import Backend, CellBlock, ChartSpec, Grid
from ..tabs import QC_TAB
from .report import StepReport

__all__ = ["QC_TAB", "qc_grid", "write_tab", "write_qc"]

# Charts sit in a fixed column, two per step, so a re-run replaces them (same anchors).
_CHART_COLUMN = "J"
_CHART_ROWS = 16


def _ci(report: StepReport) -> list[float | None]:
    return list(report.accuracy_ci) if report.accuracy_ci else [None, None]


def _block(report: StepReport, top: int) -> tuple[Grid, list[ChartSpec]]:
    """One step's rows, starting on sheet row ``top``, and the charts over them."""
    rows: Grid = [
        ["Step", report.step, "Model", report.model, "Measured", report.method],
        [
            "Reviewed rows",
            report.reviewed,
            "Answered rows",
            report.answered,
            "In one line",
            report.headline,
        ],
        [
            "Accuracy of answers now",
            report.accuracy,
            "95% CI low",
            _ci(report)[0],
            "95% CI high",
            _ci(report)[1],
        ],
        ["Macro-F1", report.macro_f1, "Cohen's kappa", report.kappa, "ECE", report.ece],
        [
            "Projected accuracy",
            report.projected_accuracy,
            "by",
            report.projected_by,
            "Model before reviews",
            report.accuracy_before,
        ],
        ["Unweighted sample accuracy", report.sample_accuracy, "Interval", report.interval_method],
        [
            "Suggested Min confidence",
            report.suggested_min_confidence,
            "for accuracy",
            report.target_accuracy,
            "Min confidence now",
            report.min_confidence,
        ],
        [],
        ["Label", "Precision", "Recall", "F1", "Reviewed", "Answers on sheet"],
    ]
    label_header = top + len(rows) - 1
    for label in report.labels:
        scores = report.per_label.get(label, {})
        rows.append(
            [
                label,
                scores.get("precision"),
                scores.get("recall"),
                scores.get("f1"),
                scores.get("support"),
                report.label_counts.get(label, 0),
            ]
        )
    label_last = top + len(rows) - 1
    rows += [[], ["Correct label ↓ / answer →", *report.labels]]
    for label in report.labels:
        line = report.confusion.get(label, {})
        rows.append([label, *(line.get(p) if report.confusion else None for p in report.labels)])
    rows += [[], ["Confidence band", "Reviewed", "Accuracy", "Mean confidence"]]
    band_header = top + len(rows) - 1
    for band in report.bands:
        rows.append([band["band"], band["reviewed"], band["accuracy"], band["mean_confidence"]])
    band_last = top + len(rows) - 1
    rows += [[], ["Min confidence", "Coverage", "Accuracy", "Reviewed"]]
    for point in report.coverage:
        rows.append(
            [point["min_confidence"], point["coverage"], point["accuracy"], point["reviewed"]]
        )
    for warning in report.warnings:
        rows.append(["Warning", warning])
    charts = [
        ChartSpec(
            title=f"{report.step}: answers per label",
            anchor=f"{_CHART_COLUMN}{top}",
            categories=1,
            series=[6],
            header_row=label_header,
            first_row=label_header + 1,
            last_row=label_last,
            y_title="rows",
        ),
        ChartSpec(
            title=f"{report.step}: accuracy by confidence band",
            anchor=f"{_CHART_COLUMN}{top + _CHART_ROWS}",
            categories=1,
            series=[3, 4],
            header_row=band_header,
            first_row=band_header + 1,
            last_row=band_last,
            x_title="confidence",
            y_title="accuracy",
            y_max=1.0,
        ),
    ]
    rows += [[]] * max(0, 2 * _CHART_ROWS + 2 - len(rows))
    return rows, charts


def qc_grid(reports: Sequence[StepReport]) -> tuple[Grid, list[ChartSpec]]:
    """The whole tab: one block per step, one under the other."""
    grid: Grid = []
    charts: list[ChartSpec] = []
    for report in reports:
        rows, specs = _block(report, len(grid) + 1)
        grid += rows + [[]]
        charts += specs
    return grid, charts


def write_tab(
    backend: Backend,
    titles: list[str],
    old: Grid | None,
    title: str,
    grid: Grid,
    charts: Sequence[ChartSpec] = (),
) -> bool:
    """Replace a tab's values (clearing what the old content covered), add the charts, commit.

    Returns whether the backend drew the charts.
    """
    old = old or []
    width = max([len(r) for r in grid] + [len(r) for r in old] + [1])
    height = max(len(grid), len(old))
    cells: list[list[Any]] = [
        (list(grid[i]) if i < len(grid) else []) + [None] * width for i in range(height)
    ]
    cells = [row[:width] for row in cells]
    if title not in titles:
        backend.add_sheet(title)
        titles.append(title)
    backend.write([CellBlock(title, 1, 1, cells)])
    drawn = [backend.add_chart(title, spec) for spec in charts]
    backend.commit()
    return bool(drawn) and all(drawn)


def write_qc(
    backend: Backend, titles: list[str], old: Grid | None, reports: Sequence[StepReport]
) -> bool:
    """Write the ``sheetai qc`` tab; True if the charts were drawn."""
    grid, charts = qc_grid(reports)
    return write_tab(backend, titles, old, QC_TAB, grid, charts)
