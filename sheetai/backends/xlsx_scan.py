"""A fast read of a worksheet whose cells all have the plain shapes writers use.

Walking a 100k-row part element by element through lxml costs a few microseconds per cell.
Cells as Excel, LibreOffice, openpyxl and sheetai write them come in a handful of shapes
(``<c r="B2" s="1" t="s"><v>4</v></c>``, an inline string, a plain formula with or without
its result), which one regular expression reads at C speed. :func:`scan_cells` reads a part
that way only when every cell of it has one of those shapes; for any other part (shared or
array formulas, rich text, namespace prefixes, comments, another encoding) it returns None and
the caller walks the part with lxml, as before. Either way the values are the same: both hand
a cell's type and text to the same reader (:mod:`.xlsx_read`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Protocol

from .base import Grid

__all__ = ["scan_cells"]

_CELL = re.compile(
    rb'<c r="([A-Z]{1,3})([0-9]+)"(?: s="([0-9]+)")?(?: t="([a-zA-Z]+)")?'
    rb"(?:/>|>(?:"
    rb"<v>([^<]*)</v>|<v/>"
    rb'|(<is><t(?: xml:space="preserve")?>([^<]*)</t></is>|<is><t/></is>)'
    rb'|(<f(?: aca="(?:false|true)")?>([^<]*)</f>)(?:<v>([^<]*)</v>|<v/>)?'
    rb")?</c>)"
)
_SHEET_DATA = re.compile(rb"<sheetData(?:/>|>)")
_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([^\"']+)[\"']")
_REFERENCE = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_CHUNK = 1 << 20
_LETTERS = {chr(65 + i).encode(): i + 1 for i in range(26)}


class _Reader(Protocol):
    def typed(self, kind: str, text: str, style: int, ref: str | None) -> Any: ...
    def shown(self, value: Any, style: int, number: int, col: int) -> Any: ...
    def note_formula(self, number: int, col: int, computed: bool, text: str) -> None: ...


def _reference(found: re.Match[str]) -> str:
    name = found.group(1)
    if name.startswith("#x"):
        return chr(int(name[2:], 16))
    if name.startswith("#"):
        return chr(int(name[1:]))
    return _NAMED[name]


def _text(raw: bytes) -> str:
    """Element text as an XML parser gives it: line ends normalised, references resolved.

    >>> _text(b"a &amp; b&#10;c\\r\\nd")
    'a & b\\nc\\nd'
    """
    text = raw.decode()
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in text:
        text = _REFERENCE.sub(_reference, text)
    return text


def _column(letters: bytes, cache: dict[bytes, int]) -> int:
    number = 0
    for i in range(len(letters)):
        number = number * 26 + _LETTERS[letters[i : i + 1]]
    cache[letters] = number
    return number


def scan_cells(data: bytes, reader: _Reader) -> Grid | None:
    """The rows of the worksheet part ``data`` (trailing empty rows kept), or None when some
    cell is not of a plain shape (then ``reader`` may have noted some cells: use a new one)."""
    encoding = _ENCODING.match(data)
    if encoding and encoding.group(1).lower().replace(b"-", b"") != b"utf8":
        return None
    opening = _SHEET_DATA.search(data)
    if opening is None:
        return None
    start = opening.end()
    end = data.find(b"</sheetData>", start) if opening.group().endswith(b">") else -1
    end = max(end, start)
    # Each cell starts "<c " (text holds no "<"): as many matches as starts means every cell
    # matched whole. Prefixed cells, comments and CDATA would slip past that count.
    for odd in (b"<!", b"<?", b":c ", b":c>", b"<c>", b"<c/>"):
        if data.find(odd, start, end) >= 0:
            return None
    try:
        return _grid(data, start, end, reader)
    except ValueError:
        return None


def _cells(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, ...]]:
    """The cells of ``data[start:end]``, read a slice of rows at a time (all at once would hold
    a tuple per cell: hundreds of megabytes on a 100k-row sheet). Raises ValueError when not
    every cell there has a plain shape."""
    while start < end:
        cut = data.find(b"<row", start + _CHUNK, end)
        cut = end if cut < 0 else cut
        cells = _CELL.findall(data, start, cut)
        if len(cells) != data.count(b"<c ", start, cut):
            raise ValueError("a cell that is not of a plain shape")
        yield from cells
        start = cut


def _grid(data: bytes, start: int, end: int, reader: _Reader) -> Grid | None:
    grid: Grid = []
    values: list[Any] = []
    number = last = 0
    columns: dict[bytes, int] = {}
    typed, shown, note_formula = reader.typed, reader.shown, reader.note_formula
    cells = _cells(data, start, end)
    row_text = b""
    r = 0
    for letters, row, style_text, kind, v, has_inline, inline, has_f, f, f_v in cells:
        if row != row_text:  # a row's cells are next to each other: convert its number once
            row_text, r = row, int(row)
            if r < number:
                return None  # rows out of order: the lxml walk decides what counts
            if r > number:
                values = []
                while len(grid) < r - 1:
                    grid.append([])
                grid.append(values)
                number, last = r, 0
        col = columns.get(letters) or _column(letters, columns)
        if col <= last:
            return None
        last = col
        value: Any = None
        if kind == b"inlineStr":
            if has_inline:  # a bare inline cell, without <is>, has no value
                plain = b"&" not in inline and b"\r" not in inline
                value = inline.decode() if plain else _text(inline)
                if "#" not in value:
                    # Text needs nothing more: put it in place at once (most cells are text).
                    if col == len(values) + 1:
                        values.append(value)
                    else:
                        values.extend([None] * (col - 1 - len(values)))
                        values.append(value)
                    continue
        elif f_v or v:
            value = typed(
                kind.decode() if kind else "n", _text(f_v or v), int(style_text or 0), None
            )
        if has_f:
            note_formula(r, col, value is not None, "=" + _text(f))
        if col > len(values):
            values.extend([None] * (col - len(values)))
        if value is not None:
            values[col - 1] = shown(value, int(style_text or 0), r, col)
    return grid
