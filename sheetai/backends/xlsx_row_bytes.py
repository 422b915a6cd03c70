"""New cells of a worksheet row written as bytes, without building an XML tree.

A first sync adds a few cells to every row of a big sheet. Building each cell as an lxml
element cost about 10 KB a row and most of the save's time; here a new cell is serialised
straight to the bytes the tree would have given (same element names and prefix, attribute
order, escaping, ``xml:space``), and spliced into the row's bytes in column order. A row that
needs more (a cell already there is overwritten: its style, formula and attributes matter) is
left to the tree path (:meth:`~.xlsx_cells.SheetCells`), one row at a time.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..a1 import column_number

__all__ = [
    "MAX_CELL_CHARS",
    "RowShape",
    "cell_bytes",
    "clean_text",
    "escape_text",
    "insert_cells",
    "new_row",
    "row_shape",
]

MAX_CELL_CHARS = 32_767
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_R_REF = re.compile(rb"\sr\s*=\s*[\"']([A-Za-z]+)\d+[\"']")
_SPANS = re.compile(rb"(\sspans\s*=\s*[\"'])(\d+):(\d+)([\"'])")


def clean_text(value: str) -> str:
    r"""Text as a cell can hold it: no XML-illegal characters, at most 32,767 characters.

    >>> clean_text("a\x00b\x1fc")
    'abc'
    """
    return _ILLEGAL.sub("", value)[:MAX_CELL_CHARS]


def escape_text(text: str) -> str:
    r"""Text as lxml writes it in element content (a ``\r`` kept as a reference).

    >>> escape_text('a < b & "c" > d\r\n')
    'a &lt; b &amp; "c" &gt; d&#13;\n'
    """
    return text.translate(_ESCAPES)


def _text_cell(prefix: str, ref: str, text: str) -> bytes:
    space = ' xml:space="preserve"' if text != text.strip() or "\n" in text else ""
    p = prefix
    return (
        f'<{p}c r="{ref}" t="inlineStr"><{p}is><{p}t{space}>{escape_text(text)}'
        f"</{p}t></{p}is></{p}c>"
    ).encode()


def _number_cell(prefix: str, ref: str, number: str, style: str = "", kind: str = "") -> bytes:
    p = prefix
    return f'<{p}c r="{ref}"{style}{kind}><{p}v>{number}</{p}v></{p}c>'.encode()


def cell_bytes(prefix: str, ref: str, value: Any, date_style: Callable[[Any], int]) -> bytes | None:
    """The ``<c>`` a new cell (no style yet) holding ``value`` is written as; None for None.

    ``date_style`` gives the cell format of a date (added to the styles when first asked).

    >>> cell_bytes("", "D2", "a & b", int)
    b'<c r="D2" t="inlineStr"><is><t>a &amp; b</t></is></c>'
    >>> cell_bytes("x:", "E2", True, int), cell_bytes("", "F2", 0.5, int)
    (b'<x:c r="E2" t="b"><x:v>1</x:v></x:c>', b'<c r="F2"><v>0.5</v></c>')
    """
    if value is None:
        return None
    kind = type(value)
    if kind is str:
        return _text_cell(prefix, ref, clean_text(value))
    if kind is float and math.isfinite(value):
        return _number_cell(prefix, ref, repr(value))
    if kind is int:
        return _number_cell(prefix, ref, str(value))
    if isinstance(value, bool):
        return _number_cell(prefix, ref, "1" if value else "0", kind=' t="b"')
    if isinstance(value, numbers.Integral):
        return _number_cell(prefix, ref, str(int(value)))
    if isinstance(value, numbers.Real) and math.isfinite(value):
        return _number_cell(prefix, ref, repr(float(value)))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        from openpyxl.utils.datetime import to_excel

        style = f' s="{date_style(value)}"'
        return _number_cell(prefix, ref, repr(float(to_excel(value))), style=style)
    return _text_cell(prefix, ref, clean_text(str(value)))


def new_row(prefix: str, number: int, cells: list[bytes]) -> bytes:
    """A row that was not in the sheet, holding ``cells`` (in column order).

    >>> new_row("", 7, [b'<c r="A7"><v>1</v></c>'])
    b'<row r="7"><c r="A7"><v>1</v></c></row>'
    """
    return f'<{prefix}row r="{number}">'.encode() + b"".join(cells) + f"</{prefix}row>".encode()


class RowShape:
    """Where a row's cells start, by column, and where its cells end (its closing tag)."""

    def __init__(self, starts: dict[int, int], head_end: int, close: int) -> None:
        self.starts = starts
        self.head_end = head_end  # just after the row's start tag
        self.close = close  # the closing tag; -1 for a row written as <row .../>


@functools.lru_cache(maxsize=8)
def _patterns(prefix: bytes) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    p = re.escape(prefix)
    return re.compile(rb"<" + p + rb"row(?=[\s/>])[^>]*>"), re.compile(
        rb"<" + p + rb"c(?=[\s/>])([^>]*)>"
    )


def row_shape(row: bytes, prefix: bytes) -> RowShape | None:
    """The cells of one row's bytes (as split from its part); None when a cell has no ``r``."""
    row_tag, cell_tag = _patterns(prefix)
    head = row_tag.match(row)
    if head is None:
        return None
    if head.group(0).endswith(b"/>"):
        return RowShape({}, head.end(), -1)
    close = row.rfind(b"</" + prefix + b"row>")
    if close < 0:
        return None
    starts = {}
    for found in cell_tag.finditer(row, head.end(), close):
        ref = _R_REF.search(found.group(1))
        if ref is None:
            return None
        starts[column_number(ref.group(1).decode().upper())] = found.start()
    return RowShape(starts, head.end(), close)


def insert_cells(row: bytes, prefix: bytes, shape: RowShape, cells: Mapping[int, bytes]) -> bytes:
    """``row`` with ``cells`` (columns it does not hold) put in column order, and its
    ``spans`` widened over them, as the tree path does."""
    head = row[: shape.head_end]
    if cells:
        spans = _SPANS.search(head)
        if spans is not None:
            low = min(int(spans.group(2)), *cells)
            high = max(int(spans.group(3)), *cells)
            new = spans.group(1) + f"{low}:{high}".encode() + spans.group(4)
            head = head[: spans.start()] + new + head[spans.end() :]
    if shape.close < 0:
        # <row r="5"/> becomes <row r="5">cells</row>; what followed it stays after it.
        opening = head[:-2].rstrip() + b">"
        body = b"".join(cells[c] for c in sorted(cells))
        return opening + body + b"</" + prefix + b"row>" + row[shape.head_end :]
    pieces = [head]
    cursor = shape.head_end
    existing = sorted(shape.starts.items())
    at = 0
    for col in sorted(cells):
        while at < len(existing) and existing[at][0] < col:
            at += 1
        where = existing[at][1] if at < len(existing) else shape.close
        pieces += [row[cursor:where], cells[col]]
        cursor = where
    pieces.append(row[cursor:])
    return b"".join(pieces)
