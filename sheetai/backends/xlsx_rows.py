"""A worksheet part split around its rows, so a write parses only the rows it touches.

Parsing a 100k-row sheet into an lxml tree to change a few cells costs seconds and about a
gigabyte. :class:`SplitPart` parses only the part's frame (everything but ``<sheetData>``'s
rows, small) and indexes the rows as byte ranges with one scan. A row is parsed when a write
needs it (:meth:`SplitPart.load`); :meth:`SplitPart.join` puts the frame back together with the
rows it parsed, serialized, and every other row's bytes exactly as they were.

:func:`split_part` returns None for a part this cannot split safely (not UTF-8, a comment or
CDATA among the rows, a row without its ``r`` number, rows out of order); the caller then
parses the whole part, as before.
"""

from __future__ import annotations

import bisect
import re
from array import array

from lxml import etree

from .xlsx_package import NS, part_xml

__all__ = ["SplitPart", "split_part"]

_NAME = rb"(?:[A-Za-z_][\w.\-]*:)?"
_SHEET_DATA = re.compile(rb"<(" + _NAME + rb")sheetData\b[^>]*?(/?)>")
_ROW_START = re.compile(rb"<" + _NAME + rb"row(?=[\s/>])")
_R_ATTR = re.compile(rb"\sr\s*=\s*[\"'](\d+)[\"']")
_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([^\"']+)[\"']")
_MARK = "sheetaiRows"


class SplitPart:
    """One worksheet part: its frame parsed, its rows indexed as byte ranges of it."""

    def __init__(
        self,
        frame: etree._Element,
        part: bytes,
        body: tuple[int, int],
        numbers: list[int],
        spans: array,
    ) -> None:
        self.frame = frame
        #: The frame's ``<sheetData>``: it holds only the rows parsed so far, in order.
        self.data = frame.find(f"{{{NS}}}sheetData")
        # The part as read, and where its rows lie in it: slices of it are never copied whole.
        self._part = part
        self._body = body
        self._numbers = numbers
        self._spans = spans  # start, end of row i at 2 * i, 2 * i + 1
        self._where = {number: i for i, number in enumerate(numbers)}

    def has(self, number: int) -> bool:
        """Whether the part held row ``number`` when it was read."""
        return number in self._where

    def load(self, numbers: list[int]) -> list[etree._Element]:
        """Parse the rows ``numbers`` (those the part holds; ascending), in one parse."""
        picked = [self._where[n] for n in numbers if n in self._where]
        if not picked:
            return []
        # Rows next to each other are one slice of the part, whitespace between included.
        chunks, first, last = [], picked[0], picked[0]
        for i in picked[1:]:
            if i == last + 1:
                last = i
                continue
            chunks.append(self._part[self._spans[2 * first] : self._spans[2 * last + 1]])
            first = last = i
        chunks.append(self._part[self._spans[2 * first] : self._spans[2 * last + 1]])
        declarations = "".join(
            f' xmlns{":" + p if p else ""}="{uri}"' for p, uri in self.frame.nsmap.items()
        )
        wrapper = part_xml(
            f"<sheetData{declarations}>".encode() + b"".join(chunks) + b"</sheetData>"
        )
        return [row for row in wrapper if isinstance(row.tag, str)]

    def join(self, serialized: bytes) -> bytes:
        """The part's bytes: ``serialized`` (the frame with the rows parsed) with every row not
        parsed put back, byte for byte, in row order."""
        open_at = serialized.index(f' {_MARK}="1"'.encode())
        start = serialized.rindex(b"<", 0, open_at)
        qname = serialized[start + 1 : open_at]
        head_end = serialized.index(b">", open_at)
        if serialized[head_end - 1 : head_end] == b"/":
            parsed, tail = b"", serialized[head_end + 1 :]
        else:
            close = serialized.index(b"</" + qname + b">", head_end)
            parsed = serialized[head_end + 1 : close]
            tail = serialized[close + len(qname) + 3 :]
        rows = self._loaded_rows(parsed)
        part = memoryview(self._part)
        cursor, body_end = self._body
        pieces: list[bytes | memoryview] = [serialized[:start], b"<" + qname + b">"]
        for number, row in rows:
            i = self._where.get(number)
            if i is not None:
                pieces.append(part[cursor : self._spans[2 * i]])
                cursor = self._spans[2 * i + 1]
            else:
                after = bisect.bisect_left(self._numbers, number)
                at = self._spans[2 * after] if after < len(self._numbers) else body_end
                pieces.append(part[cursor:at])
                cursor = at
            pieces.append(row)
        pieces += [part[cursor:body_end], b"</" + qname + b">", tail]
        return b"".join(pieces)

    def _loaded_rows(self, parsed: bytes) -> list[tuple[int, bytes]]:
        """The serialized rows of the frame's ``<sheetData>``, by number, in order."""
        numbers = [int(row.get("r") or 0) for row in self.data if isinstance(row.tag, str)]
        starts = [m.start() for m in _ROW_START.finditer(parsed)]
        if len(starts) != len(numbers):
            raise ValueError("the rows written could not be told apart when saving")
        ends = [*starts[1:], len(parsed)] if starts else []
        return [(n, parsed[s:e]) for n, s, e in zip(numbers, starts, ends, strict=True)]


def split_part(data: bytes) -> SplitPart | None:
    """The part split around its rows, or None when it cannot be split safely."""
    encoding = _ENCODING.match(data)
    if encoding and encoding.group(1).lower().replace(b"-", b"") != b"utf8":
        return None
    at = data.find(b"sheetData")
    opening = _SHEET_DATA.match(data, data.rfind(b"<", 0, at)) if at > 0 else None
    if opening is None:
        return None
    name = opening.group(1)
    if opening.group(2):
        body_start = body_end = after = opening.end()
    else:
        close = b"</" + name + b"sheetData>"
        body_start = opening.end()
        body_end = data.find(close, body_start)
        if body_end < 0:
            return None
        after = body_end + len(close)
    if data.find(b"sheetData", after) >= 0:
        return None
    if data.find(b"<!", body_start, body_end) >= 0 or data.find(b"<?", body_start, body_end) >= 0:
        return None
    index = _index(data, body_start, body_end, name)
    if index is None:
        return None
    frame_bytes = data[: opening.start()] + b"<" + name + b"sheetData/>" + data[after:]
    try:
        frame = part_xml(frame_bytes)
    except etree.XMLSyntaxError:
        return None
    sheet_data = frame.find(f"{{{NS}}}sheetData")
    if sheet_data is None:
        return None
    sheet_data.set(_MARK, "1")
    return SplitPart(frame, data, (body_start, body_end), *index)


def _index(data: bytes, start: int, end: int, prefix: bytes) -> tuple[list[int], array] | None:
    """Each row's number and byte range in ``data[start:end]``; None when something other than
    rows sits there.

    ``<sheetData>`` holds only ``<row>`` elements (comments and the like were refused), so a
    row runs from its start tag to the next one's.
    """
    numbers: list[int] = []
    spans = array("q")
    last = 0
    row_open = re.compile(b"<" + re.escape(prefix) + rb"row(?=[\s/>])([^>]*)>")
    for found in row_open.finditer(data, start, end):
        r = _R_ATTR.search(found.group(1))
        if r is None:
            return None
        number = int(r.group(1))
        if number <= last:
            return None
        if numbers:
            spans.append(found.start())
        elif data[start : found.start()].strip():
            return None
        numbers.append(number)
        spans.append(found.start())
        last = number
    if numbers:
        spans.append(end)
    elif data[start:end].strip():
        return None
    return numbers, spans
