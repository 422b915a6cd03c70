"""``sheetai review``, ``sheetai qc`` and ``sheetai summary``: quality control from the CLI."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..backends import open_backend
from ..backends.base import Grid
from ..engine.workbook import load_workbook
from ..errors import SheetAIError
from ..settings import Settings
from ..steps import Step
from ..tabs import QC_TAB, REVIEW_TAB, SUMMARY_TAB
from .common import Workbook, app, example, fail
from .output import err_console
from .report import stdout_console

# The quality modules are imported by these commands when they run, so that every other
# command, `sheetai run` first, starts without them.
if TYPE_CHECKING:
    from ..quality.report import StepReport

__all__ = ["review", "qc", "summary"]

StepOption = Annotated[
    str | None, typer.Option(help="Only this step (default: every classify step).")
]


@app.command(
    epilog=example(
        "sheetai review feedback.xlsx --step sentiment --fraction 0.1 --seed 7",
        "sheetai qc feedback.xlsx   # after filling the 'Correct label' column",
    )
)
def review(
    workbook: Workbook,
    step: StepOption = None,
    fraction: Annotated[
        float, typer.Option(help="Share of answered rows to sample.", min=0.0, max=1.0)
    ] = 0.05,
    seed: Annotated[
        int | None, typer.Option(help="Random seed; the same seed draws the same rows.")
    ] = None,
    min_rows: Annotated[int, typer.Option(help="Sample at least this many rows.", min=1)] = 10,
    replace: Annotated[
        bool, typer.Option("--replace", help="Draw anew even if the tab holds reviewed rows.")
    ] = False,
) -> None:
    """Write a stratified sample of answered rows to the 'sheetai review' tab to check by hand."""
    from ..quality.data import classify_steps
    from ..quality.review_tab import review_location, write_review

    settings = Settings()
    chosen_seed = seed if seed is not None else random.randrange(1, 1_000_000)
    try:
        with open_backend(workbook, settings) as backend:
            book = load_workbook(backend, settings)
            steps = classify_steps(book.steps, step)
            backend.check_writable()
            outcomes = write_review(
                backend, book, steps, fraction=fraction, seed=chosen_seed, min_rows=min_rows,
                replace=replace,
            )  # fmt: skip
    except SheetAIError as error:
        fail(error)
    for o in outcomes:
        if not o.drawn:
            err_console.print(f"{o.step}: no answered rows to review; run `sheetai run` first.")
            continue
        extras = [] if o.dropdown else ["no dropdown on this backend: type the labels"]
        err_console.print(
            f"{o.step}: {o.drawn} of {o.answered} answered rows ({o.low_confidence} of them the "
            f"least confident) at {review_location(o)}." + (f" ({extras[0]})" if extras else ""),
            highlight=False,
        )
    err_console.print(
        f"Seed {chosen_seed}. Fill the 'Correct label' column of the '{REVIEW_TAB}' tab, then run "
        f"`sheetai qc {workbook}`.",
        highlight=False,
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _report_table(report: StepReport) -> Table:
    table = Table(title=f"Quality of step '{report.step}' ({report.model})", title_justify="left")
    table.add_column("Measure")
    table.add_column("Value", justify="right")
    ci: list[float | None] = list(report.accuracy_ci) if report.accuracy_ci else [None, None]
    rows = [
        ("Reviewed / answered rows", f"{report.reviewed} / {report.answered}"),
        (
            "Accuracy of the answers on the sheet now",
            f"{_pct(report.accuracy)}  [{_pct(ci[0])}, {_pct(ci[1])}]",
        ),
        ("Macro-F1", "-" if report.macro_f1 is None else f"{report.macro_f1:.3f}"),
        ("Cohen's kappa", "-" if report.kappa is None else f"{report.kappa:.3f}"),
        ("Calibration error (ECE)", "-" if report.ece is None else f"{report.ece:.3f}"),
    ]
    if report.projected_accuracy is not None:
        projected: list[float | None] = [None, None]
        if report.projected_accuracy_ci:
            projected = list(report.projected_accuracy_ci)
        rows.append(
            (f"Projected, {report.projected_by}", f"{_pct(report.projected_accuracy)}  "
             f"[{_pct(projected[0])}, {_pct(projected[1])}]")
        )  # fmt: skip
        rows.append(("Model before learning from reviews", _pct(report.accuracy_before)))
    suggestion = report.suggested_min_confidence
    rows.append(
        (
            f"Min confidence for {report.target_accuracy:.0%} accuracy",
            "not reached"
            if suggestion is None
            else f"{suggestion:.2f} (now {report.min_confidence:.2f})",
        )
    )
    for name, value in rows:
        table.add_row(name, value)
    table.caption = f"Measured on {report.method}. Interval: {report.interval_method}."
    return table


def _reports(
    grids: Mapping[str, Grid], steps: Sequence[Step], *, target: float = 0.9, folds: int = 5
) -> list[StepReport]:
    from ..providers.registry import held_out
    from ..quality.data import step_data
    from ..quality.report import build_report

    return [
        build_report(
            step_data(s, grids), target=target, held_out=held_out(s.model, folds=folds, seed=0)
        )
        for s in steps
    ]


@app.command(
    epilog=example("sheetai qc feedback.xlsx --target 0.95", "sheetai qc feedback.xlsx --json")
)
def qc(
    workbook: Workbook,
    step: StepOption = None,
    target: Annotated[
        float, typer.Option(help="Accuracy the suggested Min confidence should reach.")
    ] = 0.9,
    folds: Annotated[int, typer.Option(help="Cross-validation folds (embedded model).", min=2)] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    write: Annotated[
        bool, typer.Option("--write/--no-write", help="Write the 'sheetai qc' tab.")
    ] = True,
) -> None:
    """Measure each classify step against the reviewed rows and write the 'sheetai qc' tab."""
    from ..quality.data import classify_steps
    from ..quality.qc_tab import write_qc

    settings = Settings()
    try:
        with open_backend(workbook, settings) as backend:
            book = load_workbook(backend, settings)
            steps = classify_steps(book.steps, step)
            reports = _reports(book.grids, steps, target=target, folds=folds)
            charts = False
            if write and any(r.reviewed for r in reports):
                backend.check_writable()
                charts = write_qc(backend, book.titles, book.grids.get(QC_TAB), reports)
    except SheetAIError as error:
        fail(error)
    if as_json:
        typer.echo(json.dumps({"steps": [r.to_json() for r in reports]}))
    else:
        console = stdout_console()
        for report in reports:
            console.print(f"{report.step}: {report.headline}", highlight=False)
            console.print(_report_table(report))
    for report in reports:
        for warning in report.warnings:
            err_console.print(f"[yellow]{escape(warning)}[/]")
        if not report.reviewed:
            err_console.print(
                f"{report.step}: no reviewed rows. Run `sheetai review {workbook}` and fill the "
                "'Correct label' column (or a '<Output> (gold)' column).",
                highlight=False,
            )
    if write and any(r.reviewed for r in reports) and not as_json:
        where = "with charts" if charts else "values only: this backend draws no charts"
        err_console.print(f"Wrote the '{QC_TAB}' tab ({where}).", highlight=False)


@app.command(
    epilog=example("sheetai summary feedback.xlsx", "sheetai summary feedback.xlsx --json")
)
def summary(
    workbook: Workbook,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    write: Annotated[
        bool, typer.Option("--write/--no-write", help="Write the 'sheetai summary' tab.")
    ] = True,
) -> None:
    """Write the 'sheetai summary' tab: answers per label, flags, cost and time of the last run."""
    from ..quality.data import classify_steps, step_data
    from ..quality.qc_tab import write_tab
    from ..quality.summary_tab import add_accuracy, overview, summary_grid

    settings = Settings()
    try:
        with open_backend(workbook, settings) as backend:
            book = load_workbook(backend, settings)
            overviews = [overview(s, book.grids) for s in book.steps]
            measured = [
                s for s in classify_steps(book.steps, None) if step_data(s, book.grids).reviewed
            ]
            for report in _reports(book.grids, measured):
                add_accuracy(overviews, report)
            if write:
                backend.check_writable()
                grid, charts = summary_grid(overviews)
                write_tab(
                    backend, book.titles, book.grids.get(SUMMARY_TAB), SUMMARY_TAB, grid, charts
                )
    except SheetAIError as error:
        fail(error)
    if as_json:
        typer.echo(json.dumps({"steps": [o.to_json() for o in overviews]}))
        return
    table = Table(title=f"Summary of {workbook}", title_justify="left")
    for name in ("Step", "Answered", "Accuracy now", "Per label", "Flags", "Last run", "Cost",
                 "Cost/row"):  # fmt: skip
        table.add_column(name)
    for o in overviews:
        per_row = o.last_run_cost_per_row_usd
        table.add_row(
            o.step,
            f"{o.answered}/{o.rows}",
            _pct(o.accuracy),
            ", ".join(f"{k} {v}" for k, v in o.label_counts.items()),
            ", ".join(f"{k} {v}" for k, v in o.flags.items()) or "-",
            o.last_run or "-",
            f"${o.last_run_cost_usd:.4f}",
            "-" if per_row is None else f"${per_row:.6f}",
        )
    stdout_console().print(table)
