"""Messy workbooks for the lossless write-back tests, built the way real files look.

openpyxl builds the base (it cannot write cached formula results, error values from Excel,
sparklines, a calc chain or VBA), then :func:`patch_parts` edits the zip as Excel would have.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
from lxml import etree
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Font, PatternFill
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo

from .conftest import CONFIG_HEADER, REVIEWS, sentiment_step

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
DATA = Path(__file__).parent / "data"

_SPARKLINES = (
    '<extLst><ext uri="{05C60535-1F16-4fd2-B633-F4F36F0B64E0}" '
    'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
    '<x14:sparklineGroups xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
    '<x14:sparklineGroup displayEmptyCellsAs="gap"><x14:colorSeries rgb="FF376092"/>'
    "<x14:sparklines><x14:sparkline><xm:f>Feedback!B2:B9</xm:f><xm:sqref>B12</xm:sqref>"
    "</x14:sparkline></x14:sparklines></x14:sparklineGroup></x14:sparklineGroups></ext></extLst>"
)
_MC = (
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac" '
    'mc:Ignorable="x14ac"'
)


def patch_parts(path: Path, edit: Callable[[dict[str, bytes]], None]) -> None:
    """Rewrite a zip with ``edit`` applied to its parts (name -> bytes)."""
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    edit(parts)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def rich_workbook(path: Path) -> Path:
    """A workbook with most of what real files carry, and a sheetai config for two steps.

    ``Feedback`` (data in an Excel Table, a formula column with cached results, an error value,
    a date column, comments, validation, conditional formats, an image, sparklines), ``Leads``
    (a sheet autofilter), ``Chart`` (a bar chart), ``Notes`` (merged cells), ``Hidden``.
    """
    from openpyxl.drawing.image import Image as SheetImage

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Feedback"
    sheet.append(["Review", "Stars", "Double", "Seen"])
    for i, text in enumerate(REVIEWS, start=2):
        sheet.append([text, i % 5 + 1, f"=B{i}*2", dt.date(2024, 3, i)])
    for cell in sheet[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="305496")
    table = Table(displayName="Reviews", ref="A1:D9")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    sheet.add_table(table)
    sheet["A2"].comment = Comment("Checked by Ana", "Ana")
    validation = DataValidation(type="whole", operator="between", formula1="1", formula2="5")
    sheet.add_data_validation(validation)
    validation.add("B2:B9")
    sheet.conditional_formatting.add(
        "B2:B9",
        CellIsRule(
            operator="greaterThan", formula=["3"], fill=PatternFill("solid", fgColor="C6EFCE")
        ),
    )
    sheet["B11"] = "=SUM(B2:B9)"
    image = SheetImage(io.BytesIO(_png()))
    sheet.add_image(image, "H2")

    leads = book.create_sheet("Leads")
    leads.append(["Note", "Owner"])
    for text in REVIEWS[:4]:
        leads.append([text, "Ana"])
    leads.auto_filter.ref = "A1:B5"

    charts = book.create_sheet("Chart")
    charts.append(["Label", "Count"])
    for label, n in (("a", 3), ("b", 5)):
        charts.append([label, n])
    chart = BarChart()
    chart.add_data(Reference(charts, min_col=2, min_row=1, max_row=3), titles_from_data=True)
    charts.add_chart(chart, "D2")

    notes = book.create_sheet("Notes")
    notes["A1"] = "Merged note"
    notes.merge_cells("A1:C2")
    book.create_sheet("Hidden").sheet_state = "hidden"
    book.defined_names["StarCells"] = DefinedName("StarCells", attr_text="Feedback!$B$2:$B$9")

    config = book.create_sheet("sheetai")
    config.append(CONFIG_HEADER)
    config.append(sentiment_step())
    config.append(sentiment_step(Step="lead mood", Sheet="Leads", Input="Note", Output="Mood"))
    book.save(path)
    patch_parts(path, _as_excel_saved)
    return path


def _as_excel_saved(parts: dict[str, bytes]) -> None:
    """Cached formula results, an error value, sparklines and a calc chain, as Excel writes."""
    sheet = parts["xl/worksheets/sheet1.xml"].decode()

    def cached(match: re.Match[str]) -> str:
        ref, formula = match.group(1), match.group(2)
        row = int(ref[1:])
        value = 2 * (row % 5 + 1) if ref.startswith("C") else 30
        return f'<c r="{ref}"><f>{formula}</f><v>{value}</v></c>'

    sheet = re.sub(r'<c r="([A-Z]+\d+)"[^>]*><f>([^<]*)</f><v\s*/></c>', cached, sheet)
    sheet = re.sub(r'<c r="([A-Z]+\d+)"[^>]*><f>([^<]*)</f><v></v></c>', cached, sheet)
    sheet = sheet.replace(
        '<row r="11"', '<row r="10"><c r="B10" t="e"><v>#N/A</v></c></row><row r="11"', 1
    )
    sheet = sheet.replace(f'<worksheet xmlns="{MAIN}"', f'<worksheet xmlns="{MAIN}" {_MC}', 1)
    sheet = sheet.replace("</worksheet>", f"{_SPARKLINES}</worksheet>")
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    parts["xl/calcChain.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<calcChain xmlns="{MAIN}">'
        '<c r="C2" i="1"/><c r="C3"/><c r="B11"/></calcChain>'
    ).encode()
    add_workbook_part(parts, "calcChain.xml", "calcChain", "calcChain")


def add_workbook_part(parts: dict[str, bytes], name: str, relationship: str, kind: str) -> None:
    """Wire ``xl/<name>`` (already in ``parts``) to the workbook: a relationship of type
    ``relationship`` and the spreadsheetml content type ``kind``."""
    rels = parts["xl/_rels/workbook.xml.rels"].decode()
    parts["xl/_rels/workbook.xml.rels"] = rels.replace(
        "</Relationships>",
        f'<Relationship Id="rId{relationship}" Type="http://schemas.openxmlformats.org/'
        f'officeDocument/2006/relationships/{relationship}" Target="{name}"/></Relationships>',
    ).encode()
    types = parts["[Content_Types].xml"].decode()
    parts["[Content_Types].xml"] = types.replace(
        "</Types>",
        f'<Override PartName="/xl/{name}" ContentType="application/vnd.openxmlformats-'
        f'officedocument.spreadsheetml.{kind}+xml"/></Types>',
    ).encode()


def macro_workbook(path: Path) -> Path:
    """An .xlsm with a (stand-in) ``vbaProject.bin`` wired in as Excel does."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Feedback"
    sheet.append(["Review"])
    for text in REVIEWS[:3]:
        sheet.append([text])
    config = book.create_sheet("sheetai")
    config.append(CONFIG_HEADER)
    config.append(sentiment_step())
    book.save(path)

    def add_vba(parts: dict[str, bytes]) -> None:
        parts["xl/vbaProject.bin"] = bytes(range(256)) * 8
        rels = parts["xl/_rels/workbook.xml.rels"].decode()
        parts["xl/_rels/workbook.xml.rels"] = rels.replace(
            "</Relationships>",
            '<Relationship Id="rId98" Type="http://schemas.microsoft.com/office/2006/'
            'relationships/vbaProject" Target="vbaProject.bin"/></Relationships>',
        ).encode()
        types = parts["[Content_Types].xml"].decode()
        types = types.replace(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
            "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
        )
        parts["[Content_Types].xml"] = types.replace(
            "</Types>",
            '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>',
        ).encode()

    patch_parts(path, add_vba)
    return path


def zip_parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def sheet_part(path: Path, title: str) -> str:
    """The part name of sheet ``title``, as the workbook and its rels say."""
    from sheetai.backends.xlsx_package import Package

    with Package(path) as package:
        return package.sheet_parts()[title]


def parsed_cells(xml: bytes) -> dict[str, tuple[Any, ...]]:
    """Cell ref -> (type, style, formula, cached value or inline text) of a worksheet part."""
    root = etree.fromstring(xml)
    cells = {}
    for cell in root.iter(f"{{{MAIN}}}c"):
        formula = cell.find(f"{{{MAIN}}}f")
        cells[str(cell.get("r"))] = (
            cell.get("t"),
            cell.get("s"),
            None if formula is None else (formula.text, dict(formula.attrib)),
            cell.findtext(f"{{{MAIN}}}v"),
            "".join(cell.find(f"{{{MAIN}}}is").itertext())
            if cell.find(f"{{{MAIN}}}is") is not None
            else None,
        )
    return cells
