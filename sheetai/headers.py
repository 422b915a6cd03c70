"""Find columns in a header row by name, ignoring case and spaces.

Positions here are indexes into the Python list that holds the header row (0-based): these
helpers serve every reader of a row of headers (the config tab, the review and log tabs). The
engine turns them into the sheet's 1-based column numbers in
:func:`~sheetai.engine.columns.resolve_columns`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .text import is_blank, norm_header

__all__ = ["header_index", "header_columns"]


def header_index(header: Sequence[Any]) -> dict[str, int]:
    """Normalised header -> 0-based list index; the first of duplicate headers wins.

    The config tab refuses a step that uses a duplicated header (see :func:`header_columns`),
    so a step's own columns are never the ambiguous ones.

    >>> header_index(["Review", " review ", "Date"])
    {'review': 0, 'date': 2}
    """
    index: dict[str, int] = {}
    for col, value in enumerate(header):
        if not is_blank(value):
            index.setdefault(norm_header(value), col)
    return index


def header_columns(header: Sequence[Any]) -> dict[str, list[int]]:
    """Normalised header -> every 0-based list index headed so, to find duplicates.

    >>> header_columns(["ID", "Review", "Review ", None])
    {'id': [0], 'review': [1, 2]}
    """
    columns: dict[str, list[int]] = {}
    for col, value in enumerate(header):
        if not is_blank(value):
            columns.setdefault(norm_header(value), []).append(col)
    return columns
