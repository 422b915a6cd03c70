"""``sheetai run`` and ``sheetai init``: sync a workbook, and start its config tab."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ..backends import open_backend
from ..engine.summary import RunSummary
from ..engine.sync import SyncOptions, sync
from ..errors import RunInterrupted, SheetAIError
from ..settings import Settings
from .common import Workbook, app, example, fail
from .output import ProgressListener, err_console, plan_table, print_report

__all__ = ["run", "init"]


def _terminate_as_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@app.command(
    epilog=example(
        "sheetai run feedback.xlsx --dry-run",
        "sheetai run feedback.xlsx",
        "sheetai run feedback.xlsx --step sentiment --only-flagged",
        "sheetai run feedback.xlsx --relearn --max-cost 1",
        "sheetai run https://docs.google.com/spreadsheets/d/<id>/edit --yes --max-cost 2",
    )
)
def run(
    workbook: Annotated[
        str | None, typer.Argument(help="An .xlsx/.xlsm file, or a Google Sheets URL or key.")
    ] = None,
    step: Annotated[str | None, typer.Option(help="Run only this step.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan and the estimated cost; write nothing.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Re-run every row, even unchanged rows and rows a person edited."
        ),
    ] = False,
    only_flagged: Annotated[
        bool,
        typer.Option("--only-flagged", help="Re-run only rows with a flag (e.g. LOW_CONFIDENCE)."),
    ] = False,
    model: Annotated[
        str | None, typer.Option(help="Use this model for every step instead of the Model column.")
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option("--max-cost", help="Stop before spending more than this many USD."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON summary on stdout at the end.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before spending money.")
    ] = False,
    preview: Annotated[
        int | None,
        typer.Option(help="Run only the first N planned rows of each step and show them.", min=1),
    ] = None,
    credentials: Annotated[
        Path | None,
        typer.Option(help="Google service-account JSON file (Google Sheets only)."),
    ] = None,
    excel: Annotated[
        bool,
        typer.Option("--excel", help="Sync the workbook open in Excel (needs sheetai[excel])."),
    ] = False,
    batch: Annotated[
        bool,
        typer.Option("--batch", help="Send rows to the vendor's Batch API (half price)."),
    ] = False,
    flex: Annotated[
        bool,
        typer.Option(
            "--flex",
            help="OpenAI Flex processing: half price, slower (same as "
            "SHEETAI_OPENAI_SERVICE_TIER=flex).",
        ),
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="With --batch: wait for the batches and write results.")
    ] = False,
    rpm: Annotated[int | None, typer.Option(help="Requests per minute to pace at.", min=1)] = None,
    tpm: Annotated[int | None, typer.Option(help="Tokens per minute to pace at.", min=1)] = None,
    output_tpm: Annotated[
        int | None,
        typer.Option(
            help="Output tokens per minute to pace at (Claude limits them apart from input).",
            min=1,
        ),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Requests in flight at once (default 64).", min=1)
    ] = None,
    relearn: Annotated[
        bool,
        typer.Option(
            "--relearn",
            help="Re-answer stale rows of paid (LLM) steps with the reviewed rows as examples.",
        ),
    ] = False,
) -> None:
    """Sync a workbook: run every step on new or changed rows and write the results beside them."""
    settings = Settings()
    if credentials is not None:
        settings.google_credentials = credentials
    if flex and batch:
        fail(
            SheetAIError("--flex and --batch: pick one (both are half price; a batch is not flex).")
        )
    if flex:
        settings.openai_service_tier = "flex"
    if excel:
        workbook = f"excel:{workbook or 'active'}"
    if workbook is None:
        fail(
            SheetAIError("name a workbook: sheetai run FILE.xlsx, a Google Sheets URL, or --excel.")
        )
    listener = ProgressListener(err_console, enabled=not as_json)
    previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        with open_backend(workbook, settings) as backend:
            options = SyncOptions(
                step=step, dry_run=dry_run, force=force, only_flagged=only_flagged, model=model,
                max_cost_usd=max_cost, preview=preview, batch=batch, wait=wait, rpm=rpm,
                tpm=tpm, output_tpm=output_tpm, concurrency=concurrency, relearn=relearn,
                confirm=None if yes or dry_run else _confirm(as_json),
            )  # fmt: skip
            summary = sync(backend, settings, options, listener)
    except RunInterrupted as stopped:
        listener.close()
        _report(stopped.summary, as_json)  # type: ignore[arg-type]
        err_console.print(f"[yellow]{escape(str(stopped))}[/]")
        raise typer.Exit(stopped.exit_code) from None
    except SheetAIError as error:
        listener.close()
        fail(error)
    finally:
        listener.close()
        signal.signal(signal.SIGTERM, previous)
    _report(summary, as_json)
    raise typer.Exit(1 if summary.total("failed") or summary.total("invalid") else 0)


def _confirm(as_json: bool) -> Any:
    def ask(plan: RunSummary) -> bool:
        cost = plan.total("estimated_cost_usd")
        if cost <= 0 and plan.cost_known:
            return True
        about = f"about ${cost:.4f}"
        if not plan.cost_known:
            unknown = f"an unknown amount for {', '.join(plan.unpriced_models)} (no price)"
            about = f"{about} plus {unknown}" if cost > 0 else unknown
        if not sys.stdin.isatty():
            raise SheetAIError(
                f"this run would cost {about} and there is no terminal to ask. "
                "Add --yes to go ahead (and --max-cost to cap it)."
            )
        err_console.print(plan_table(plan))
        return typer.confirm(f"Spend {about}?", default=False, err=True)

    return ask


def _report(summary: RunSummary, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary.to_json()))
        return
    print_report(summary, Console())
    for message in summary.messages:
        err_console.print(f"[yellow]{escape(message)}[/]")
    for s in summary.steps:
        if s.unreadable_inputs:
            err_console.print(
                f"[yellow]{s.step}: {s.unreadable_inputs} rows skipped: their input formulas "
                "have no computed value in the file. Open and save it in Excel, then run again.[/]"
            )


@app.command(
    epilog=example(
        'sheetai init feedback.xlsx --sheet Feedback --input Review --labels "Positive,Neutral,'
        'Negative" --output Sentiment'
    )
)
def init(
    workbook: Workbook,
    sheet: Annotated[str, typer.Option(help="The data sheet (tab) whose rows the step reads.")],
    input: Annotated[str, typer.Option("--input", help="Input column header(s), comma-separated.")],
    output: Annotated[str, typer.Option(help="Header of the column the answers go to.")],
    labels: Annotated[str, typer.Option(help='Labels, e.g. "Positive,Neutral,Negative".')] = "",
    task: Annotated[str, typer.Option(help="classify, extract, generate or score.")] = "classify",
    step: Annotated[str | None, typer.Option(help="Step name (default: from the output).")] = None,
    instructions: Annotated[
        str, typer.Option(help="What the model should do, in plain words.")
    ] = "",
    model: Annotated[
        str, typer.Option(help="Model for the step (blank: the default, 'local').")
    ] = "",
    min_confidence: Annotated[
        float | None, typer.Option(help="Flag answers below this confidence (0-1).")
    ] = None,
) -> None:
    """Write a starter config tab (or add a step to it)."""
    from ..starter import add_step

    settings = Settings()
    try:
        with open_backend(workbook, settings) as backend:
            name = add_step(
                backend, tab=settings.config_tab, sheet=sheet, inputs=input, task=task,
                labels=labels, output=output, step=step, instructions=instructions,
                model=model, min_confidence=min_confidence,
            )  # fmt: skip
    except SheetAIError as error:
        fail(error)
    err_console.print(
        f"Added step '{name}' to the '{settings.config_tab}' tab of {workbook}. "
        f"Next: sheetai run {workbook} --dry-run"
    )
