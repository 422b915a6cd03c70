"""A1-notation arithmetic: pure functions over 1-based row and column numbers."""

from __future__ import annotations

import re

__all__ = [
    "column_letter",
    "column_number",
    "cell_address",
    "range_address",
    "quote_sheet",
    "split_range",
    "parse_range",
]

_CELL_RE = re.compile(r"^([A-Za-z]+)(\d+)$")
_CORNER_RE = re.compile(r"\$?([A-Za-z]{1,3})?\$?([0-9]+)?")


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


def split_range(text: str) -> tuple[str | None, str | None]:
    """Split a range into its sheet title (unquoted) and its A1 part; either may be None.

    Text without ``!`` that is not quoted is returned as the A1 part: whether it names a sheet
    or cells is for the caller to decide.

    >>> split_range("'Bob''s sheet'!A1:B2"), split_range("Feedback!C:C")
    (("Bob's sheet", 'A1:B2'), ('Feedback', 'C:C'))
    >>> split_range("'Feedback'"), split_range("A1:B2")
    (('Feedback', None), (None, 'A1:B2'))
    """
    if text.startswith("'"):
        end = 1
        while True:
            end = text.find("'", end)
            if end < 0:
                raise ValueError(f"unterminated quote in range: {text!r}")
            if text[end + 1 : end + 2] != "'":
                break
            end += 2
        title, rest = text[1:end].replace("''", "'"), text[end + 1 :]
        if rest == "":
            return title, None
        if not rest.startswith("!") or rest == "!":
            raise ValueError(f"not a range: {text!r}")
        return title, rest[1:]
    if "!" in text:
        title, a1 = text.rsplit("!", 1)
        if not title or not a1:
            raise ValueError(f"not a range: {text!r}")
        return title, a1
    return None, text


def parse_range(a1: str) -> tuple[int, int, int | None, int | None]:
    """Parse ``B3``, ``A2:F``, ``C:E`` or ``2:5`` into ``(row, col, last_row, last_col)``.

    Numbers are 1-based and inclusive; a missing start is 1 and a missing end is None (to the
    sheet's edge). Corners may come in any order. Raises ValueError if ``a1`` is not A1
    notation (a sheet title, say).

    >>> parse_range("B3"), parse_range("$A$2:F"), parse_range("2:5"), parse_range("C:A")
    ((3, 2, 3, 2), (2, 1, None, 6), (2, 1, 5, None), (1, 1, None, 3))
    """
    corners = []
    for part in a1.split(":"):
        match = _CORNER_RE.fullmatch(part)
        if not match or not (match.group(1) or match.group(2)) or match.group(2) == "0":
            raise ValueError(f"not an A1 range: {a1!r}")
        letters, digits = match.groups()
        corners.append(
            (int(digits) if digits else None, column_number(letters) if letters else None)
        )
    if len(corners) == 1:
        row, col = corners[0]
        if row is None or col is None:
            raise ValueError(f"not an A1 range: {a1!r}")
        return row, col, row, col
    if len(corners) != 2:
        raise ValueError(f"not an A1 range: {a1!r}")
    (row_a, col_a), (row_b, col_b) = corners
    rows = sorted([row_a, row_b]) if row_a and row_b else [row_a or 1, row_b]
    cols = sorted([col_a, col_b]) if col_a and col_b else [col_a or 1, col_b]
    return rows[0] or 1, cols[0] or 1, rows[1], cols[1]
