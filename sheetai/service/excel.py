"""``POST /v1/excel/sync``: run the sync engine on a workbook the Excel add-in sent as values.

The add-in cannot be reached from here, so it sends every worksheet (values from A1, empty
cells as ``""``); the engine runs on a :class:`~sheetai.backends.memory.MemoryBackend`, and the
answer lists the sheets to create and the rectangles to write, each cell once.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel

from ..a1 import range_address
from ..backends.blocks import merge_blocks
from ..backends.memory import MemoryBackend
from ..engine.daily_cap import capped_sync
from ..engine.sync import SyncOptions
from ..settings import Settings
from ..state import STATE_TAB

__all__ = ["ExcelSyncRequest", "excel_sync"]


class ExcelSyncRequest(BaseModel):
    """The add-in's request body."""

    sheets: dict[str, list[list[Any]]]
    step: str | None = None
    force: bool = False
    # "edit": the add-in's "Sync automatically" (it debounces edits itself); logged as
    # "excel-edit" and capped per day like every automatic sync.
    trigger: Literal["button", "edit"] = "button"


def _cell_in(value: Any) -> Any:
    return None if value == "" else value


def _cell_out(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return value


def excel_sync(request: ExcelSyncRequest, settings: Settings) -> dict[str, Any]:
    """Sync the sent workbook; return ``{"summary", "new_sheets", "writes"}``."""
    sheets = {
        name: [[_cell_in(v) for v in row] for row in rows] for name, rows in request.sheets.items()
    }
    backend = MemoryBackend(sheets, hidden=[STATE_TAB] if STATE_TAB in sheets else [])
    options = SyncOptions(step=request.step, force=request.force,
                          trigger=f"excel-{request.trigger}")  # fmt: skip
    summary = capped_sync(backend, settings, options)
    writes = []
    # Later commits win: the state tab is rewritten each time.
    for block in merge_blocks(backend.committed):
        last_row = block.row + len(block.values) - 1
        last_col = block.col + len(block.values[0]) - 1
        writes.append(
            {
                "sheet": block.sheet,
                "address": range_address(block.row, block.col, last_row, last_col),
                "values": [[_cell_out(v) for v in row] for row in block.values],
            }
        )
    return {
        "summary": summary.to_json(),
        "new_sheets": [{"name": n, "hidden": h} for n, h in backend.new_sheets],
        "writes": writes,
    }
