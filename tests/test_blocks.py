"""Merging cell writes into blocks: the same cells, each once, with the last value written."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sheetai.backends.base import CellBlock
from sheetai.backends.blocks import merge_blocks

cells = st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(0, 9))


def _painted(blocks: list[CellBlock]) -> dict[tuple[str, int, int], Any]:
    """What a sheet holds after writing ``blocks`` one after the other."""
    out: dict[tuple[str, int, int], Any] = {}
    for block in blocks:
        for r, row in enumerate(block.values):
            for c, value in enumerate(row):
                out[(block.sheet, block.row + r, block.col + c)] = value
    return out


@given(st.lists(st.tuples(st.sampled_from("AB"), cells), max_size=40))
def test_merged_blocks_write_the_same_cells_once_each(writes: list[tuple[str, Any]]) -> None:
    blocks = [CellBlock(sheet, row, col, [[value]]) for sheet, (row, col, value) in writes]
    merged = merge_blocks(blocks)
    assert _painted(merged) == _painted(blocks)
    assert sum(len(b.values) * len(b.values[0]) for b in merged) == len(_painted(blocks))
    assert all(len({len(row) for row in b.values}) == 1 for b in merged)  # rectangles


def test_a_column_of_answers_beside_a_second_column_is_two_blocks_not_one_per_row() -> None:
    blocks = [
        CellBlock("S", row, col, [[f"{col}{row}"]]) for row in range(2, 102) for col in (3, 7)
    ]
    merged = merge_blocks(blocks)
    assert [(b.row, b.col, len(b.values)) for b in merged] == [(2, 3, 100), (2, 7, 100)]
