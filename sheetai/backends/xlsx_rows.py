"""A worksheet part split around its rows, so a write parses only the rows it touches.

Parsing a 100k-row sheet into an lxml tree to change a few cells costs seconds and about a
gigabyte. :class:`SplitPart` parses only the part's frame (everything but ``<sheetData>``'s
rows, small) and indexes the rows as byte ranges with one scan. A row is parsed when a write
needs it (:meth:`SplitPart.load`), or is given as its new bytes (:meth:`SplitPart.put_row`,
written without a tree); :meth:`SplitPart.pieces` puts the frame back together with those rows
and every other row's bytes exactly as they were, piece by piece, to be compressed as they come.

:func:`split_part` returns None for a part this cannot split safely (not UTF-8, a comment or
CDATA among the rows, a row without its ``r`` number, rows out of order); the caller then
parses the whole part, as before.
"""

from __future__ import annotations

import bisect
import heapq
import re
from array import array
from collections.abc import Iterator
from operator import itemgetter

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
        prefix: bytes,
        numbers: list[int],
        spans: array,
    ) -> None:
        self.frame = frame
        #: The frame's ``<sheetData>``: it holds only the rows parsed so far, in order.
        self.data = frame.find(f"{{{NS}}}sheetData")
        #: The namespace prefix of the part's rows and cells (``b""`` or such as ``b"x:"``).
        self.prefix = prefix
        # The part as read, and where its rows lie in it: slices of it are never copied whole.
        self._part = part
        self._body = body
        self._numbers = numbers
        self._spans = spans  # start, end of row i at 2 * i, 2 * i + 1
        self._where = {number: i for i, number in enumerate(numbers)}
        # Rows given as their new bytes (put_row), by number: none of them is in the frame.
        self._patched: dict[int, bytes] = {}
        self._declarations = "".join(
            f' xmlns{":" + p if p else ""}="{uri}"' for p, uri in frame.nsmap.items()
        ).encode()

    def has(self, number: int) -> bool:
        """Whether the part holds row ``number`` outside the frame (as read, or as put)."""
        return number in self._where or number in self._patched

    def row_bytes(self, number: int) -> bytes | None:
        """Row ``number``'s bytes (whitespace after it included), unless it is in the frame."""
        patched = self._patched.get(number)
        if patched is not None:
            return patched
        i = self._where.get(number)
        if i is None:
            return None
        return self._part[self._spans[2 * i] : self._spans[2 * i + 1]]

    def put_row(self, number: int, data: bytes) -> None:
        """Row ``number`` is ``data`` now (it must not be in the frame)."""
        self._patched[number] = data

    def size_hint(self) -> int:
        """About how many bytes the part will take."""
        return len(self._part) + sum(len(row) for row in self._patched.values())

    def parse(self, rows: bytes) -> etree._Element:
        """Rows' bytes parsed inside a ``<sheetData>`` that declares the frame's namespaces."""
        return part_xml(b"<sheetData" + self._declarations + b">" + rows + b"</sheetData>")

    @staticmethod
    def unparse(wrapper: etree._Element) -> bytes:
        """The bytes of the rows in a :meth:`parse` wrapper, serialized."""
        data = etree.tostring(wrapper, encoding="UTF-8", xml_declaration=False)
        return data[data.index(b">") + 1 : data.rindex(b"</")]

    def load(self, numbers: list[int]) -> list[etree._Element]:
        """Parse the rows ``numbers`` (those it has; ascending), in one parse; from now on they
        are the caller's to put in the frame."""
        chunks = []
        for number in numbers:
            row = self.row_bytes(number)
            if row is not None:
                chunks.append(row)
                self._patched.pop(number, None)
        if not chunks:
            return []
        return [row for row in self.parse(b"".join(chunks)) if isinstance(row.tag, str)]

    def pieces(self, serialized: bytes) -> Iterator[bytes | memoryview]:
        """The part's bytes: ``serialized`` (the frame with the rows parsed) with the rows put
        and every other row, byte for byte, in row order."""
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
        patched = ((n, self._patched[n]) for n in sorted(self._patched))
        rows = heapq.merge(self._loaded_rows(parsed), patched, key=itemgetter(0))
        part = memoryview(self._part)
        cursor, body_end = self._body
        yield serialized[:start]
        yield b"<" + qname + b">"
        for number, row in rows:
            i = self._where.get(number)
            if i is not None:
                at, after = self._spans[2 * i], self._spans[2 * i + 1]
            else:
                following = bisect.bisect_left(self._numbers, number)
                at = self._spans[2 * following] if following < len(self._numbers) else body_end
                after = at
            if at > cursor:
                yield part[cursor:at]
            yield row
            cursor = after
        yield part[cursor:body_end]
        yield b"</" + qname + b">"
        yield tail

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
    return SplitPart(frame, data, (body_start, body_end), name, *index)


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
