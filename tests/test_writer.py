"""Cell writes are buffered, merged into few rectangles and committed in chunks."""

from __future__ import annotations

from sheetai.backends.memory import MemoryBackend
from sheetai.engine.writer import ChunkWriter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _writer(backend: MemoryBackend, clock: Clock, calls: list[str]) -> ChunkWriter:
    return ChunkWriter(
        backend,
        chunk_rows=2,
        chunk_seconds=10,
        before_commit=lambda: calls.append("state"),
        clock=clock,
    )


def test_adjacent_cells_are_written_as_one_block_after_the_state() -> None:
    backend = MemoryBackend({"S": [["A", "B"]]})
    calls: list[str] = []
    writer = _writer(backend, Clock(), calls)
    for row in (2, 3):
        writer.set("S", row, 1, f"a{row}")
        writer.set("S", row, 2, f"b{row}")
    writer.set("S", 3, 4, "far")
    assert writer.pending and backend.sheets["S"] == [["A", "B"]]
    writer.commit()
    assert calls == ["state"]
    assert [(b.row, b.col, b.values) for b in backend.committed] == [
        (2, 1, [["a2", "b2"], ["a3", "b3"]]),
        (3, 4, [["far"]]),
    ]
    assert backend.sheets["S"][2] == ["a3", "b3", None, "far"]
    assert not writer.pending


def test_a_chunk_is_due_when_enough_rows_wait_or_they_waited_long_enough() -> None:
    clock = Clock()
    writer = _writer(MemoryBackend({"S": []}), clock, [])
    assert not writer.due()  # nothing waits
    writer.row_done()
    assert not writer.due()
    writer.row_done()
    assert writer.due()  # chunk_rows reached
    writer.commit()
    writer.row_done()
    clock.now = 9.9
    assert not writer.due()
    clock.now = 10.0
    assert writer.due()  # chunk_seconds passed


def test_the_first_chunk_of_a_slow_workbook_waits_as_later_ones_do() -> None:
    clock = Clock()
    writer = ChunkWriter(
        MemoryBackend({"S": []}), chunk_rows=2, chunk_seconds=100, clock=clock,
        expected_save_seconds=3.0,
    )  # fmt: skip
    writer.row_done(5)
    clock.now = 26.9
    assert not writer.due()  # a save is expected to take 3 s: wait nine times that
    clock.now = 27.0
    assert writer.due()
