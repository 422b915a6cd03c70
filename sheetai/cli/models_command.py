"""``sheetai models``: which vendors are set up, where their requests go, and what each known
model costs (never a key's value)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import SheetAIError
from ..providers.catalog import ModelPrice, VendorInfo, catalog
from ..settings import Settings
from .common import app, example, fail
from .report import stdout_console

__all__ = ["models"]


@app.command(epilog=example("sheetai models", "sheetai models --json"))
def models(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the vendors and prices as JSON.")
    ] = False,
) -> None:
    """List the model vendors: keys set or not, base URLs, known models and their prices."""
    settings = Settings()
    try:
        vendors = catalog(settings)
    except SheetAIError as error:
        fail(error)
    if as_json:
        prices_file = str(settings.prices_file) if settings.prices_file else None
        data = {"prices_file": prices_file, "vendors": [v.to_json() for v in vendors]}
        typer.echo(json.dumps(data))
        return
    console = stdout_console()
    for vendor in vendors:
        _print_vendor(console, vendor)
    console.print(
        "Prices are USD per million tokens; batch is the share of the online price. Add or "
        "change prices in a JSON file named by SHEETAI_PRICES_FILE (see README, 'Prices').",
        markup=False,
        highlight=False,
    )


def _print_vendor(console: Console, vendor: VendorInfo) -> None:
    state = "ready" if vendor.configured else "not set up"
    keys = " or ".join(vendor.key_variables)
    key = f"{keys}: {'set' if vendor.key_set else 'not set'}" if keys else "no key needed"
    url = f"{vendor.base_url}" + (
        f" ({vendor.base_url_variable})" if vendor.base_url_variable else ""
    )
    checked = f"; prices checked {vendor.checked}" if vendor.checked else ""
    console.print(f"[bold]{escape(vendor.name)}[/]: {state}", highlight=False)
    lines = [f"  Model names: {vendor.how_to_name}", f"  {key}", f"  Base URL: {url}{checked}"]
    for line in lines:
        console.print(line, markup=False, highlight=False)
    if vendor.models:
        console.print(_table(vendor.models))
    console.print()


def _table(rows: list[ModelPrice]) -> Table:
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 2))
    for name in ("Model", "Input", "Output", "Cached", "Cache write", "Batch", "Flex", "Source"):
        table.add_column(name, justify="left" if name in ("Model", "Source") else "right")
    for m in rows:
        cells = [
            m.model,
            _usd(m.input),
            _usd(m.output),
            _usd(m.cached_input),
            _usd(m.cache_write),
            _share(m.batch),
            _share(m.flex),
            "" if m.source == "built-in" else f"yours ({m.source})",
        ]
        table.add_row(*map(escape, cells))
    return table


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:g}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
