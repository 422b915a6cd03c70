"""Bar charts on a sheet: the chart XML from openpyxl's chart classes, the drawing and chart
parts, their relationships and content types written here."""

from __future__ import annotations

import posixpath

from lxml import etree

from ..a1 import quote_sheet
from .base import ChartSpec
from .xlsx_cells import WORKSHEET_ORDER, insert_child
from .xlsx_package import NS, REL_NS, Package, part_xml, rels_path, resolve_target
from .xlsx_parts import add_override, add_relationship, new_part_name, serialize

__all__ = ["place_chart"]

_XDR = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_C = "http://schemas.openxmlformats.org/drawingml/2006/chart"
_DRAWING_REL = f"{REL_NS}/drawing"
_CHART_REL = f"{REL_NS}/chart"
_DRAWING_CT = "application/vnd.openxmlformats-officedocument.drawing+xml"
_CHART_CT = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"
# 15 cm x 7.5 cm, in EMU (360,000 a centimetre): the size the QC tab's charts always had.
_WIDTH, _HEIGHT = 5_400_000, 2_700_000


def chart_xml(title: str, spec: ChartSpec) -> bytes:
    """The ``chartSpace`` part of a column chart of ``spec``'s ranges on sheet ``title``."""
    from openpyxl.chart import BarChart, Reference
    from openpyxl.xml.functions import tostring

    chart = BarChart()
    chart.type = "col"
    chart.title = spec.title
    chart.x_axis.title = spec.x_title or None
    chart.y_axis.title = spec.y_title or None
    if spec.y_max is not None:
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = spec.y_max
    # openpyxl >= 3.1 hides axes unless told otherwise.
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    sheet = quote_sheet(title)
    for col in spec.series:
        data = Reference(
            range_string=f"{sheet}!{_absolute(spec.header_row, col, spec.last_row, col)}"
        )
        chart.add_data(data, titles_from_data=True)
    labels = Reference(
        range_string=(
            f"{sheet}!{_absolute(spec.first_row, spec.categories, spec.last_row, spec.categories)}"
        )
    )
    chart.set_categories(labels)
    return serialize(part_xml(bytes(tostring(chart._write()))))


def _absolute(row: int, col: int, last_row: int, last_col: int) -> str:
    from openpyxl.utils import get_column_letter

    return f"${get_column_letter(col)}${row}:${get_column_letter(last_col)}${last_row}"


def _drawing_of(package: Package, part: str, sheet: etree._Element) -> str | None:
    element = sheet.find(f"{{{NS}}}drawing")
    if element is None or not package.has(rels_path(part)):
        return None
    rel_id = element.get(f"{{{REL_NS}}}id")
    for rel in part_xml(package.read(rels_path(part))):
        if rel.get("Id") == rel_id:
            return resolve_target(part, str(rel.get("Target")))
    return None


def _new_drawing(package: Package, part: str, sheet: etree._Element) -> str:
    drawing = new_part_name(package, "xl/drawings", "drawing")
    root = etree.Element(f"{{{_XDR}}}wsDr", nsmap={"xdr": _XDR, "a": _A})
    package.put(drawing, serialize(root))
    add_override(package, drawing, _DRAWING_CT)
    target = posixpath.relpath(drawing, posixpath.dirname(part))
    rel_id = add_relationship(package, part, _DRAWING_REL, target)
    element = etree.Element(f"{{{NS}}}drawing", nsmap={"r": REL_NS})
    element.set(f"{{{REL_NS}}}id", rel_id)
    insert_child(sheet, element, WORKSHEET_ORDER)
    return drawing


def _drop_charts_at(
    package: Package, drawing: str, root: etree._Element, at: tuple[int, int]
) -> None:
    """Remove anchors at ``at`` (0-based col, row) holding a chart, with their chart parts."""
    rels_name = rels_path(drawing)
    rels = part_xml(package.read(rels_name)) if package.has(rels_name) else None
    for anchor in list(root):
        start = anchor.find(f"{{{_XDR}}}from")
        if start is None:
            continue
        col = int(start.findtext(f"{{{_XDR}}}col") or -1)
        row = int(start.findtext(f"{{{_XDR}}}row") or -1)
        charts = list(anchor.iter(f"{{{_C}}}chart"))
        if (col, row) != at or not charts:
            continue
        root.remove(anchor)
        for chart in charts:
            rel_id = chart.get(f"{{{REL_NS}}}id")
            for rel in list(rels) if rels is not None else []:
                if rel.get("Id") == rel_id:
                    target = resolve_target(drawing, str(rel.get("Target")))
                    package.remove(target)
                    package.remove(rels_path(target))
                    _drop_override(package, target)
                    rels.remove(rel)  # type: ignore[union-attr]
    if rels is not None:
        package.put(rels_name, serialize(rels))


def _drop_override(package: Package, part: str) -> None:
    types = part_xml(package.read("[Content_Types].xml"))
    for override in list(types):
        if override.get("PartName") == f"/{part}":
            types.remove(override)
    package.put("[Content_Types].xml", serialize(types))


def place_chart(package: Package, part: str, sheet: etree._Element, spec: ChartSpec) -> None:
    """Draw ``spec`` on the worksheet ``part`` (parsed as ``sheet``); a chart at the same
    anchor is replaced."""
    from openpyxl.utils.cell import coordinate_to_tuple

    title = next(t for t, p in package.sheet_parts().items() if p == part)
    row, col = coordinate_to_tuple(spec.anchor)
    drawing = _drawing_of(package, part, sheet) or _new_drawing(package, part, sheet)
    root = part_xml(package.read(drawing))
    _drop_charts_at(package, drawing, root, (col - 1, row - 1))

    chart = new_part_name(package, "xl/charts", "chart")
    package.put(chart, chart_xml(title, spec))
    add_override(package, chart, _CHART_CT)
    rel_id = add_relationship(
        package, drawing, _CHART_REL, posixpath.relpath(chart, posixpath.dirname(drawing))
    )
    ids = [int(e.get("id") or 0) for e in root.iter(f"{{{_XDR}}}cNvPr")]
    number = max(ids, default=0) + 1
    anchor = etree.fromstring(
        f'<xdr:oneCellAnchor xmlns:xdr="{_XDR}" xmlns:a="{_A}">'
        f"<xdr:from><xdr:col>{col - 1}</xdr:col><xdr:colOff>0</xdr:colOff>"
        f"<xdr:row>{row - 1}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>"
        f'<xdr:ext cx="{_WIDTH}" cy="{_HEIGHT}"/>'
        f'<xdr:graphicFrame macro=""><xdr:nvGraphicFramePr>'
        f'<xdr:cNvPr id="{number}" name="Chart {number}"/><xdr:cNvGraphicFramePr/>'
        f'</xdr:nvGraphicFramePr><xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/></xdr:xfrm>'
        f'<a:graphic><a:graphicData uri="{_C}">'
        f'<c:chart xmlns:c="{_C}" xmlns:r="{REL_NS}" r:id="{rel_id}"/>'
        f"</a:graphicData></a:graphic></xdr:graphicFrame><xdr:clientData/></xdr:oneCellAnchor>"
    )
    root.append(anchor)
    package.put(drawing, serialize(root))
