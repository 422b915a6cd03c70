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
import json.scanner
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .row_outputs import RowOutputs
from .tabs import STATE_TAB
from .text import DIGEST_MARK, LONG_TEXT, cell_text, is_blank, normal_cell

__all__ = [
    "STATE_TAB",
    "STATE_HEADERS",
    "RecordSignatures",
    "StateRecord",
    "StateStore",
    "StateWrite",
    "signature",
    "surely_same",
    "taught_digest",
]

STATE_HEADERS = ["step", "fingerprint", "status", "outputs", "updated"]
_TAUGHT = "taught"
_MARKER = "sheetai state v1"
# The tab is written whole again (sorted, no gaps) once blank rows outnumber this many plus the
# records: gaps left by forgotten records cost nothing to read, but should not pile up.
_GAPS_KEPT = 1_000
# What text float() might read starts with (ASCII): a digit, a sign, a point, or is a word.
_NUMBERISH = frozenset("0123456789+-.")
_FLOAT_WORDS = frozenset({"nan", "inf", "infinity"})
# The JSON scanner json.loads runs: (value, end), StopIteration when no value starts at 0.
# (typeshed has make_scanner take itself rather than the decoder it is made from.)
_SCAN: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(
    json.JSONDecoder()  # type: ignore[arg-type]
)


def signature(cells: Iterable[Any]) -> str:
    """What a row's owned output cells hold, in a form that survives any backend's round trip.

    >>> signature(["Positive", "why", 0.91]) == signature(["Positive ", "why", "0.91"])
    True
    """
    return "\x1f".join([_normal(v) for v in cells])


# Cells whose equal values of one type always have one signature (a zero float aside).
_PLAIN = frozenset({str, int, float, bool, type(None)})


def surely_same(cells: Sequence[Any], other: Sequence[Any]) -> bool:
    """Whether ``signature(cells) == signature(other[:len(cells)])`` is certain without making
    either: the same plain values (text, numbers) of the same types, cell for cell.

    False says nothing: compare the signatures then (``0.5`` and ``"0.5"`` have one, but this
    does not look that far).

    >>> surely_same(["Positive", "why", 0.9], ["Positive", "why", 0.9, None])
    True
    >>> surely_same(["Positive", "why", 0.9], ["Positive", "why", "0.9", None])
    False
    """
    theirs = other[: len(cells)]
    return (
        cells == theirs
        and list(map(type, cells)) == list(map(type, theirs))
        and _PLAIN.issuperset(map(type, cells))
        and 0.0 not in cells  # 0.0 == -0.0, but "-0" is not "0"
    )


def _normal(value: Any) -> str:
    """:func:`~sheetai.text.normal_cell`, with a shortcut for text that cannot be a number
    (most answers and reasonings; this runs for every output cell of every row).

    >>> _normal(" Positive "), _normal("1e3"), _normal("١٢"), _normal(0.91), _normal(" ")
    ('Positive', '1000', '12', '0.91', '')
    >>> _normal("Negative"), _normal("NaN"), _normal("Infinity")
    ('Negative', 'NaN', 'Infinity')
    """
    kind = type(value)
    if kind is str:
        text = value.strip()
        if not text:
            return ""
        first = text[0]
        # float() would refuse it, and it is too short to be digested: it stays as it is.
        if (
            first.isascii()
            and first not in _NUMBERISH
            and len(text) <= LONG_TEXT
            and (first not in "iInN" or text.lower() not in _FLOAT_WORDS)
        ):
            return text
    elif kind is float or kind is int:
        return f"{value:.6g}" if kind is float else f"{float(value):.6g}"
    elif value is None:
        return ""
    return normal_cell(value)


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


