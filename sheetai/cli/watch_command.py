"""``sheetai watch``: sync a workbook file whenever anyone saves it, until Ctrl-C."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..backends.open import google_key
from ..backends.xlsx import XlsxBackend
from ..engine.sync import SyncOptions
from ..errors import RunInterrupted, SheetAIError
from ..settings import Settings
from ..watch import Watcher, WatchReport
from .common import app, example, fail
from .output import err_console

__all__ = ["watch"]


@app.command(
    epilog=example(
        "sheetai watch feedback.xlsx",
        "sheetai watch feedback.xlsx --step sentiment --max-cost 0.5",
        "sheetai watch exports/today.xlsx --json >> syncs.jsonl",
    )
)
def watch(
    workbook: Annotated[str, typer.Argument(help="The .xlsx/.xlsm file to watch.")],
    step: Annotated[str | None, typer.Option(help="Run only this step.")] = None,
    model: Annotated[
        str | None, typer.Option(help="Use this model for every step instead of the Model column.")
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            help="Stop each sync before it spends more than this many USD (the per-day cap for "
            "automatic syncs, SHEETAI_AUTO_MAX_COST_USD_PER_DAY, applies as well).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON line per sync on stdout.")
    ] = False,
) -> None:
    """Sync a workbook file every time it is saved (by Excel, LibreOffice, a script), until Ctrl-C.

    It waits while the file is open in an office program and syncs when it is closed; its own
    writes do not wake it; a save that changes no step input costs nothing. It never asks
    before spending: cap it with --max-cost and SHEETAI_AUTO_MAX_COST_USD_PER_DAY.
    """
    settings = Settings()
    try:
        if google_key(workbook) is not None:
            raise SheetAIError(
                f"{workbook}: sheetai watch watches .xlsx/.xlsm files. For a Google Sheet use "
                "the add-on's 'Sync automatically' (see README)."
            )
        XlsxBackend(workbook).close()  # the same checks as `run`: exists, .xlsx or .xlsm
    except SheetAIError as error:
        fail(error)
    options = SyncOptions(step=step, model=model, max_cost_usd=max_cost)
    watcher = Watcher(Path(workbook), settings, options, lambda r: _print(r, as_json))
    err_console.print(f"Watching {escape(workbook)}: Ctrl-C stops.", highlight=False)
    # SIGTERM (a service manager, `kill`) stops it as Ctrl-C does: between chunks, rows saved.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        watcher.run()
    except RunInterrupted as stopped:
        if stopped.summary is not None:
            _print(WatchReport("synced", summary=stopped.summary), as_json)  # type: ignore[arg-type]
        err_console.print(f"[yellow]{escape(str(stopped))}[/]")
        raise typer.Exit(stopped.exit_code) from None
    except KeyboardInterrupt:
        err_console.print("Stopped watching.")  # while waiting for a save: nothing to report
        return
    finally:
        signal.signal(signal.SIGTERM, previous)
    err_console.print("Stopped watching.")


def _print(report: WatchReport, as_json: bool) -> None:
    """One line per sync on stdout (JSON with --json); waits and errors on stderr too."""
    when = report.at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    summary = report.summary
    if summary is None:
        if as_json and report.kind != "waiting":
            line = {"at": report.at.isoformat(timespec="seconds"), "trigger": "watch",
                    "status": report.kind, "error": report.message}  # fmt: skip
            typer.echo(json.dumps(line))
        colour = "yellow" if report.kind == "waiting" else "red"
        err_console.print(f"{when}  [{colour}]{escape(report.message)}[/]", highlight=False)
        return
    if as_json:
        line = {**summary.to_json(), "at": report.at.isoformat(timespec="seconds"),
                "trigger": "watch"}  # fmt: skip
        typer.echo(json.dumps(line))
        return
    status = "" if summary.status == "done" else f" ({summary.status})"
    typer.echo(
        f"{when}  watch  {summary.total('processed')} rows answered, "
        f"{summary.total('failed')} failed, ${summary.total('cost_usd'):.4f}{status}"
    )
    for message in summary.messages:
        err_console.print(f"[yellow]{escape(message)}[/]")
