"""The .xlsx file as a zip package: find parts, and rewrite it with only some parts changed.

A workbook is a zip of XML parts. sheetai changes a few of them (the worksheets it writes, and
the workbook, relationships, content types and styles when it adds a sheet or a style); every
other entry is copied byte for byte with its original compression, so images, pivot caches,
VBA, data-model parts and extensions no library knows survive a sync unchanged. A big changed
part is a :class:`StreamedPart`: its pieces are compressed into the zip as they come, so it
is never held whole in memory.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import shutil
import struct
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from lxml import etree

__all__ = [
    "NS",
    "REL_NS",
    "PKG_REL_NS",
    "CT_NS",
    "Package",
    "StreamedPart",
    "part_xml",
    "rels_path",
    "resolve_target",
    "merged_refs",
    "write_package",
]

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"

_MERGE_RE = re.compile(rb"<(?:\w+:)?mergeCell\b[^>]*?\bref=\"([^\"]+)\"")
# A zip local file header (APPNOTE 4.3.7); its last two fields are the name and extra lengths.
_LOCAL_HEADER = "<4s2B4HL2L2H"
# Pieces of a streamed part are handed to the compressor in runs of about this many bytes.
_RUN = 1 << 20
# Huge sheets (10k rows of long text) exceed libxml2's default safety limits.
_PARSER = etree.XMLParser(huge_tree=True, remove_blank_text=False, resolve_entities=False)


def part_xml(data: bytes) -> etree._Element:
    """Parse one XML part, keeping prefixes, comments and processing instructions."""
    return etree.fromstring(data, _PARSER)


def rels_path(part: str) -> str:
    """The relationships part of ``part``.

    >>> rels_path("xl/worksheets/sheet1.xml")
    'xl/worksheets/_rels/sheet1.xml.rels'
    """
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


def resolve_target(source_part: str, target: str) -> str:
    """The part a relationship of ``source_part`` points at (targets are relative or absolute).

    >>> resolve_target("xl/workbook.xml", "worksheets/sheet2.xml")
    'xl/worksheets/sheet2.xml'
    >>> resolve_target("xl/worksheets/sheet1.xml", "../drawings/drawing1.xml")
    'xl/drawings/drawing1.xml'
    >>> resolve_target("xl/workbook.xml", "/xl/worksheets/sheet3.xml")
    'xl/worksheets/sheet3.xml'
    """
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(source_part), target))


def merged_refs(sheet_xml: bytes) -> list[str]:
    """The ``ref`` of every ``<mergeCell>`` of a worksheet part, read without parsing the rows.

    >>> merged_refs(b'<worksheet><mergeCells count="1"><mergeCell ref="A1:B2"/></mergeCells>')
    ['A1:B2']
    """
    # Merged cells are listed after the rows: a plain search finds whether there are any far
    # faster than the pattern scans a big part's rows.
    at = sheet_xml.find(b"mergeCell")
    if at < 0:
        return []
    return [m.group(1).decode() for m in _MERGE_RE.finditer(sheet_xml, max(0, at - 64))]


class StreamedPart:
    """A changed part given as its pieces, in order (made anew each time they are asked for).

    Args:
        pieces: returns the part's bytes as an iterable of pieces.
        size_hint: about how many bytes the pieces add up to.
    """

    def __init__(self, pieces: Callable[[], Iterable[bytes | memoryview]], size_hint: int) -> None:
        self.pieces = pieces
        self.size_hint = size_hint

    def __bytes__(self) -> bytes:
        return b"".join(self.pieces())


class Package:
    """The parts of one workbook file, read lazily from the zip; changed parts held in memory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip = zipfile.ZipFile(path)
        self.names = [info.filename for info in self._zip.infolist()]
        self._changed: dict[str, bytes | StreamedPart] = {}
        self._removed: set[str] = set()
        self._sheet_parts: dict[str, str] | None = None

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> Package:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has(self, name: str) -> bool:
        return name not in self._removed and (name in self._changed or name in self.names)

    def read(self, name: str) -> bytes:
        """The current bytes of a part (changed or as in the file)."""
        if name in self._changed:
            return bytes(self._changed[name])
        return self._zip.read(name)

    def pieces(self, name: str) -> Iterable[bytes | memoryview]:
        """The current bytes of a part, in pieces (a streamed part is not joined)."""
        data = self._changed.get(name)
        if isinstance(data, StreamedPart):
            return data.pieces()
        return [self.read(name)]

    def put(self, name: str, data: bytes | StreamedPart) -> None:
        self._removed.discard(name)
        self._changed[name] = data

    def remove(self, name: str) -> None:
        self._changed.pop(name, None)
        self._removed.add(name)

    @property
    def changed(self) -> Mapping[str, bytes | StreamedPart]:
        return self._changed

    @property
    def removed(self) -> set[str]:
        return self._removed

    def workbook_part(self) -> str:
        """The main workbook part named by the package relationships (usually xl/workbook.xml)."""
        rels = part_xml(self.read("_rels/.rels"))
        for rel in rels:
            if str(rel.get("Type", "")).endswith("/officeDocument"):
                return resolve_target("", str(rel.get("Target")))
        return "xl/workbook.xml"

    def sheet_parts(self) -> dict[str, str]:
        """Sheet title -> worksheet part name, as the workbook and its rels say."""
        if self._sheet_parts is None:
            workbook = self.workbook_part()
            rels = part_xml(self.read(rels_path(workbook)))
            targets = {
                rel.get("Id"): resolve_target(workbook, str(rel.get("Target")))
                for rel in rels
                if rel.get("TargetMode") != "External"
            }
            root = part_xml(self.read(workbook))
            parts = {}
            for sheet in root.iter(f"{{{NS}}}sheet"):
                target = targets.get(sheet.get(f"{{{REL_NS}}}id"))
                if target is not None:
                    parts[str(sheet.get("name"))] = target
            self._sheet_parts = parts
        return self._sheet_parts

    def forget_sheet_parts(self) -> None:
        self._sheet_parts = None