class RecordSignatures:
    """The signatures of one step's records' owned cells (:meth:`StateRecord.owned_signature`),
    each made when a row first needs it: a row that still holds its record's cells needs none
    (:func:`surely_same`)."""

    def __init__(self, records: Mapping[str, StateRecord], owned_count: int) -> None:
        self._count = owned_count
        self._by_key: dict[str, str] = {}
        self._made: set[str] = set()
        self._left = iter(records.items())  # the records not yet looked at by __contains__

    def of(self, key: str, record: StateRecord) -> str:
        """The signature of ``record``, kept under its fingerprint ``key``."""
        found = self._by_key.get(key)
        if found is None:
            found = self._by_key[key] = record.owned_signature(self._count)
            self._made.add(found)
        return found

    def __contains__(self, current: object) -> bool:
        """Whether some record wrote cells with the signature ``current``: records are looked
        at until one did (all of them only for a cell a person typed)."""
        if current in self._made:
            return True
        return any(self.of(key, record) == current for key, record in self._left)


# A record, its outputs object and its fields: while a record's row shows this, it needs no
# rewrite (records are replaced, or given new fields, when they change; outputs are never
# edited in place).
_Shown = tuple[StateRecord, RowOutputs, str, str, str]


def _as_shown(record: StateRecord) -> _Shown:
    return record, record.outputs, record.status, record.updated, record.taught


@dataclass
class StateWrite:
    """What to write on the tab to make it hold the records: blocks of rows by first row
    (1-based), and where each record then sits (row index, 0-based)."""

    blocks: list[tuple[int, list[list[Any]]]]
    at: dict[tuple[str, str], int]
    sheet: list[list[Any]]
    #: Every record as it then was (its outputs too): the tab holds these once saved.
    shown: dict[tuple[str, str], _Shown] = field(default_factory=dict)


@dataclass
class StateStore:
    """All records, by step then fingerprint, plus free-form extras kept by providers."""

    records: dict[str, dict[str, StateRecord]] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    rows_on_sheet: int = 0
    width: int = len(STATE_HEADERS)
    #: The tab as last read or saved (None: nothing known, write it whole), and the row index of
    #: each record on it: only rows that differ are written (:meth:`changes`).
    sheet: list[list[Any]] | None = field(default=None, repr=False)
    at: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)
    #: The record each row of the tab shows, by key (see ``_Shown``): only others are compared.
    shown: dict[tuple[str, str], _Shown] = field(default_factory=dict, repr=False)

    def for_step(self, step: str) -> dict[str, StateRecord]:
        return self.records.setdefault(step, {})

    @classmethod
    def from_grid(cls, grid: list[list[Any]] | None) -> StateStore:
        store = cls(rows_on_sheet=len(grid or []))
        if not grid:
            return store
        store.sheet = grid
        header = [cell_text(v) for v in grid[0]]
        if header[:1] == [_MARKER] and len(header) > 1 and header[1]:
            store.extras = json.loads(header[1])
        if len(grid) > 1 and len(grid[1]) > 5 and cell_text(grid[1][5]) == _TAUGHT:
            store.width = 6
        records = store.records
        at, shown = store.at, store.shown
        scan = _SCAN
        for index in range(2, len(grid)):
            row = grid[index]
            cells = [v.strip() if type(v) is str else cell_text(v) for v in row[:6]]
            if len(cells) < 6:
                cells += [""] * (6 - len(cells))
            step, fingerprint, status, text, updated, taught = cells
            if not step or not fingerprint:
                continue  # a blank row (a cell of spaces is blank too)
            # json.loads(text), less its Python wrapper (the cell holds no outer spaces).
            try:
                outputs, end = scan(text or "[]", 0)
            except (StopIteration, json.JSONDecodeError):
                continue  # a damaged row only costs a re-run of that row
            if type(outputs) is not list or end != len(text or "[]"):
                continue
            record = StateRecord(
                step, fingerprint, status, RowOutputs.from_cells(outputs), updated, taught
            )
            by_step = records.get(step)
            if by_step is None:
                by_step = records[step] = {}
            by_step[fingerprint] = record
            key = step, fingerprint
            at[key] = index
            if len(row) <= 6 or all(is_blank(v) for v in row[6:]):
                shown[key] = _as_shown(record)
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
        grid.extend(_cells(record)[: self.width] for record in records)
        while len(grid) < self.rows_on_sheet:
            grid.append([None] * self.width)
        self.rows_on_sheet = len(grid)
        return grid

    def changes(self) -> StateWrite:
        """The rows to write so the tab holds the records: only those that differ from it.

        A changed record is rewritten in its row, a new one goes after the last row, a
        forgotten one (and a duplicate or damaged row) is blanked. Nothing is remembered until
        :meth:`written` says the rows were saved, so a failed save is written again next time.
        The tab is written whole when nothing is known of it or gaps pile up.
        """
        records = {(r.step, r.fingerprint): r for by in self.records.values() for r in by.values()}
        if any(r.taught for r in records.values()):
            self.width = 6
        sheet = self.sheet
        if sheet is None or len(sheet) - 2 - len(records) > len(records) + _GAPS_KEPT:
            rows_before = self.rows_on_sheet
            grid = self.to_grid()
            self.rows_on_sheet = rows_before
            placed = {(str(r[0]), str(r[1])): i for i, r in enumerate(grid) if i >= 2 and r[0]}
            every = {key: _as_shown(r) for key, r in records.items()}
            return StateWrite([(1, grid)], placed, grid, every)
        extras = json.dumps(self.extras, sort_keys=True) if self.extras else ""
        head: list[list[Any]] = [
            [_MARKER, extras, *[""] * (self.width - 2)],
            [*STATE_HEADERS, _TAUGHT][: self.width],
        ]
        rows: dict[int, list[Any]] = {
            i: row for i, row in enumerate(head) if i >= len(sheet) or not _same(sheet[i], row)
        }
        at: dict[tuple[str, str], int] = {}
        shown: dict[tuple[str, str], _Shown] = {}
        end = len(sheet)
        for key, record in records.items():
            index = self.at.get(key)
            now = shown[key] = _as_shown(record)
            if index is not None and self.shown.get(key) == now:
                at[key] = index  # the row shows this very record: nothing to compare
                continue
            cells = _cells(record)[: self.width]
            if index is None:
                index, end = end, end + 1
                rows[index] = cells
            elif not _same(sheet[index], cells):
                rows[index] = cells
            at[key] = index
        kept = set(at.values())
        for index in range(2, len(sheet)):
            if index not in kept and not all(is_blank(v) for v in sheet[index]):
                rows[index] = [None] * max(self.width, len(sheet[index]))
        return StateWrite(_blocks(rows), at, sheet, shown)

    def written(self, write: StateWrite) -> None:
        """The rows of ``write`` were saved: the tab now holds them."""
        sheet = write.sheet
        for first, rows in write.blocks:
            for offset, cells in enumerate(rows):
                index = first - 1 + offset
                while len(sheet) <= index:
                    sheet.append([])
                sheet[index] = cells
        self.sheet, self.at, self.shown = sheet, write.at, write.shown
        self.rows_on_sheet = max(self.rows_on_sheet, len(sheet))


