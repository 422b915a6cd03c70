"""Workbook-level parts a sync may need to change: new sheets, rels, content types, styles.

Each function changes the least it can of one part and leaves the rest of it, prefixes and
extensions included, as it was.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re

from lxml import etree

from .xlsx_package import CT_NS, NS, PKG_REL_NS, REL_NS, Package, part_xml, rels_path

__all__ = [
    "WORKSHEET_TYPE",
    "serialize",
    "add_relationship",
    "add_override",
    "new_part_name",
    "add_worksheet",
    "drop_calc_chain",
    "recalc_on_load",
    "Styles",
    "has_formulas",
    "has_formulas_in",
]

WORKSHEET_TYPE = f"{REL_NS}/worksheet"
_WORKSHEET_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_FORMULA = re.compile(rb"<(?:\w+:)?f[ >/]")

#: CT_Workbook's children in schema order.
WORKBOOK_ORDER = [
    "fileVersion", "fileSharing", "workbookPr", "workbookProtection", "bookViews", "sheets",
    "functionGroups", "externalReferences", "definedNames", "calcPr", "oleSize",
    "customWorkbookViews", "pivotCaches", "smartTagPr", "smartTagTypes", "webPublishing",
    "fileRecoveryPr", "webPublishObjects", "extLst",
]  # fmt: skip
#: CT_Stylesheet's children in schema order.
STYLES_ORDER = [
    "numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles", "dxfs",
    "tableStyles", "colors", "extLst",
]  # fmt: skip

_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_EMPTY_SHEET = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{NS}" '
    f'xmlns:r="{REL_NS}"><dimension ref="A1"/><sheetData/>'
    '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
    "</worksheet>"
).encode()


def serialize(root: etree._Element) -> bytes:
    """A part's bytes as Excel writes them: UTF-8 after a double-quoted standalone declaration."""
    return _DECLARATION + etree.tostring(root, xml_declaration=False, encoding="UTF-8")


def insert_ordered(root: etree._Element, child: etree._Element, order: list[str]) -> None:
    from .xlsx_cells import insert_child

    insert_child(root, child, order)


def _child(root: etree._Element, name: str, order: list[str]) -> etree._Element:
    found = root.find(f"{{{NS}}}{name}")
    if found is None:
        found = etree.Element(f"{{{NS}}}{name}")
        insert_ordered(root, found, order)
    return found


def add_relationship(package: Package, source: str, rel_type: str, target: str) -> str:
    """Add a relationship from ``source`` to ``target`` (relative); returns its new ``Id``."""
    name = rels_path(source)
    if package.has(name):
        root = part_xml(package.read(name))
    else:
        root = etree.Element(f"{{{PKG_REL_NS}}}Relationships", nsmap={None: PKG_REL_NS})
    taken = {str(rel.get("Id")) for rel in root}
    number = len(taken) + 1
    while f"rId{number}" in taken:
        number += 1
    rel = etree.SubElement(root, f"{{{PKG_REL_NS}}}Relationship")
    rel.set("Id", f"rId{number}")
    rel.set("Type", rel_type)
    rel.set("Target", target)
    package.put(name, serialize(root))
    return f"rId{number}"


def add_override(package: Package, part: str, content_type: str) -> None:
    root = part_xml(package.read("[Content_Types].xml"))
    override = etree.SubElement(root, f"{{{CT_NS}}}Override")
    override.set("PartName", f"/{part}")
    override.set("ContentType", content_type)
    package.put("[Content_Types].xml", serialize(root))


def add_default(package: Package, extension: str, content_type: str) -> None:
    root = part_xml(package.read("[Content_Types].xml"))
    if any(d.get("Extension", "").lower() == extension for d in root):
        return
    default = etree.Element(f"{{{CT_NS}}}Default", Extension=extension, ContentType=content_type)
    root.insert(0, default)
    package.put("[Content_Types].xml", serialize(root))


def new_part_name(package: Package, folder: str, stem: str, extension: str = "xml") -> str:
    """A free part name such as ``xl/worksheets/sheet7.xml``."""
    number = 1
    while package.has(f"{folder}/{stem}{number}.{extension}"):
        number += 1
    return f"{folder}/{stem}{number}.{extension}"


def add_worksheet(package: Package, title: str, hidden: bool) -> str:
    """Add an empty worksheet after the others; returns its part name."""
    workbook = package.workbook_part()
    part = new_part_name(
        package, posixpath.join(posixpath.dirname(workbook), "worksheets"), "sheet"
    )
    package.put(part, _EMPTY_SHEET)
    target = posixpath.relpath(part, posixpath.dirname(workbook))
    rel_id = add_relationship(package, workbook, WORKSHEET_TYPE, target)
    add_override(package, part, _WORKSHEET_CT)
    root = part_xml(package.read(workbook))
    sheets = _child(root, "sheets", WORKBOOK_ORDER)
    ids = [int(s.get("sheetId") or 0) for s in sheets]
    entry = etree.SubElement(sheets, f"{{{NS}}}sheet")
    entry.set("name", title)
    entry.set("sheetId", str(max(ids, default=0) + 1))
    if hidden:
        entry.set("state", "hidden")
    entry.set(f"{{{REL_NS}}}id", rel_id)
    package.put(workbook, serialize(root))
    package.forget_sheet_parts()
    return part


