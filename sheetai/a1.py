"""A1-notation arithmetic: pure functions over 1-based row and column numbers."""

from __future__ import annotations

import re

__all__ = ["column_letter", "column_number", "cell_address", "range_address", "quote_sheet"]

_CELL_RE = re.compile(r"^([A-Za-z]+)(\d+)$")


def column_letter(col: int) -> str:
    """Turn a 1-based column number into letters.

    >>> column_letter(1), column_letter(26), column_letter(27), column_letter(703)
    ('A', 'Z', 'AA', 'AAA')
    """
    if col < 1:
        raise ValueError(f"column numbers start at 1, got {col}")
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def column_number(letters: str) -> int:
    """Turn column letters into a 1-based number.

    >>> column_number("A"), column_number("z"), column_number("AA")
    (1, 26, 27)
    """
    num = 0
    for ch in letters.upper():
        if not "A" <= ch <= "Z":
            raise ValueError(f"not a column: {letters!r}")
        num = num * 26 + ord(ch) - 64
    return num


def cell_address(row: int, col: int) -> str:
    """The A1 address of a cell.

    >>> cell_address(2, 3)
    'C2'
    """
    return f"{column_letter(col)}{row}"


def range_address(row: int, col: int, last_row: int, last_col: int) -> str:
    """The A1 address of a rectangle.

    >>> range_address(1, 5, 201, 8)
    'E1:H201'
    """
    return f"{cell_address(row, col)}:{cell_address(last_row, last_col)}"


def quote_sheet(title: str) -> str:
    """Quote a sheet title for use in a range, as Excel and Google do.

    >>> quote_sheet("Feedback"), quote_sheet("sheetai log"), quote_sheet("Bob's")
    ('Feedback', "'sheetai log'", "'Bob''s'")
    """
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", title) and not _CELL_RE.match(title):
        return title
    return "'" + title.replace("'", "''") + "'"
