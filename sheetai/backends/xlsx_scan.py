"""A fast read of a worksheet whose cells all have the plain shapes writers use.

Walking a 100k-row part element by element through lxml costs a few microseconds per cell.
Cells as Excel, LibreOffice, openpyxl and sheetai write them come in a handful of shapes
(``<c r="B2" s="1" t="s"><v>4</v></c>``, an inline string, a plain formula with or without
its result), which one regular expression reads at C speed. :func:`scan_cells` reads a part
that way only when every cell of it has one of those shapes; for any other part (shared or
array formulas, rich text, namespace prefixes, comments, another encoding) it returns None and
the caller walks the part with lxml, as before. Either way the values are the same: the scan
reads text, numbers and shared strings itself (the cells most sheets are made of) and hands
every other cell's type and text to the reader the walk uses (:mod:`.xlsx_read`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from ..cell_values import as_cell_error
from .base import Grid

__all__ = ["scan_cells"]

# Groups: column letters, row number, style, type, inline text (">text</t>" or "/>", so an
# empty string still shows that the cell has one), formula (">text"), value. A comment, a
# processing instruction or a prefixed cell matches too, with no column letters: the scan
# gives up there (in a comment, "<c r=..." is no cell).
_CELL = re.compile(
    r'<c r="([A-Z]{1,3})([0-9]+)"(?: s="([0-9]+)")?(?: t="([a-zA-Z]+)")?'
    r"(?:/>|>(?:"
    r'<is><t(?: xml:space="preserve")?(>[^<]*</t>|/>)</is>'
    r'|(?:<f(?: aca="(?:false|true)")?(>[^<]*)</f>)?(?:<v>([^<]*)</v>|<v/>)?'
    r")</c>)"
    r"|<[!?]|<[^\s<>/:!?]+:c[\s/>]"
)
_SHEET_DATA = re.compile(rb"<sheetData(?:/>|>)")
_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([^\"']+)[\"']")
_REFERENCE = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_CHUNK = 1 << 20
_LETTERS = {chr(65 + i): i + 1 for i in range(26)}


class _Reader(Protocol):
    @property
    def strings(self) -> Sequence[str]: ...

    formats: dict[tuple[int, int], str]
    formulas: list[tuple[int, int, bool, str]]

    def typed(self, kind: str, text: str, style: int, ref: str | None) -> Any: ...
    def is_date(self, style: int) -> bool: ...
    def number_format(self, style: int) -> str: ...


def _reference(found: re.Match[str]) -> str:
    name = found.group(1)
    if name.startswith("#x"):
        return chr(int(name[2:], 16))
    if name.startswith("#"):
        return chr(int(name[1:]))
    return _NAMED[name]


def _text(text: str) -> str:
    """Element text as an XML parser gives it: references resolved (line ends are normalised
    for the whole part before the scan).

    >>> _text("a &amp; b&#10;c&#x41;")
    'a & b\\ncA'
    """
    return _REFERENCE.sub(_reference, text) if "&" in text else text


def _column(letters: str, cache: dict[str, int]) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + _LETTERS[letter]
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
    try:
        return _grid(_chunks(data, start, end), reader)
    except ValueError:  # a cell not of a plain shape, or bytes that are not UTF-8
        return None


def _chunks(data: bytes, start: int, end: int) -> Iterator[list[tuple[str, ...]]]:
    """The cells of ``data[start:end]``, a slice of rows at a time (all at once would hold a
    tuple per cell: hundreds of megabytes on a 100k-row sheet). Raises ValueError when not
    every cell there has a plain shape."""
    while start < end:
        cut = data.find(b"<row", start + _CHUNK, end)
        cut = end if cut < 0 else cut
        text = data[start:cut].decode()  # cut before a "<": never inside a character
        if "\r" in text:  # an XML parser normalises line ends before anything else
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        cells = _CELL.findall(text)
        # Each cell starts "<c" (text holds no "<"): as many matches as starts means every
        # cell matched whole (the odd matches above stop the scan when it meets them).
        if len(cells) != text.count("<c"):
            raise ValueError("a cell that is not of a plain shape")
        yield cells
        start = cut


def _grid(chunks: Iterator[list[tuple[str, ...]]], reader: _Reader) -> Grid | None:
    """The grid of the scanned cells; None when rows or cells are out of order.

    The loop runs once per cell of the sheet, so the common cells (text, numbers without a
    date format, shared strings) are read here without a call; the rest go to ``reader``.
    """
    grid: Grid = []
    values: list[Any] = []
    number = 0
    columns: dict[str, int] = {}
    strings, formats, formulas = reader.strings, reader.formats, reader.formulas
    styles: dict[str, tuple[int, bool, str]] = {"": (0, False, "General")}
    row_text = ""
    r = 0
    for cells in chunks:
        for letters, row, style, kind, inline, f, v in cells:
            if row != row_text:  # a row's cells are next to each other: convert its number once
                row_text, r = row, int(row)
                if r < number:
                    return None  # rows out of order: the lxml walk decides what counts
                if r > number:
                    values = []
                    while len(grid) < r - 1:
                        grid.append([])
                    grid.append(values)
                    number = r
            col = columns.get(letters) or _column(letters, columns)
            if col != len(values) + 1:
                if col <= len(values):
                    return None
                values.extend([None] * (col - 1 - len(values)))
            value: Any = None
            if kind == "inlineStr":
                if inline:  # a bare inline cell, without <is>, has no value
                    value = inline[1:-4]  # ">text</t>" or "/>"
                    if "&" in value:
                        value = _text(value)
                    if "#" in value and (value[0] == "#" or value[0].isspace()):
                        value = as_cell_error(value) or value
            elif v:
                if "&" in v:
                    v = _text(v)
                known = styles.get(style)
                if known is None:
                    index = int(style)
                    code = reader.number_format(index) if index else "General"
                    known = styles[style] = (index, reader.is_date(index), code)
                index, is_date, code = known
                if kind == "s":
                    value = strings[int(v)]
                    if "#" in value and (value[0] == "#" or value[0].isspace()):
                        value = as_cell_error(value) or value
                elif (kind == "" or kind == "n") and not is_date:
                    value = float(v) if ("." in v or "E" in v or "e" in v) else int(v)
                else:
                    value = reader.typed(kind or "n", v, index, None)
                    if isinstance(value, str) and "#" in value:
                        value = as_cell_error(value) or value
                if code != "General" and not isinstance(value, str):
                    formats[r, col] = code
            if f:
                text = "=" + (_text(f[1:]) if "&" in f else f[1:])
                formulas.append((r - 1, col - 1, value is not None, text))
            values.append(value)
    return grid
