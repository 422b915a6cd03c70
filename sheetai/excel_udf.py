"""Excel through xlwings: ``=AICLASSIFY()`` as a UDF, and a macro that syncs the open workbook.

Import this module in xlwings' add-in (``UDF Modules: sheetai.excel_udf``, then *Import
Functions*) to get ``=AICLASSIFY(text, labels, [instructions], [model])`` and
``=AICLASSIFY_DETAIL(...)`` (label | confidence | reasoning). A button or macro runs
``RunPython "import sheetai.excel_udf as s; s.sync_active_workbook()"``.

The functions answer from the same engine and :class:`~sheetai.cache.ResultCache` as the CLI, so
a recalculation, a reopened workbook or an inserted column costs nothing. Calls arriving
within a short window (a column of formulas recalculating) are answered by ONE
:func:`~sheetai.classify.classify_items` call; a range of texts is one call too. Errors come back
as readable text beginning with the Excel error they stand for (``#VALUE! labels missing …``),
and a call never waits longer than ``SHEETAI_UDF_TIMEOUT_SECONDS``.

Only xlwings' open-source API is used. UDFs run on Windows; on other systems the decorators
do nothing and the functions remain plain Python functions.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import wait as wait_for
from typing import Any

from .backends.excel import XlwingsBackend
from .classify import ClassifyItem, ClassifyResult, classify_items
from .config.labels import distinct_labels, parse_labels
from .engine.summary import RunSummary
from .engine.sync import Listener, SyncOptions, sync
from .errors import MissingExtraError, SheetAIError, WorkbookError
from .settings import Settings
from .steps import Step
from .text import cell_text

try:
    import xlwings as xw
except ImportError as exc:  # pragma: no cover - xlwings is in the test extra
    raise MissingExtraError("Excel functions", "excel", "xlwings") from exc

__all__ = [
    "AICLASSIFY",
    "AICLASSIFY_DETAIL",
    "BATCHER",
    "Batcher",
    "parse_labels_arg",
    "rows_of",
    "sync_active_workbook",
]


class Batcher:
    """Collects items from many concurrent calls and answers them with one ``classify`` call.

    The first item starts a timer of ``window`` seconds; everything submitted until it fires goes
    into the same call. Calls run one at a time (the embedded model is not shared across
    threads), so items arriving during a long call form the next batch.
    """

    def __init__(
        self,
        window: float = 0.05,
        classify: Callable[[Sequence[ClassifyItem]], list[ClassifyResult]] | None = None,
    ) -> None:
        self.window = window
        self.classify = classify or (lambda items: classify_items(items, Settings()))
        self.calls = 0
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._pending: list[tuple[ClassifyItem, Future[ClassifyResult]]] = []
        self._timer: threading.Timer | None = None

    def submit(self, items: Sequence[ClassifyItem]) -> list[Future[ClassifyResult]]:
        """Queue ``items``; each future resolves with its result once the batch is answered."""
        futures: list[Future[ClassifyResult]] = [Future() for _ in items]
        with self._lock:
            self._pending.extend(zip(items, futures, strict=True))
            if self._timer is None and self._pending:
                self._timer = threading.Timer(self.window, self._flush)
                self._timer.daemon = True
                self._timer.start()
        return futures

    def _flush(self) -> None:
        with self._run_lock:
            with self._lock:
                batch, self._pending, self._timer = self._pending, [], None
            if not batch:
                return
            self.calls += 1
            try:
                results = self.classify([item for item, _ in batch])
            except Exception as exc:  # noqa: BLE001 - any failure must reach the cells
                for _, future in batch:
                    future.set_exception(exc)
                return
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)


#: The batcher every UDF call goes through (one per Excel process).
BATCHER = Batcher()


def parse_labels_arg(labels: Any) -> list[str]:
    """Labels from a string or a range, repeats dropped, each ``Label`` or ``Label: description``.

    The rules of :mod:`sheetai.config.labels`, shared with the Office.js add-in and the Apps
    Script, so all ask the shared cache the same question.

    >>> parse_labels_arg("Positive, Neutral,Negative")
    ['Positive', 'Neutral', 'Negative']
    >>> parse_labels_arg([["Bug"], ["Idea, Bug"], [None]])
    ['Bug', 'Idea']
    """
    return [label.prompt_text() for label in distinct_labels(parse_labels(labels))]


def rows_of(text: Any) -> list[str]:
    """One text per row of a cell or range; the cells of a row are joined with line breaks.

    >>> rows_of("hello"), rows_of([["a", None, 3.0], [None]]), rows_of(["x", "y"])
    (['hello'], ['a\\n3', ''], ['x', 'y'])
    """
    if not isinstance(text, list | tuple):
        text = [[text]]
    rows = [row if isinstance(row, list | tuple) else [row] for row in text]
    return ["\n".join(t for t in (cell_text(c) for c in row) if t) for row in rows]


def _flat(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return [x for item in value for x in _flat(item)]
    return [value]


def _optional(value: Any) -> str:
    flat = _flat(value)
    return cell_text(flat[0]) if flat else ""


def _answer(
    text: Any, labels: Any, instructions: Any, model: Any, batcher: Batcher
) -> list[ClassifyResult | str | None] | str:
    """Per row of ``text``: a result, an error text or None (empty row); or one error text."""
    label_list = parse_labels_arg(labels)
    if not label_list:
        return '#VALUE! labels missing: give them as "Positive,Neutral,Negative" or a range'
    if len(label_list) < 2:
        return f'#VALUE! need at least two labels, got only "{label_list[0]}"'
    rows = rows_of(text)
    wanted = [
        ClassifyItem(
            text=row,
            labels=label_list,
            instructions=_optional(instructions),
            model=_optional(model) or None,
        )
        for row in rows
        if row
    ]
    futures = iter(batcher.submit(wanted))
    waiting = [None if not row else next(futures) for row in rows]
    timeout = Settings().udf_timeout_seconds
    wait_for([f for f in waiting if f is not None], timeout=timeout)
    out: list[ClassifyResult | str | None] = []
    for future in waiting:
        if future is None:
            out.append(None)
        elif not future.done():
            out.append(
                f"#N/A no answer within {timeout:g} s; the answer is kept when it arrives: "
                "recalculate later (Ctrl+Alt+F9)"
            )
        elif future.exception() is not None:
            error = future.exception()
            out.append(f"#N/A sheetai: {type(error).__name__}: {error}")
        else:
            result = future.result()
            out.append(result if result.error is None else f"#N/A {result.error}")
    return out


def _shape(
    answers: list[ClassifyResult | str | None] | str,
    columns: Callable[[ClassifyResult], list[Any]],
    width: int,
) -> Any:
    if isinstance(answers, str):
        return answers
    rows: list[list[Any]] = []
    for answer in answers:
        if answer is None:
            rows.append([""] * width)
        elif isinstance(answer, str):
            rows.append([answer] + [""] * (width - 1))
        else:
            rows.append(columns(answer))
    return rows[0][0] if len(rows) == 1 and width == 1 else rows


# No type hints on the UDFs' parameters: xlwings reads them as converters.
@xw.func(async_mode="threading")
@xw.arg("text", ndim=2, doc="Text to classify: a cell, or a range (one label per row).")
@xw.arg("labels", ndim=2, doc='The labels: "Positive,Neutral,Negative" or a range of cells.')
@xw.arg("instructions", doc="Optional: extra instructions for the model.")
@xw.arg("model", doc="Optional: the model; sheetai's default (local) when left out.")
def AICLASSIFY(text, labels, instructions=None, model=None):
    """Classify text into one of the labels; a range of texts gives one label per row."""
    answers = _answer(text, labels, instructions, model, BATCHER)
    return _shape(answers, lambda r: [r.label], 1)


@xw.func(async_mode="threading")
@xw.arg("text", ndim=2, doc="Text to classify: a cell, or a range (one result row per row).")
@xw.arg("labels", ndim=2, doc='The labels: "Positive,Neutral,Negative" or a range of cells.')
@xw.arg("instructions", doc="Optional: extra instructions for the model.")
@xw.arg("model", doc="Optional: the model; sheetai's default (local) when left out.")
def AICLASSIFY_DETAIL(text, labels, instructions=None, model=None):
    """Like AICLASSIFY, spilling label | confidence | reasoning for each row of text."""
    answers = _answer(text, labels, instructions, model, BATCHER)
    return _shape(
        answers,
        lambda r: [r.label, r.confidence if r.confidence is not None else "", r.reasoning],
        3,
    )


class _StatusBar(Listener):
    """Shows the progress of a sync in Excel's status bar, at most a few times a second."""

    def __init__(self, app: Any, every: float = 0.5) -> None:
        self.app = app
        self.every = every
        self.done = self.total = 0
        self._shown = 0.0

    def step_started(self, step: Step, total: int) -> None:
        self.done, self.total = 0, total
        self._show(step, force=True)

    def rows_done(self, step: Step, count: int) -> None:
        self.done += count
        self._show(step, force=self.done >= self.total)

    def _show(self, step: Step, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._shown >= self.every:
            self._shown = now
            self.app.status_bar = f"sheetai: {step.name} {self.done}/{self.total} rows"


def sync_active_workbook(
    book: Any = None, *, step: str | None = None, force: bool = False
) -> RunSummary | None:
    """Sync the workbook that ran the macro (or the active one) and report in Excel.

    For a button: ``RunPython "import sheetai.excel_udf as s; s.sync_active_workbook()"``.
    Progress shows in the status bar; the outcome, or what to fix, in a message box. A run that
    costs money asks first. Returns the summary, or None when the sync did not run.
    """
    book = book if book is not None else _calling_book()
    app = book.app
    settings = Settings()
    try:
        backend = XlwingsBackend(book, settings)
        options = SyncOptions(step=step, force=force, confirm=lambda plan: _confirm(app, plan))
        summary = sync(backend, settings, options, _StatusBar(app))
    except SheetAIError as error:
        app.status_bar = False
        _show_error(book, error)
        return None
    app.status_bar = False
    app.alert(_describe(summary), "sheetai", mode="info")
    return summary


def _calling_book() -> Any:
    with contextlib.suppress(Exception):  # not started by RunPython: use the active workbook
        return xw.Book.caller()
    try:
        return xw.books.active
    except xw.XlwingsError as exc:
        raise WorkbookError(
            "sync_active_workbook needs Excel on Windows or macOS with the workbook open."
        ) from exc


def _confirm(app: Any, plan: RunSummary) -> bool:
    cost = plan.total("estimated_cost_usd")
    if cost <= 0:
        return True
    rows = plan.total("planned")
    prompt = f"This sync runs {rows} rows and costs about ${cost:.4f}. Go ahead?"
    return str(app.alert(prompt, "sheetai", buttons="ok_cancel")).lower() == "ok"


def _describe(summary: RunSummary) -> str:
    if summary.status == "cancelled":
        return "Cancelled: nothing was run or written."
    counts = [
        (summary.total("processed"), "rows written"),
        (summary.total("skipped_unchanged"), "unchanged"),
        (summary.total("kept_human_edits"), "edits kept"),
        (summary.total("flagged"), "flagged"),
        (summary.total("failed"), "failed"),
    ]
    text = ", ".join(f"{n} {what}" for n, what in counts if n) or "Nothing to do"
    lines = [f"{text} ({summary.seconds:.1f} s).", *summary.messages]
    return "\n".join(lines)


def _show_error(book: Any, error: SheetAIError) -> None:
    cell = getattr(error, "cell", None)
    if cell and "!" in cell:
        title, _, address = cell.rpartition("!")
        title = title.strip("'").replace("''", "'")
        # Best effort: the message box below says where, even if selecting fails.
        with contextlib.suppress(Exception):
            sheet = book.sheets[title]
            sheet.activate()
            sheet.range(address).select()
    book.app.alert(str(error), "sheetai", mode="critical")
