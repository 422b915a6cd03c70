"""Cell values that are not data: what backends hand the engine instead of text to classify.

Every backend marks such cells with these types, so the planner can skip them by type
(``isinstance``), whatever backend read them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Uncomputed", "CellError", "SPREADSHEET_ERRORS", "as_cell_error"]

#: Error values Excel, LibreOffice and Google Sheets show in a cell.
SPREADSHEET_ERRORS = frozenset(
    {
        "#N/A",
        "#REF!",
        "#VALUE!",
        "#DIV/0!",
        "#NAME?",
        "#NUM!",
        "#NULL!",
        "#SPILL!",
        "#CALC!",
        "#GETTING_DATA",
        "#ERROR!",
        "#FIELD!",
        "#BLOCKED!",
        "#CONNECT!",
        "#BUSY!",
        "#UNKNOWN!",
    }
)


class Uncomputed(str):
    """A formula cell whose result the file does not hold (saved by a tool that never computed
    it); its text is the formula."""


class CellError(str):
    """An error value shown in a cell (``#N/A``, ``#DIV/0!`` ...); its text is the error."""


def as_cell_error(value: Any) -> CellError | None:
    """The error a cell shows, or None when ``value`` is ordinary data.

    >>> as_cell_error("#N/A"), as_cell_error(" #DIV/0! "), as_cell_error("N/A")
    ('#N/A', '#DIV/0!', None)
    """
    if isinstance(value, CellError):
        return value
    if isinstance(value, str) and value.strip().upper() in SPREADSHEET_ERRORS:
        return CellError(value.strip().upper())
    return None
