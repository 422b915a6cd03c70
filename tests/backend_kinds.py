"""Ways to make a workbook for each backend, for the shared backend contract tests.

Each kind returns a :class:`Handle`: ``open()`` gives a fresh backend on the same workbook,
``values()`` and ``hidden()`` look at it from outside sheetai. A new backend adds a kind here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl

from sheetai.backends.base import Backend
from sheetai.backends.memory import MemoryBackend
from sheetai.backends.xlsx import XlsxBackend

Sheets = dict[str, list[list[Any]]]


@dataclass
class Handle:
    open: Callable[[], Backend]
    values: Callable[[str], list[list[Any]]]
    hidden: Callable[[str], bool]


@contextmanager
def xlsx_kind(tmp_path: Path, sheets: Sheets) -> Iterator[Handle]:
    path = tmp_path / "contract.xlsx"
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)

    def values(title: str) -> list[list[Any]]:
        loaded = openpyxl.load_workbook(path)
        rows = [list(r) for r in loaded[title].iter_rows(values_only=True)]
        loaded.close()
        return rows

    def hidden(title: str) -> bool:
        return openpyxl.load_workbook(path)[title].sheet_state == "hidden"

    yield Handle(lambda: XlsxBackend(path), values, hidden)


@contextmanager
def memory_kind(tmp_path: Path, sheets: Sheets) -> Iterator[Handle]:
    backend = MemoryBackend(sheets)
    yield Handle(
        lambda: backend, lambda title: backend.sheets[title], lambda t: t in backend.hidden
    )


@contextmanager
def google_kind(tmp_path: Path, sheets: Sheets) -> Iterator[Handle]:
    """A spreadsheet on a local FakeSheets server, reached by real gspread over HTTP."""
    import json

    from devservers.sheets import FakeSheets, make_service_account
    from sheetai.backends.google import GoogleSheetsBackend
    from sheetai.settings import Settings

    with FakeSheets() as server:
        info = make_service_account(server)
        key_file = tmp_path / "service_account.json"
        key_file.write_text(json.dumps(info))
        sid = server.add_spreadsheet("Contract", sheets, share_with=[info["client_email"]])
        settings = Settings(google_api_url=server.url, google_credentials=key_file)
        yield Handle(
            lambda: GoogleSheetsBackend(sid, settings),
            lambda title: server.values(sid, title),
            lambda title: bool(server.sheet_props(sid, title).get("hidden")),
        )


@contextmanager
def excel_kind(tmp_path: Path, sheets: Sheets) -> Iterator[Handle]:
    """A workbook open in the in-memory stand-in of xlwings' Book / Sheet / Range API."""
    from sheetai.backends.excel import XlwingsBackend

    from .excel_standin import make_book

    book = make_book(sheets, "contract.xlsx")
    yield Handle(
        lambda: XlwingsBackend("contract", books=book.app.books),
        lambda title: book.sheets[title].used_range.options(ndim=2).value,
        lambda title: not book.sheets[title].visible,
    )


KINDS: dict[str, Callable[[Path, Sheets], Any]] = {
    "xlsx": xlsx_kind,
    "memory": memory_kind,
    "google": google_kind,
    "excel": excel_kind,
}
