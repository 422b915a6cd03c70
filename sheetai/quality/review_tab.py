"""The ``sheetai review`` tab: a sample of answered rows for a person to check.

Columns: ``Step``, ``Row`` (the data sheet's row number, header = 1; a link where the backend
allows), ``Input``, ``Answer``, ``Confidence``, ``Correct label`` (empty, with a dropdown of the
step's labels where the backend allows), ``Stratum`` (why the row was drawn), ``Stratum rows``
(how many answered rows that stratum held, so ``sheetai qc`` weights each reviewed row by the
design) and ``Step version`` (the step's labels and instructions it was drawn for; see
:mod:`sheetai.engine.reviews`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..a1 import quote_sheet
from ..backends.base import Backend, CellBlock, Grid
from ..engine.learning import REVIEW_HEADERS, REVIEW_TAB
from ..engine.reviews import review_version
from ..engine.workbook import Workbook
from ..errors import SheetAIError
from ..headers import header_index
from ..steps import Step
from ..text import is_blank, norm_header
from .data import step_data
from .sampling import Candidate, sample_size, stratified_sample, stratum_sizes

__all__ = ["ReviewOutcome", "write_review"]

_LABEL_COL = REVIEW_HEADERS.index("Correct label") + 1
_ROW_COL = REVIEW_HEADERS.index("Row") + 1


@dataclass
class ReviewOutcome:
    """What ``sheetai review`` wrote for one step."""

    step: str
    answered: int
    drawn: int
    low_confidence: int
    first_row: int  # first row of the step's block on the review tab
    dropdown: bool
    links: bool


def _existing(grid: Grid | None) -> list[list[Any]]:
    """The review tab's rows (header dropped) in the tab's own column order → ours."""
    if not grid:
        return []
    index = header_index(grid[0])
    cols = [index.get(norm_header(h)) for h in REVIEW_HEADERS]
    rows = []
    for cells in grid[1:]:
        row = [cells[c] if c is not None and c < len(cells) else None for c in cols]
        if not all(is_blank(v) for v in row):
            rows.append(row)
    return rows


def write_review(
    backend: Backend,
    book: Workbook,
    steps: Sequence[Step],
    *,
    fraction: float,
    seed: int,
    min_rows: int = 10,
    replace: bool = False,
) -> list[ReviewOutcome]:
    """Draw a sample for each step and (re)write the review tab; commits.

    Rows already on the tab for other steps are kept. A step whose rows on the tab already
    carry a ``Correct label`` is refused unless ``replace`` is set, so a person's work is
    never thrown away by accident.
    """
    old_grid = book.grids.get(REVIEW_TAB)
    existing = _existing(old_grid)
    chosen = {norm_header(s.name) for s in steps}
    for step in steps:
        done = [
            r
            for r in existing
            if norm_header(r[0]) == norm_header(step.name) and not is_blank(r[_LABEL_COL - 1])
        ]
        if done and not replace:
            raise SheetAIError(
                f"{REVIEW_TAB}: step '{step.name}' already has {len(done)} reviewed rows. Run "
                "`sheetai qc` to measure them, or add --replace to draw a new sample (their "
                "labels are then discarded)."
            )
    kept = [r for r in existing if norm_header(r[0]) not in chosen]
    blocks: list[tuple[Step | None, list[list[Any]]]] = []
    by_name = {norm_header(s.name): s for s in book.steps}
    for name in dict.fromkeys(norm_header(r[0]) for r in kept):  # other steps' rows first
        blocks.append((by_name.get(name), [r for r in kept if norm_header(r[0]) == name]))
    outcomes: list[ReviewOutcome] = []
    for offset, step in enumerate(steps):
        data = step_data(step, book.grids)
        answered = data.answered
        candidates = [Candidate(r.row, r.answer or "", r.confidence) for r in answered]
        drawn = stratified_sample(
            candidates, sample_size(len(candidates), fraction, min_rows), seed + offset
        )
        rows_by_number = {r.row: r for r in answered}
        sizes = stratum_sizes(candidates, drawn)
        version = review_version(step)
        rows = []
        for d in drawn:
            row = rows_by_number[d.candidate.row]
            rows.append(
                [step.name, row.row, row.text, row.answer, row.confidence, None, d.stratum,
                 sizes[d.stratum], version]
            )  # fmt: skip
        blocks.append((step, rows))
        outcomes.append(
            ReviewOutcome(
                step.name,
                len(answered),
                len(drawn),
                sum(1 for d in drawn if d.stratum.startswith("lowest")),
                0,
                False,
                False,
            )
        )

    grid: Grid = [list(REVIEW_HEADERS)]
    placed: list[tuple[Step | None, int, list[list[Any]]]] = []
    for owner, rows in blocks:
        placed.append((owner, len(grid) + 1, rows))
        grid.extend(rows)
    old_height = len(old_grid or [])
    old_width = max((len(r) for r in old_grid or []), default=0)
    width = max(len(REVIEW_HEADERS), old_width)
    padded = [list(r) + [None] * (width - len(r)) for r in grid]
    padded.extend([[None] * width for _ in range(old_height - len(grid))])
    if REVIEW_TAB not in book.titles:
        backend.add_sheet(REVIEW_TAB)
        book.titles.append(REVIEW_TAB)
    backend.write([CellBlock(REVIEW_TAB, 1, 1, padded)])

    by_outcome = {norm_header(o.step): o for o in outcomes}
    for owner, first, rows in placed:
        if owner is None or not rows:
            continue
        last = first + len(rows) - 1
        dropdown = backend.set_dropdown(REVIEW_TAB, first, _LABEL_COL, last, owner.label_names)
        links = [
            (first + i, _ROW_COL, owner.sheet, int(r[1]))
            for i, r in enumerate(rows)
            if isinstance(r[1], (int, float))
        ]
        linked = backend.set_links(REVIEW_TAB, links)
        outcome = by_outcome.get(norm_header(owner.name))
        if outcome is not None:
            outcome.first_row, outcome.dropdown, outcome.links = first, dropdown, linked
    backend.commit()
    return outcomes


def review_location(outcome: ReviewOutcome) -> str:
    """Where the step's sample starts, e.g. ``'sheetai review'!F2``."""
    return f"{quote_sheet(REVIEW_TAB)}!F{outcome.first_row}"
