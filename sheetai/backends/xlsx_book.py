"""What reading a workbook's values needs from its package, taken without openpyxl.

openpyxl's import (which brings numpy) and its read-only load (the manifest, the workbook, the
whole stylesheet through its descriptors, the theme) cost half a second before the first cell
is read. A read needs far less: the sheets in order and their parts, the shared strings, each
cell style's number format and the date epoch. :func:`open_book` reads those from the parts
the way openpyxl reads them, and gives None for any package it does not find plain (no
workbook part by content type, a chartsheet, a sheet without a relationship, no stylesheet, a
number format it does not know): the caller then loads the file with openpyxl, as before.
openpyxl's number-format helpers are imported only for a workbook with formats other than
General, and its date conversion only for a sheet with dates.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

from lxml import etree

from .xlsx_package import CT_NS, NS, PKG_REL_NS, REL_NS, part_xml, rels_path, resolve_target
from .xlsx_parts import WORKSHEET_TYPE

__all__ = ["Book", "open_book"]

_WORKBOOK_TYPES = [
    f"application/vnd.{kind}"
    for kind in (
        "ms-excel.template.macroEnabled.main+xml",
        "openxmlformats-officedocument.spreadsheetml.template.main+xml",
        "ms-excel.sheet.macroEnabled.main+xml",
        "openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    )
]  # openpyxl's order of preference
_SHARED_STRINGS = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_STYLES = "xl/styles.xml"  # openpyxl looks for the stylesheet at this name only
_CUSTOM_FORMATS = 164  # openpyxl's BUILTIN_FORMATS_MAX_SIZE: ids from here on are the file's
_WINDOWS_EPOCH = dt.datetime(1899, 12, 30)
_MAC_EPOCH = dt.datetime(1904, 1, 1)


class _NotPlain(Exception):
    """The package holds something only openpyxl's full load reads as openpyxl does."""


class Book:
    """The sheets, shared strings, cell styles and epoch of an open workbook file."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        #: worksheet part of each sheet, in the workbook's order
        self.parts: dict[str, str] = {}
        self.strings: list[str] = []
        #: number format code of each cell style (index into ``cellXfs``)
        self.formats: list[str] = ["General"]
        self.dates: set[int] = set()
        self.timedeltas: set[int] = set()
        self.epoch = _WINDOWS_EPOCH

    @property
    def sheetnames(self) -> list[str]:
        return list(self.parts)

    def number_format(self, style: int) -> str:
        """The format code of cell style ``style``."""
        return self.formats[style]

    def close(self) -> None:
        self.archive.close()


def open_book(path: Path) -> Book | None:
    """The workbook at ``path``, or None when it is not plain enough to read without openpyxl
    (or not a readable package at all: openpyxl's load then says why)."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    book = Book(archive)
    try:
        _read(book)
    except (_NotPlain, KeyError, ValueError, TypeError, OSError, zipfile.BadZipFile,
            etree.XMLSyntaxError):  # fmt: skip
        archive.close()
        return None
    return book


def _xml(book: Book, name: str) -> Any:
    return part_xml(book.archive.read(name))


def _read(book: Book) -> None:
    names = set(book.archive.namelist())
    types = _xml(book, "[Content_Types].xml")
    overrides = {
        o.get("ContentType"): o.get("PartName", "").lstrip("/")
        for o in reversed(types.findall(f"{{{CT_NS}}}Override"))
    }  # the first part of a type wins, as in openpyxl's manifest
    workbook = next((overrides[t] for t in _WORKBOOK_TYPES if t in overrides), None)
    if workbook is None:
        raise _NotPlain("no workbook part by content type")
    root = _xml(book, workbook)
    properties = root.find(f"{{{NS}}}workbookPr")
    if properties is not None and properties.get("date1904") not in (None, "", "false", "f", "0"):
        book.epoch = _MAC_EPOCH  # any other text is true to openpyxl
    rels = _relationships(book, workbook)
    for sheet in root.iterfind(f"{{{NS}}}sheets/{{{NS}}}sheet"):
        kind, target = rels[sheet.get(f"{{{REL_NS}}}id") or ""]
        if kind != WORKSHEET_TYPE:
            raise _NotPlain("a chartsheet or a dialog sheet")
        if target in names:  # openpyxl leaves out a sheet whose part is missing
            book.parts[sheet.get("name") or ""] = target
    if _SHARED_STRINGS in overrides:
        book.strings = _shared_strings(book, overrides[_SHARED_STRINGS])
    _styles(book, names)


def _relationships(book: Book, part: str) -> dict[str, tuple[str, str]]:
    root = _xml(book, rels_path(part))
    return {
        rel.get("Id", ""): (rel.get("Type", ""), resolve_target(part, rel.get("Target", "")))
        for rel in root.iterfind(f"{{{PKG_REL_NS}}}Relationship")
        if rel.get("TargetMode") != "External"
    }


def _shared_strings(book: Book, part: str) -> list[str]:
    """The shared strings, as openpyxl's ``read_string_table`` gives them."""
    strings = []
    si, t, r = f"{{{NS}}}si", f"{{{NS}}}t", f"{{{NS}}}r"
    with book.archive.open(part) as source:
        for _, node in etree.iterparse(source, tag=si, huge_tree=True, resolve_entities=False):
            pieces = []
            plain = node.find(t)
            if plain is not None and plain.text:
                pieces.append(plain.text)
            for run in node.iterfind(r):
                text = run.find(t)
                if text is not None and text.text:
                    pieces.append(text.text)
            strings.append("".join(pieces).replace("x005F_", ""))
            node.clear()
    return strings


def _styles(book: Book, names: set[str]) -> None:
    """Each cell style's number format, and which are dates or durations (openpyxl's
    ``Stylesheet._normalise_numbers``)."""
    if _STYLES not in names:
        raise _NotPlain("no stylesheet: openpyxl's defaults apply")
    root = _xml(book, _STYLES)
    custom = {
        int(fmt.get("numFmtId", "")): fmt.get("formatCode", "")
        for fmt in root.iterfind(f"{{{NS}}}numFmts/{{{NS}}}numFmt")
    }
    ids = [int(xf.get("numFmtId") or 0) for xf in root.iterfind(f"{{{NS}}}cellXfs/{{{NS}}}xf")]
    if not ids:
        raise _NotPlain("no cell styles: openpyxl's defaults apply")
    if all(custom.get(i, "" if i else "General") == "General" for i in ids):
        book.formats = ["General"] * len(ids)
        return
    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format

    book.formats = []
    for index, number in enumerate(ids):
        if number in custom:
            code: str | None = custom[number]
        elif number >= _CUSTOM_FORMATS:
            raise _NotPlain("a style with a number format the file does not define")
        else:
            code = BUILTIN_FORMATS.get(number)
        book.formats.append(code or "General")
        if is_date_format(code):
            book.dates.add(index)
        if is_timedelta_format(code):
            book.timedeltas.add(index)
