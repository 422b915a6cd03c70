"""What every ``sheetai`` command shares: the typer app, the workbook argument, help examples,
and the one way a library error ends a command.

Command modules import from here and register their commands on :data:`app`;
:mod:`sheetai.cli.app` imports the command modules. Imports go one way: nothing here imports a
command module.
"""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from rich.markup import escape

from .. import __version__
from ..errors import SheetAIError
from .output import err_console

__all__ = ["Workbook", "app", "example", "fail"]

app = typer.Typer(
    name="sheetai",
    help="An LLM behind every row of a spreadsheet: classify, extract, score and enrich rows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: typer's rich help prints a "<bool>" placeholder after every flag
    # (even --help) and eats "[...]" in help texts as markup.
    rich_markup_mode=None,
)

Workbook = Annotated[
    str, typer.Argument(help="An .xlsx/.xlsm file, or a Google Sheets URL or key.")
]


def fail(error: SheetAIError) -> NoReturn:
    """Print the error on stderr and end the command with the error's exit code."""
    err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
    raise typer.Exit(error.exit_code)


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        typer.echo(f"sheetai {__version__}")
        raise typer.Exit(0)


def example(*lines: str) -> str:
    """A help epilog of example command lines, kept one per line by click.

    >>> print(example("sheetai run a.xlsx", "sheetai qc a.xlsx"))
    Examples:
    <BLANKLINE>
    \b
      sheetai run a.xlsx
      sheetai qc a.xlsx
    """
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)