def _cells(record: StateRecord) -> list[Any]:
    """A record's row on the tab (its ``taught`` cell is cut off while the tab has none)."""
    return [
        record.step,
        record.fingerprint,
        record.status,
        json.dumps(_compact(record.outputs.all), ensure_ascii=False, default=str),
        record.updated,
        record.taught,
    ]


def _same(old: list[Any], new: list[Any]) -> bool:
    """Whether a row of the tab already shows ``new`` (a backend may give numbers for text)."""
    for i, value in enumerate(new):
        current = old[i] if i < len(old) else None
        if current != value and cell_text(current) != cell_text(value):
            return False
    return all(is_blank(v) for v in old[len(new) :])


def _blocks(rows: dict[int, list[Any]]) -> list[tuple[int, list[list[Any]]]]:
    """Rows by 0-based index as blocks of adjacent rows of one width, by 1-based first row."""
    blocks: list[tuple[int, list[list[Any]]]] = []
    for index in sorted(rows):
        cells = rows[index]
        if blocks:
            first, block = blocks[-1]
            if first - 1 + len(block) == index and len(block[-1]) == len(cells):
                block.append(cells)
                continue
        blocks.append((index + 1, [cells]))
    return blocks


def _compact(outputs: list[Any]) -> list[Any]:
    """Long texts replaced by the digest :func:`signature` compares them by."""
    return [normal_cell(v) if isinstance(v, str) and len(v) > LONG_TEXT else v for v in outputs]
