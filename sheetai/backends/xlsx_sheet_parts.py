"""Worksheet-level structures beside the cells: column widths, tables and autofilters that
grow with new output columns, list validations and internal links."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lxml import etree

from ..a1 import cell_address, column_letter, quote_sheet
from .xlsx_cells import WORKSHEET_ORDER, col_number, insert_child
from .xlsx_package import NS, REL_NS, Package, part_xml, rels_path, resolve_target
from .xlsx_parts import serialize

__all__ = [
    "set_widths",
    "grow_tables",
    "grow_autofilter",
    "set_list_validation",
    "add_internal_links",
]


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _child(root: etree._Element, name: str) -> etree._Element:
    found = root.find(_q(name))
    if found is None:
        found = etree.Element(_q(name))
        insert_child(root, found, WORKSHEET_ORDER)
    return found


def _bounds(ref: str) -> tuple[int, int, int, int]:
    from openpyxl.utils.cell import range_boundaries

    min_col, min_row, max_col, max_row = range_boundaries(ref)
    return min_row, min_col, max_row or min_row, max_col or min_col


def _span(model: etree._Element | None, low: int, high: int) -> etree._Element:
    span = etree.Element(_q("col")) if model is None else etree.fromstring(etree.tostring(model))
    span.set("min", str(low))
    span.set("max", str(high))
    return span


def set_widths(root: etree._Element, widths: Mapping[int, float]) -> None:
    """Set column widths in ``<cols>``, splitting an existing ``<col>`` span where needed."""
    if not widths:
        return
    cols = _child(root, "cols")
    spans = [(int(c.get("min") or 0), int(c.get("max") or 0), c) for c in cols]
    for index in sorted(widths):
        kept, model = [], None
        for low, high, col in spans:
            if not low <= index <= high:
                kept.append((low, high, col))
                continue
            model = col
            for a, b in ((low, index - 1), (index + 1, high)):
                if a <= b:
                    kept.append((a, b, _span(col, a, b)))
        new = _span(model, index, index)
        new.set("width", f"{widths[index]:g}")
        new.set("customWidth", "1")
        spans = [*kept, (index, index, new)]
    spans.sort(key=lambda s: s[0])
    for col in list(cols):
        cols.remove(col)
    for _, _, col in spans:
        cols.append(col)


def _tables(package: Package, part: str) -> list[tuple[str, etree._Element]]:
    name = rels_path(part)
    if not package.has(name):
        return []
    found = []
    for rel in part_xml(package.read(name)):
        if str(rel.get("Type", "")).endswith("/table"):
            target = resolve_target(part, str(rel.get("Target")))
            found.append((target, part_xml(package.read(target))))
    return found


def grow_tables(package: Package, part: str, old_width: int, headers: Sequence[str]) -> None:
    """Extend a table whose header row is row 1 and whose last column is ``old_width`` over the
    new output columns right of it, naming the new table columns after their headers."""
    for table_part, table in _tables(package, part):
        if table.get("headerRowCount") == "0":
            continue
        first_row, first_col, last_row, last_col = _bounds(str(table.get("ref")))
        if first_row != 1 or last_col != old_width:
            continue
        new_last = old_width + len(headers)
        ref = f"{cell_address(first_row, first_col)}:{cell_address(last_row, new_last)}"
        table.set("ref", ref)
        auto = table.find(_q("autoFilter"))
        if auto is not None:
            a_row, a_col, a_last_row, _ = _bounds(str(auto.get("ref")))
            auto.set("ref", f"{cell_address(a_row, a_col)}:{cell_address(a_last_row, new_last)}")
        columns = table.find(_q("tableColumns"))
        if columns is None:
            continue
        names = {str(c.get("name", "")).lower() for c in columns}
        next_id = max((int(c.get("id") or 0) for c in columns), default=0) + 1
        for header in headers:
            name, n = header, 2
            while name.lower() in names:
                name, n = f"{header}{n}", n + 1
            names.add(name.lower())
            etree.SubElement(columns, _q("tableColumn"), id=str(next_id), name=name)
            next_id += 1
        columns.set("count", str(len(columns)))
        package.put(table_part, serialize(table))


def grow_autofilter(
    package: Package, root: etree._Element, title: str, old_width: int, new_width: int
) -> None:
    """A sheet autofilter over the header row, ending at ``old_width``, grows to ``new_width``
    (and so does the hidden ``_xlnm._FilterDatabase`` name Excel keeps for it)."""
    auto = root.find(_q("autoFilter"))
    if auto is None or not auto.get("ref"):
        return
    first_row, first_col, last_row, last_col = _bounds(str(auto.get("ref")))
    if first_row != 1 or last_col != old_width:
        return
    auto.set("ref", f"{cell_address(first_row, first_col)}:{cell_address(last_row, new_width)}")
    workbook = package.workbook_part()
    book = part_xml(package.read(workbook))
    titles = [str(s.get("name")) for s in book.iter(_q("sheet"))]
    index = str(titles.index(title)) if title in titles else None
    for name in book.iter(_q("definedName")):
        if name.get("name") == "_xlnm._FilterDatabase" and name.get("localSheetId") == index:
            name.text = (
                f"{quote_sheet(title)}!${column_letter(first_col)}${first_row}:"
                f"${column_letter(new_width)}${last_row}"
            )
            package.put(workbook, serialize(book))


def _overlaps(sqref: str, col: int, row: int, last_row: int) -> bool:
    for ref in sqref.split():
        r1, c1, r2, c2 = _bounds(ref)
        if c1 <= col <= c2 and r1 <= last_row and row <= r2:
            return True
    return False


def set_list_validation(
    root: etree._Element, row: int, col: int, last_row: int, joined: str
) -> None:
    """A dropdown list validation on one column range, replacing ones that overlap it."""
    validations = _child(root, "dataValidations")
    for old in list(validations):
        if _overlaps(str(old.get("sqref", "")), col, row, last_row):
            validations.remove(old)
    item = etree.SubElement(validations, _q("dataValidation"))
    for key, value in {
        "type": "list",
        "allowBlank": "1",
        "showErrorMessage": "1",
        "errorTitle": "Not a label",
        "error": "Pick one of the labels from the list.",
        "sqref": f"{cell_address(row, col)}:{cell_address(last_row, col)}",
    }.items():
        item.set(key, value)
    etree.SubElement(item, _q("formula1")).text = f'"{joined}"'
    validations.set("count", str(len(validations)))


def add_internal_links(
    root: etree._Element, links: Sequence[tuple[int, int, str, int]]
) -> list[tuple[int, int]]:
    """Hyperlinks to places in the workbook (``location=``, so no relationship is needed).

    Returns the cells linked, for the caller to give them a link style.
    """
    hyperlinks = _child(root, "hyperlinks")
    wanted = {cell_address(r, c): (target, target_row) for r, c, target, target_row in links}
    for old in list(hyperlinks):
        if old.get("ref") in wanted and old.get(f"{{{REL_NS}}}id") is None:
            hyperlinks.remove(old)
    for ref, (target, target_row) in wanted.items():
        etree.SubElement(
            hyperlinks, _q("hyperlink"), ref=ref, location=f"{quote_sheet(target)}!A{target_row}"
        )
    return [(r, c) for r, c, _, _ in links]


def header_width(root: etree._Element) -> int:
    """How many columns row 1 spans (its last cell with a value)."""
    data = root.find(_q("sheetData"))
    if data is None:
        return 0
    for row in data.iter(_q("row")):
        if row.get("r") not in (None, "1"):
            return 0
        width = 0
        for cell in row.iter(_q("c")):
            if len(cell):
                ref = str(cell.get("r") or "")
                letters = "".join(ch for ch in ref if ch.isalpha())
                width = max(width, col_number(letters) if letters else width + 1)
        return width
    return 0
