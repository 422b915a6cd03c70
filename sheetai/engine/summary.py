"""What a sync did, per step and in total: the ``--json`` summary and the run log's source.

Rows and columns are the sheet's 1-based numbers, as in every engine module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..a1 import column_letter, column_number
from ..text import cell_text
from .grid import row_get
from .plan import Category

if TYPE_CHECKING:  # pragma: no cover
    from ..backends.base import Grid
    from ..steps import Step
    from .columns import StepColumns
    from .plan import StepPlan

__all__ = [
    "StepSummary",
    "RunSummary",
    "COUNT_FIELDS",
    "from_plan",
    "add_counts",
    "record_outputs",
    "column_span",
]

COUNT_FIELDS = (
    "planned",
    "processed",
    "skipped_unchanged",
    "kept_human_edits",
    "failed",
    "flagged",
    "flagged_total",
)


@dataclass
class StepSummary:
    """Counts for one step. ``processed`` is rows written this run, whatever the model calls."""

    step: str
    sheet: str
    model: str
    planned: int = 0
    processed: int = 0
    skipped_unchanged: int = 0
    kept_human_edits: int = 0
    failed: int = 0
    flagged: int = 0  # flagged this run
    flagged_total: int = 0  # rows whose flag cell holds something after the run
    new: int = 0
    changed: int = 0
    retried: int = 0
    filled_from_state: int = 0
    reflagged: int = 0
    blank_inputs: int = 0
    unreadable_inputs: int = 0
    input_errors: int = 0  # rows skipped and flagged: an input shows #N/A, #DIV/0! ...
    model_calls: int = 0
    requests: int = 0  # HTTP requests, retries included
    retries: int = 0
    rate_limited: int = 0
    reasked: int = 0
    # Rows whose answer still broke the schema after every re-ask (flagged INVALID_OUTPUT):
    # they failed too, so a run with any ends with exit code 1.
    invalid: int = 0
    # The structured-output mode of an OpenAI-compatible server: json_schema, json_object, text.
    response_format: str = ""
    batch_pending: int = 0
    batch_ids: list[str] = field(default_factory=list)
    cached: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    estimated_cost_usd: float = 0.0
    # False when the step's model has no price and it sent (or would send) requests: its
    # cost_usd and estimated_cost_usd then count nothing for them and mean "unknown", not $0.
    cost_known: bool = True
    seconds: float = 0.0
    load_seconds: float = 0.0  # loading the model, part of ``seconds``
    status: str = "done"
    preview: list[dict[str, Any]] = field(default_factory=list)
    # Headers of the result, reasoning, confidence and flag columns (flag last), and their
    # letters: where a reader finds the answers.
    output_columns: list[str] = field(default_factory=list)
    output_letters: list[str] = field(default_factory=list)
    # Answers given by a model that has since learnt from new labelled rows (engine/relearn.py),
    # how many of them this run re-answers, what the model learnt from, and its estimated
    # accuracy on the labelled rows before and after (held out); the cost of re-answering them.
    stale: int = 0
    reanswered: int = 0
    taught_by_reviewed: int = 0
    estimated_accuracy_before: float | None = None
    estimated_accuracy_after: float | None = None
    relearn_cost_usd: float = 0.0

    @property
    def rows_per_second(self) -> float:
        """Rows written per second of the step, model load left out (it happens once)."""
        working = self.seconds - self.load_seconds
        return self.processed / working if working > 0 else 0.0


@dataclass
class RunSummary:
    """The whole run: per-step summaries and their totals."""

    workbook: str
    steps: list[StepSummary] = field(default_factory=list)
    seconds: float = 0.0
    dry_run: bool = False
    status: str = "done"
    messages: list[str] = field(default_factory=list)

    def total(self, name: str) -> Any:
        return sum(getattr(s, name) for s in self.steps)

    @property
    def cost_known(self) -> bool:
        """Whether the cost totals are whole: no step ran a model nobody gave a price."""
        return all(s.cost_known for s in self.steps)

    @property
    def unpriced_models(self) -> list[str]:
        """The models whose cost is unknown (give them a price in SHEETAI_PRICES_FILE)."""
        return sorted({s.model for s in self.steps if not s.cost_known})

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "workbook": self.workbook,
            "status": self.status,
            "dry_run": self.dry_run,
            "steps": [
                {
                    **asdict(s),
                    "cost_usd": round(s.cost_usd, 6),
                    "seconds": round(s.seconds, 3),
                    "load_seconds": round(s.load_seconds, 3),
                    "rows_per_second": round(s.rows_per_second, 2),
                    "cost_per_row_usd": round(s.cost_usd / s.processed, 8) if s.processed else 0,
                }
                for s in self.steps
            ],
        }
        for name in COUNT_FIELDS:
            data[name] = self.total(name)
        data["tokens"] = self.total("tokens")
        for name in (
            "requests",
            "retries",
            "rate_limited",
            "invalid",
            "batch_pending",
            "input_errors",
            "stale",
            "reanswered",
        ):
            data[name] = self.total(name)
        data["cost_usd"] = round(self.total("cost_usd"), 6)
        data["estimated_cost_usd"] = round(self.total("estimated_cost_usd"), 6)
        data["cost_known"] = self.cost_known
        data["unpriced_models"] = self.unpriced_models
        data["seconds"] = round(self.seconds, 3)
        # Rows written per second of the whole run, the final save included.
        data["rows_per_second"] = (
            round(self.total("processed") / self.seconds, 2) if self.seconds > 0 else 0.0
        )
        data["load_seconds"] = round(self.total("load_seconds"), 3)
        data["messages"] = list(self.messages)
        return data


def add_counts(into: StepSummary, extra: StepSummary) -> None:
    """Add the counts of ``extra`` (results collected from batches) to ``into``."""
    for name in ("processed", "failed", "flagged", "model_calls", "tokens", "cost_usd"):
        setattr(into, name, getattr(into, name) + getattr(extra, name))


def from_plan(step: Step, plan: StepPlan) -> StepSummary:
    """The counts of a step's plan, before anything runs."""
    counts = plan.counts
    runs = sum(n for c, n in counts.items() if c.runs)
    return StepSummary(
        step=step.name,
        sheet=step.sheet,
        model=step.run_model or step.model,
        planned=runs + counts[Category.FILL],
        skipped_unchanged=counts[Category.UNCHANGED],
        kept_human_edits=counts[Category.HUMAN_EDIT],
        new=counts[Category.NEW],
        changed=counts[Category.CHANGED] + counts[Category.FORCED] + counts[Category.FLAGGED],
        retried=counts[Category.RETRY],
        blank_inputs=counts[Category.BLANK],
        unreadable_inputs=counts[Category.UNREADABLE],
        input_errors=counts[Category.INPUT_ERROR],
        stale=sum(1 for r in plan.rows if r.stale),
        reanswered=counts[Category.RELEARN],
    )


def record_outputs(summary: StepSummary, grid: Grid, cols: StepColumns) -> None:
    """Note where the step's results are and how many rows hold a flag now.

    The standing count covers every row, unchanged ones included, so a rerun that changes
    nothing still says how many rows wait for review.
    """
    header = grid[0] if grid else []
    columns = cols.all  # values, reasoning, confidence, flag
    summary.output_columns = [cell_text(row_get(header, c)) for c in columns]
    summary.output_letters = [column_letter(c) for c in columns]
    summary.flagged_total = sum(1 for cells in grid[1:] if cell_text(row_get(cells, cols.flag)))


def column_span(letters: list[str]) -> str:
    """Column letters as a reader writes them: a range when they are adjacent.

    >>> column_span(["G", "F", "H", "I"]), column_span(["D", "B"]), column_span(["C"])
    ('columns F–I', 'columns B, D', 'column C')
    """
    if len(letters) <= 1:
        return f"column {letters[0]}" if letters else ""
    letters = sorted(letters, key=column_number)
    numbers = [column_number(x) for x in letters]
    if numbers == list(range(numbers[0], numbers[0] + len(numbers))):
        return f"columns {letters[0]}–{letters[-1]}"
    return "columns " + ", ".join(letters)