def write_package(package: Package, destination: Path) -> None:
    """Write ``package`` with its changes to ``destination`` atomically (temp file, os.replace).

    Unchanged entries are copied as stored (same bytes, same compression, no recompression);
    changed and new parts are deflated. Raises OSError if the folder cannot be written.
    """
    temp_name = ""
    try:
        handle, temp_name = tempfile.mkstemp(
            prefix=".sheetai-", suffix=destination.suffix, dir=destination.parent
        )
        os.close(handle)
        with zipfile.ZipFile(temp_name, "w", allowZip64=True) as out:
            written = set()
            for info in package._zip.infolist():
                name = info.filename
                if name in package.removed:
                    continue
                if name in package.changed:
                    _write_new(out, name, package.changed[name], info)
                else:
                    _copy_raw(package._zip, out, info)
                written.add(name)
            for name, data in package.changed.items():
                if name not in written:
                    _write_new(out, name, data, None)
        with contextlib.suppress(OSError):
            shutil.copymode(destination, temp_name)
        # Windows cannot replace a file that is still open, and the package reads from it.
        package.close()
        os.replace(temp_name, destination)
        temp_name = ""
    finally:
        if temp_name and os.path.exists(temp_name):
            os.unlink(temp_name)


def _write_new(
    out: zipfile.ZipFile, name: str, data: bytes | StreamedPart, like: zipfile.ZipInfo | None
) -> None:
    info = zipfile.ZipInfo(name, date_time=like.date_time if like else (1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = like.external_attr if like else 0o600 << 16
    if not isinstance(data, StreamedPart):
        out.writestr(info, data)
        return
    # The size is not known before the end: past 2 GiB the entry needs its zip64 fields.
    with out.open(info, "w", force_zip64=data.size_hint > zipfile.ZIP64_LIMIT // 2) as entry:
        run: list[bytes | memoryview] = []
        size = 0
        for piece in data.pieces():
            run.append(piece)
            size += len(piece)
            if size >= _RUN:
                entry.write(b"".join(run))
                run, size = [], 0
        entry.write(b"".join(run))


def _copy_raw(source: zipfile.ZipFile, out: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Copy one entry's compressed bytes as they are: no inflate, no deflate, same CRC."""
    handle = source.fp
    assert handle is not None
    handle.seek(info.header_offset)
    fields = struct.unpack(_LOCAL_HEADER, handle.read(struct.calcsize(_LOCAL_HEADER)))
    handle.seek(fields[-2] + fields[-1], 1)
    raw = handle.read(info.compress_size)
    clone = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    clone.compress_type = info.compress_type
    clone.external_attr = info.external_attr
    clone.create_system = info.create_system
    # Sizes and CRC go in the local header, so no data descriptor follows the data.
    clone.flag_bits = info.flag_bits & ~0x08
    clone.CRC = info.CRC
    clone.compress_size = info.compress_size
    clone.file_size = info.file_size
    _write_raw(out, clone, raw)


def _write_raw(out: zipfile.ZipFile, info: zipfile.ZipInfo, raw: bytes) -> None:
    """Append an entry whose data is already compressed (zipfile has no public API for it)."""
    fp = out.fp
    assert fp is not None
    info.header_offset = fp.tell()
    zip64 = info.file_size > zipfile.ZIP64_LIMIT or info.compress_size > zipfile.ZIP64_LIMIT
    fp.write(info.FileHeader(zip64))
    fp.write(raw)
    out.filelist.append(info)
    out.NameToInfo[info.filename] = info
    out.start_dir = fp.tell()
