"""The end-of-run report: the summary (or plan), where the results went, model load, flags.

On a terminal the tables are rich; piped or logged they are plain aligned text with every
column and whole numbers, since a log is read later, at any width, often with ``grep``.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..engine.summary import RunSummary, StepSummary, column_span

__all__ = [
    "SHOWN_LOAD_SECONDS",
    "summary_table",
    "plan_table",
    "preview_table",
    "plain_table",
    "report_lines",
    "print_report",
    "stdout_console",
    "money",
]

# A model that loads in under a twentieth of a second (already loaded, or nothing to load) is
# not worth a line: "took 0.0 s" only raises the question.
SHOWN_LOAD_SECONDS = 0.05

Cells = tuple[str, list[str], list[list[str]]]

_SUMMARY_HEADERS = [
    "Step",
    "Model",
    "Written",
    "Unchanged",
    "Kept edits",
    "Failed",
    "Flagged",
    "Standing flags",
    "Cost",
    "Rows/s",
    "Model load",
]
_PLAN_HEADERS = [
    "Step",
    "Model",
    "To write",
    "New",
    "Changed",
    "Unchanged",
    "Kept edits",
    "Stale",
    "Est. cost",
]


def money(usd: float, known: bool = True) -> str:
    """A cost as the report shows it; "unknown" for a model nobody gave a price (never $0).

    >>> money(0.01234), money(0.0, known=False), money(1.5, known=False)
    ('$0.0123', 'unknown', '$1.5000 + unknown')
    """
    if known:
        return f"${usd:.4f}"
    return f"${usd:.4f} + unknown" if usd else "unknown"


def _summary_cells(summary: RunSummary) -> Cells:
    rows = []
    for s in summary.steps:
        counts = [
            s.processed,
            s.skipped_unchanged,
            s.kept_human_edits,
            s.failed,
            s.flagged,
            s.flagged_total,
        ]
        rate = f"{s.rows_per_second:.1f}" if s.processed else "-"
        load = f"{s.load_seconds:.1f} s" if s.load_seconds >= SHOWN_LOAD_SECONDS else "-"
        cost = money(s.cost_usd, s.cost_known)
        rows.append([s.step, s.model, *map(str, counts), cost, rate, load])
    return (
        f"{summary.workbook}: {summary.status} in {summary.seconds:.1f} s",
        _SUMMARY_HEADERS,
        rows,
    )


def _plan_cells(summary: RunSummary) -> Cells:
    rows = []
    for s in summary.steps:
        counts = [
            s.planned,
            s.new,
            s.changed + s.retried,
            s.skipped_unchanged,
            s.kept_human_edits,
            s.stale,
        ]
        rows.append([s.step, s.model, *map(str, counts), money(s.estimated_cost_usd, s.cost_known)])
    return f"Plan for {summary.workbook}", _PLAN_HEADERS, rows


def _rich(cells: Cells) -> Table:
    title, headers, rows = cells
    table = Table(
        title=escape(title),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
    )
    for name in headers:
        left = name in ("Step", "Model")
        # Two-word headers on two lines; values never shrink to "…".
        header = escape(name.replace(" ", "\n", 1))
        table.add_column(header, justify="left" if left else "right", no_wrap=True)
    for row in rows:
        table.add_row(*map(escape, row))
    return table


def _without(cells: Cells, dropped: Sequence[str]) -> Cells:
    title, headers, rows = cells
    keep = [i for i, name in enumerate(headers) if name not in dropped]
    return title, [headers[i] for i in keep], [[row[i] for i in keep] for row in rows]


def _print_table(cells: Cells, console: Console) -> None:
    """The widest form that fits the terminal; the plain form if none does, never cut."""
    # Model and model load are said again below the table, so a narrow terminal may lose them.
    for fitted in (cells, _without(cells, ("Model", "Model load"))):
        table = _rich(fitted)
        natural = console.measure(table, options=console.options.update(max_width=10_000))
        if natural.maximum <= console.width:
            console.print(table)
            return
    console.print(_plain(cells), markup=False, highlight=False, soft_wrap=True)


def summary_table(summary: RunSummary) -> Table:
    """The run's counts per step, for a terminal."""
    return _rich(_summary_cells(summary))


