"""Collect cell writes, turn them into few rectangular blocks, and commit them in chunks.

Rows and columns are the sheet's 1-based numbers, as in every engine module.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..backends.base import Backend, CellBlock
from ..backends.blocks import rectangles

__all__ = ["ChunkWriter", "blocks_for"]

# Wait at least this many times as long as the last save took before saving again.
_SAVE_SHARE = 9


def blocks_for(sheet: str, cells: dict[int, dict[int, Any]]) -> list[CellBlock]:
    """Group ``{row: {col: value}}`` (1-based) into rectangles of adjacent cells.

    Consecutive rows that write the same contiguous columns become one block (see
    :func:`sheetai.backends.blocks.rectangles`).

    >>> [(b.row, b.col, b.values) for b in blocks_for("S", {2: {5: "a", 6: 1}, 3: {5: "b", 6: 2}})]
    [(2, 5, [['a', 1], ['b', 2]])]
    """
    return rectangles(sheet, cells)


class ChunkWriter:
    """Buffers cell writes and commits them when a chunk is full or old enough.

    ``before_commit`` runs first on every commit (the engine writes the state tab there), so
    results and the state that vouches for them always land together; ``after_commit`` runs
    once the backend has saved them (the state then knows what the tab holds).
    """

    def __init__(
        self,
        backend: Backend,
        *,
        chunk_rows: int,
        chunk_seconds: float,
        before_commit: Callable[[], None] | None = None,
        after_commit: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        expected_save_seconds: float = 0.0,
    ) -> None:
        self.backend = backend
        self.chunk_rows = chunk_rows
        self.chunk_seconds = chunk_seconds
        self.before_commit = before_commit
        self.after_commit = after_commit
        self.clock = clock
        self.commits = 0
        self._cells: dict[str, dict[int, dict[int, Any]]] = {}
        self._rows_pending = 0
        self._last_commit = clock()
        # Until a save is timed, a guess (reading the workbook took about as long): the first
        # chunk of a big file then waits as later ones do, not only for ``chunk_rows``.
        self._last_duration = expected_save_seconds

    def set(self, sheet: str, row: int, col: int, value: Any) -> None:
        """Write ``value`` at 1-based (row, col) of ``sheet`` on the next commit."""
        self._cells.setdefault(sheet, {}).setdefault(row, {})[col] = value

    def row_done(self, count: int = 1) -> None:
        self._rows_pending += count

    @property
    def pending(self) -> bool:
        return bool(self._cells)

    def due(self) -> bool:
        """A chunk is due when enough rows wait, or they have waited long enough.

        The wait grows with how long a commit takes (a save of a big file), so saving never
        costs more than about a tenth of the run.
        """
        if not self._rows_pending:
            return False
        waited = self.clock() - self._last_commit
        if self._rows_pending >= self.chunk_rows and waited >= _SAVE_SHARE * self._last_duration:
            return True
        return waited >= max(self.chunk_seconds, _SAVE_SHARE * self._last_duration)

    def commit(self) -> None:
        started = self.clock()
        if self.before_commit is not None:
            self.before_commit()
        blocks = [b for sheet, cells in self._cells.items() for b in blocks_for(sheet, cells)]
        if blocks:
            self.backend.write(blocks)
        self.backend.commit()
        if self.after_commit is not None:
            self.after_commit()
        self._cells.clear()
        self._rows_pending = 0
        self.commits += 1
        self._last_commit = self.clock()
        self._last_duration = self._last_commit - started
