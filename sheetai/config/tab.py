"""The config tab's layout: its headers, and the address of each cell for error messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..a1 import cell_address, quote_sheet
from ..errors import ConfigError
from ..text import cell_text, did_you_mean, is_blank, norm_header

__all__ = ["CONFIG_HEADERS", "REQUIRED_HEADERS", "ConfigTab", "config_rows"]

CONFIG_HEADERS = [
    "Step",
    "Sheet",
    "Input",
    "Task",
    "Instructions",
    "Labels",
    "Output",
    "Model",
    "Min confidence",
    "Examples",
]
REQUIRED_HEADERS = ["Step", "Sheet", "Input", "Task", "Output"]


def config_rows(values: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Copy of the tab's rows, each padded to the header's width.

    >>> config_rows([["Step", "Sheet"], ["a"]])
    [['Step', 'Sheet'], ['a', None]]
    """
    width = max((len(row) for row in values), default=0)
    return [list(row) + [None] * (width - len(row)) for row in values]


class ConfigTab:
    """One config tab's cells, with its columns found by header (ignoring case and spaces).

    Args:
        tab: the tab's name, for error addresses.
        values: the tab's cells, row 1 first.

    Raises:
        ConfigError: the tab is empty or a required header is missing.
    """

    def __init__(self, tab: str, values: Sequence[Sequence[Any]]) -> None:
        self.tab = tab
        self.rows = config_rows(values)
        self.columns = self._header_columns()

    def cell(self, row: int, header: str) -> str:
        """The address of ``header``'s cell in config row ``row`` (1-based), e.g. ``sheetai!F2``."""
        col = self.columns.get(norm_header(header))
        return f"{quote_sheet(self.tab)}!{cell_address(row, (col or 0) + 1)}"

    def get(self, row_values: list[Any], header: str) -> Any:
        """The value under ``header`` in a row of :attr:`rows`; None without that column."""
        col = self.columns.get(norm_header(header))
        return None if col is None else row_values[col]

    def _header_columns(self) -> dict[str, int]:
        if not self.rows or all(is_blank(v) for v in self.rows[0]):
            raise ConfigError(
                "the config tab is empty. Put these headers in row 1: "
                + " | ".join(CONFIG_HEADERS)
                + " (or create a starter tab with `sheetai init`).",
                cell=f"{quote_sheet(self.tab)}!A1",
            )
        columns: dict[str, int] = {}
        for index, value in enumerate(self.rows[0]):
            if not is_blank(value):
                columns.setdefault(norm_header(value), index)
        for header in REQUIRED_HEADERS:
            if norm_header(header) not in columns:
                found = [cell_text(v) for v in self.rows[0] if not is_blank(v)]
                hint = did_you_mean(header, found)
                raise ConfigError(
                    f"the config tab has no '{header}' column{hint}. Row 1 must hold the "
                    "headers " + " | ".join(CONFIG_HEADERS) + ".",
                    cell=f"{quote_sheet(self.tab)}!1:1",
                )
        return columns