def plan_table(summary: RunSummary) -> Table:
    """The dry-run plan per step, for a terminal."""
    return _rich(_plan_cells(summary))


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 2) -> str:
    """Columns padded to their widest cell: the first ``left`` flush left, numbers right.

    >>> print(plain_table(["Step", "Rows"], [["a", "5"], ["long", "120"]], left=1))
    Step  Rows
    a        5
    long   120
    """
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    return "\n".join(line(r) for r in [headers, *rows])


def _plain(cells: Cells) -> str:
    title, headers, rows = cells
    return f"{title}\n{plain_table(headers, rows)}"


def report_lines(summary: RunSummary) -> list[str]:
    """What the table cannot say: where each step's results are, model load, standing flags."""
    lines = []
    for s in summary.steps:
        if s.output_columns:
            where = ", ".join(s.output_columns)
            span = column_span(s.output_letters)
            lines.append(f"Results of {s.step}: {s.sheet}: {where} ({span})")
    unpriced = summary.unpriced_models
    if unpriced:
        lines.append(
            f"Cost unknown for {', '.join(unpriced)}: sheetai has no price for it. Give one in "
            'SHEETAI_PRICES_FILE, e.g. {"model-name": [0.5, 1.5]} (USD per million input and '
            "output tokens)."
        )
    for s in summary.steps:
        if s.load_seconds >= SHOWN_LOAD_SECONDS:
            lines.append(
                f"Loading the model of {s.step} ({s.model}) took {s.load_seconds:.1f} s, "
                "left out of Rows/s."
            )
    for s in summary.steps:
        if s.flagged_total and s.output_columns:
            flag = f"'{s.output_columns[-1]}' ({column_span(s.output_letters[-1:])})"
            lines.append(
                f"{s.flagged_total} rows of {s.step} hold a flag in {flag}: check them, or "
                "re-run them with --only-flagged."
            )
    return lines


def _plain_preview(summary: StepSummary) -> str:
    lines = [f"Preview of step '{summary.step}'"]
    for row in summary.preview:
        result = str(row["result"] if row["result"] is not None else row["flag"] or "")
        confidence = "" if row["confidence"] is None else f"{row['confidence']:.2f}"
        lines.append(f"Row {row['row']}  Result: {result}  Confidence: {confidence}")
        lines.append(f"  Input: {row['input']}")
        lines.append(f"  Reasoning: {row['reasoning'] or ''}")
    return "\n".join(lines)


def preview_table(summary: StepSummary) -> Table:
    """The rows a ``--preview`` ran, to judge a prompt before paying for every row."""
    title = escape(f"Preview of step '{summary.step}'")
    table = Table(title=title, title_justify="left", show_lines=True)
    for name in ("Row", "Input", "Result", "Confidence", "Reasoning"):
        table.add_column(name, overflow="fold")
    for row in summary.preview:
        text = str(row["input"])
        confidence = "" if row["confidence"] is None else f"{row['confidence']:.2f}"
        result = str(row["result"] if row["result"] is not None else row["flag"] or "")
        cells = [text[:200], result, str(row["reasoning"] or "")]
        table.add_row(str(row["row"]), *map(escape, cells[:2]), confidence, escape(cells[2]))
    return table


def stdout_console() -> Console:
    """A console on stdout; piped or logged, wide enough that no table cell is cut to fit."""
    console = Console()
    if console.is_terminal:
        return console
    # Tables are drawn at their natural width; a log has no window to fit.
    return Console(width=max(console.width, 1_000))


def print_report(summary: RunSummary, console: Console) -> None:
    """The summary (or the plan of a dry run) on ``console``: rich on a terminal, else plain."""
    plain = not console.is_terminal
    cells = _plan_cells(summary) if summary.dry_run else _summary_cells(summary)
    if plain:
        console.print(_plain(cells), markup=False, highlight=False, soft_wrap=True)
    else:
        _print_table(cells, console)
    for step_summary in summary.steps:
        if step_summary.preview:
            if plain:
                text = _plain_preview(step_summary)
                console.print(text, markup=False, highlight=False, soft_wrap=True)
            else:
                console.print(preview_table(step_summary))
    if not summary.dry_run:
        for line in report_lines(summary):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
