"""What the last sync wrote, kept in a hidden tab (``_sheetai_state``) of the workbook itself.

Keeping state inside the workbook means the CLI, the Sync button and the nightly job all see
the same history, and copying the file copies it. One row per (step, row fingerprint):

    step | fingerprint | status | outputs (JSON list of the cells written) | updated (UTC)
    [| taught]

``taught`` (added later, written only once some record has one) is the digest of the labelled
rows the model had learnt from when it gave the answer (:func:`taught_digest`); a record
without it was taught by nothing. A tab without the column reads back, and is written back,
cell for cell as before.

The outputs are a flat list on the tab (value cells, reasoning, confidence, flag) and a
:class:`~sheetai.row_outputs.RowOutputs` in memory; :meth:`StateStore.from_grid` and
:meth:`StateStore.to_grid` are the only places that convert, so the tab's format never moves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .row_outputs import RowOutputs
from .tabs import STATE_TAB
from .text import DIGEST_MARK, LONG_TEXT, cell_text, is_blank, normal_cell

__all__ = ["STATE_TAB", "STATE_HEADERS", "StateRecord", "StateStore", "signature", "taught_digest"]

STATE_HEADERS = ["step", "fingerprint", "status", "outputs", "updated"]
_TAUGHT = "taught"
_MARKER = "sheetai state v1"


def signature(cells: Iterable[Any]) -> str:
    """What a row's owned output cells hold, in a form that survives any backend's round trip.

    >>> signature(["Positive", "why", 0.91]) == signature(["Positive ", "why", "0.91"])
    True
    """
    return "\x1f".join(normal_cell(v) for v in cells)


def taught_digest(pairs: Iterable[tuple[str, str]]) -> str:
    """A short digest of (text, label) pairs, whatever their order; ``""`` for none.

    >>> taught_digest([]), taught_digest([("b", "X"), ("a", "Y")]) == taught_digest(
    ...     [("a", "Y"), ("b", "X")])
    ('', True)
    """
    unique = sorted(set(pairs))
    if not unique:
        return ""
    blob = json.dumps(unique, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class StateRecord:
    """What sheetai wrote for one step on rows with one fingerprint."""

    step: str
    fingerprint: str
    status: str  # "ok", "invalid" or "failed"
    outputs: RowOutputs
    updated: str = ""
    taught: str = ""  # digest of what the model had learnt from; "" = nothing

    def owned_signature(self, owned_count: int) -> str:
        """The signature of the first ``owned_count`` cells, as the tab lists them."""
        return signature(self.outputs.all[:owned_count])

    @property
    def fillable(self) -> bool:
        """False when a long output is remembered only by its digest (it cannot be rewritten)."""
        return not any(isinstance(v, str) and v.startswith(DIGEST_MARK) for v in self.outputs.all)


@dataclass
class StateStore:
    """All records, by step then fingerprint, plus free-form extras kept by providers."""

    records: dict[str, dict[str, StateRecord]] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    rows_on_sheet: int = 0
    width: int = len(STATE_HEADERS)

    def for_step(self, step: str) -> dict[str, StateRecord]:
        return self.records.setdefault(step, {})

    @classmethod
    def from_grid(cls, grid: list[list[Any]] | None) -> StateStore:
        store = cls(rows_on_sheet=len(grid or []))
        if not grid:
            return store
        header = [cell_text(v) for v in grid[0]]
        if header[:1] == [_MARKER] and len(header) > 1 and header[1]:
            store.extras = json.loads(header[1])
        if len(grid) > 1 and len(grid[1]) > 5 and cell_text(grid[1][5]) == _TAUGHT:
            store.width = 6
        for row in grid[2:]:
            cells = list(row) + [None] * (6 - len(row))
            if is_blank(cells[0]) or is_blank(cells[1]):
                continue
            try:
                outputs = json.loads(cell_text(cells[3]) or "[]")
            except json.JSONDecodeError:
                continue  # a damaged row only costs a re-run of that row
            if not isinstance(outputs, list):
                continue
            record = StateRecord(
                cell_text(cells[0]),
                cell_text(cells[1]),
                cell_text(cells[2]),
                RowOutputs.from_cells(outputs),
                cell_text(cells[4]),
                cell_text(cells[5]),
            )
            store.for_step(record.step)[record.fingerprint] = record
        return store

    def to_grid(self) -> list[list[Any]]:
        """Rows for the state tab, padded with blanks to cover what the tab held before."""
        records = [r for step in sorted(self.records) for r in self.records[step].values()]
        if any(r.taught for r in records):
            self.width = 6
        extras = json.dumps(self.extras, sort_keys=True) if self.extras else ""
        grid: list[list[Any]] = [
            [_MARKER, extras, *[""] * (self.width - 2)],
            [*STATE_HEADERS, _TAUGHT][: self.width],
        ]
        for record in records:
            row = [
                record.step,
                record.fingerprint,
                record.status,
                json.dumps(_compact(record.outputs.all), ensure_ascii=False, default=str),
                record.updated,
                record.taught,
            ]
            grid.append(row[: self.width])
        while len(grid) < self.rows_on_sheet:
            grid.append([None] * self.width)
        self.rows_on_sheet = len(grid)
        return grid


def _compact(outputs: list[Any]) -> list[Any]:
    """Long texts replaced by the digest :func:`signature` compares them by."""
    return [normal_cell(v) if isinstance(v, str) and len(v) > LONG_TEXT else v for v in outputs]
