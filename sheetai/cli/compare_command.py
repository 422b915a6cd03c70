"""``sheetai compare``: another model or prompt on the reviewed rows, before you switch."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..backends import open_backend
from ..engine.workbook import load_workbook
from ..errors import ConfigError, SheetAIError
from ..settings import Settings
from .common import Workbook, app, example, fail
from .output import err_console
from .report import stdout_console

# The quality modules are imported when the command runs: other commands start without them.
if TYPE_CHECKING:
    from ..quality.compare import Comparison, Side

__all__ = ["compare"]


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.6f}".rstrip("0").rstrip(".")


def _side_cells(side: Side) -> list[str]:
    ci = side.accuracy_ci or [0.0, 1.0]
    return [
        f"{side.accuracy:.1%}  [{ci[0]:.1%}, {ci[1]:.1%}]" if side.accuracy is not None else "-",
        f"{_money(side.cost_per_row_usd)} ({side.cost_source or 'unknown'})",
        _money(side.projected_cost_usd),
    ]


def _table(c: Comparison) -> Table:
    table = Table(
        title=f"Step '{c.step}': {c.reviewed} reviewed rows, both sides on the same rows",
        title_justify="left",
    )
    for name in (
        "",
        "Model",
        "Accuracy [95 % CI]",
        "Cost per row",
        f"Whole sheet ({c.sheet_rows} rows)",
    ):
        table.add_column(name)
    prompt_changed = c.alternative.instructions != c.current.instructions
    alt_name = c.alternative.model + (" + new prompt" if prompt_changed else "")
    table.add_row("Current", c.current.model, *_side_cells(c.current))
    table.add_row("Alternative", alt_name, *_side_cells(c.alternative))
    return table


def _lines(c: Comparison) -> list[str]:
    return [
        f"Current: {c.current.answers}. Alternative: {c.alternative.answers}.",
        f"Paired on {c.reviewed} rows: only the current right {c.only_current_right}, only the "
        f"alternative right {c.only_alternative_right}, both right {c.both_right}, both wrong "
        f"{c.both_wrong}; {c.test}: p = {c.p_value:.3g}.",
    ]


@app.command(
    epilog=example(
        "sheetai compare feedback.xlsx --step sentiment --model gpt-4.1-nano",
        "sheetai compare feedback.xlsx --step sentiment --instructions 'Sarcasm is Negative.'",
        "sheetai compare feedback.xlsx --step sentiment --model local --json",
    )
)
def compare(
    workbook: Workbook,
    step: Annotated[
        str | None, typer.Option(help="The classify step (default: the only classify step).")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="The model to try (default: the step's own).")
    ] = None,
    instructions: Annotated[
        str | None, typer.Option(help="Instructions to try instead of the step's.")
    ] = None,
    folds: Annotated[
        int, typer.Option(help="Cross-fitting folds for a model that learns (embedded).", min=2)
    ] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Try another model or prompt on the reviewed rows; compare accuracy and cost. Writes
    nothing to the workbook."""
    from ..quality.compare import alternative_step, compare_step
    from ..quality.data import classify_steps, step_data

    settings = Settings()
    try:
        with open_backend(workbook, settings) as backend:
            book = load_workbook(backend, settings)
            steps = classify_steps(book.steps, step)
            if len(steps) != 1:
                names = ", ".join(s.name for s in steps) or "none"
                raise ConfigError(f"--step: name the classify step to compare ({names}).")
            data = step_data(steps[0], book.grids)
            alternative = alternative_step(steps[0], model, instructions)
            result = compare_step(data, alternative, book.grids, settings, folds=folds)
    except SheetAIError as error:
        fail(error)
    if as_json:
        typer.echo(json.dumps(result.to_json()))
    else:
        console = stdout_console()
        console.print(_table(result))
        for line in _lines(result):
            console.print(line, highlight=False, soft_wrap=True)
    for warning in result.warnings:
        err_console.print(f"[yellow]{escape(warning)}[/]")
    err_console.print(f"Verdict: {result.verdict}", highlight=False, soft_wrap=True)