def drop_calc_chain(package: Package) -> None:
    """Remove the calc chain (it lists formula cells; one naming a cell that lost its formula
    makes Excel report the file corrupt). Excel rebuilds it on its next save."""
    workbook = package.workbook_part()
    rels_name = rels_path(workbook)
    rels = part_xml(package.read(rels_name))
    chains = [rel for rel in rels if str(rel.get("Type", "")).endswith("/calcChain")]
    if not chains:
        return
    for rel in chains:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(workbook), rel.get("Target")))
        package.remove(target)
        rels.remove(rel)
        types = part_xml(package.read("[Content_Types].xml"))
        for override in list(types):
            if override.get("PartName") == f"/{target}":
                types.remove(override)
        package.put("[Content_Types].xml", serialize(types))
    package.put(rels_name, serialize(rels))


def recalc_on_load(package: Package) -> None:
    """Ask Excel and LibreOffice to recompute formulas on open; cached results stay for others."""
    workbook = package.workbook_part()
    root = part_xml(package.read(workbook))
    calc = _child(root, "calcPr", WORKBOOK_ORDER)
    if calc.get("fullCalcOnLoad") == "1":
        return
    calc.set("fullCalcOnLoad", "1")
    package.put(workbook, serialize(root))


def has_formulas_in(sheet_xml: bytes | memoryview) -> bool:
    """Whether a worksheet part holds a formula (a scan of the raw bytes, no parse).

    >>> has_formulas_in(b'<c r="A1"><f>B1*2</f></c>'), has_formulas_in(b'<c r="A1"><v>2</v></c>')
    (True, False)
    """
    return _FORMULA.search(sheet_xml) is not None


def has_formulas(package: Package) -> bool:
    """Whether any worksheet holds a formula."""
    return any(
        has_formulas_in(piece)
        for part in package.sheet_parts().values()
        for piece in package.pieces(part)
    )


class Styles:
    """The styles part, parsed on first use; adds a date and a link cell format at most once."""

    def __init__(self, package: Package) -> None:
        self.package = package
        self._root: etree._Element | None = None
        self._dates: dict[int, int] = {}
        self._link: int | None = None
        self.changed = False

    @property
    def part(self) -> str:
        return posixpath.join(posixpath.dirname(self.package.workbook_part()), "styles.xml")

    def root(self) -> etree._Element:
        if self._root is None:
            self._root = part_xml(self.package.read(self.part))
        return self._root

    def _xfs(self) -> etree._Element:
        return _child(self.root(), "cellXfs", STYLES_ORDER)

    def is_date(self, index: int) -> bool:
        from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format

        xfs = list(self._xfs())
        if index >= len(xfs):
            return False
        fmt_id = int(xfs[index].get("numFmtId") or 0)
        code = BUILTIN_FORMATS.get(fmt_id)
        for fmt in self.root().iter(f"{{{NS}}}numFmt"):
            if int(fmt.get("numFmtId") or -1) == fmt_id:
                code = fmt.get("formatCode")
        return bool(code) and is_date_format(code)

    def date_style(self, value: object = None) -> int:
        """Index of a cell format for ``value``'s kind, added once per kind: a date (built-in
        format 14), a date and time (22) or a time of day (21)."""
        fmt_id = 22 if isinstance(value, dt.datetime) else 21 if isinstance(value, dt.time) else 14
        if fmt_id not in self._dates:
            self._dates[fmt_id] = self._add_xf({"numFmtId": str(fmt_id), "applyNumberFormat": "1"})
        return self._dates[fmt_id]

    def link_style(self) -> int:
        """Index of a cell format that looks like a link (blue, underlined), added once."""
        if self._link is None:
            fonts = _child(self.root(), "fonts", STYLES_ORDER)
            font = etree.SubElement(fonts, f"{{{NS}}}font")
            etree.SubElement(font, f"{{{NS}}}u")
            etree.SubElement(font, f"{{{NS}}}sz", val="11")
            etree.SubElement(font, f"{{{NS}}}color", rgb="FF0563C1")
            etree.SubElement(font, f"{{{NS}}}name", val="Calibri")
            fonts.set("count", str(len(fonts)))
            self._link = self._add_xf({"fontId": str(len(fonts) - 1), "applyFont": "1"})
        return self._link

    def _add_xf(self, attributes: dict[str, str]) -> int:
        xfs = self._xfs()
        xf = etree.SubElement(xfs, f"{{{NS}}}xf")
        for key, value in {"numFmtId": "0", "fontId": "0", "fillId": "0", "borderId": "0",
                           "xfId": "0", **attributes}.items():  # fmt: skip
            xf.set(key, value)
        xfs.set("count", str(len(xfs)))
        self.changed = True
        return len(xfs) - 1

    def flush(self) -> None:
        if self.changed and self._root is not None:
            self.package.put(self.part, serialize(self._root))
            self.changed = False
