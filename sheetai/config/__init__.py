"""The config tab (``sheetai`` by default) into validated, dependency-ordered steps.

The layout is a public contract: header in row 1, one step per row::

    Step | Sheet | Input | Task | Instructions | Labels | Output | Model | Min confidence | Examples

Everything a provider needs is parsed here — labels with descriptions, typed extract fields,
score ranges, examples — and every problem is a :class:`~sheetai.errors.ConfigError` naming the
cell and the fix. Modules, one job each: ``tab`` (headers, cell addresses), ``labels`` (the label
contract shared with the add-ins), ``fields`` (extract fields, score ranges), ``step_row`` (one
row into a step), ``order`` (checks across steps, run order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..a1 import quote_sheet
from ..errors import ConfigError
from ..steps import Step
from ..text import is_blank
from .fields import parse_fields, parse_score_range
from .labels import distinct_labels, parse_labels
from .order import dependency_order
from .step_row import parse_examples, parse_step
from .tab import CONFIG_HEADERS, ConfigTab, config_rows

__all__ = [
    "CONFIG_HEADERS",
    "config_rows",
    "distinct_labels",
    "parse_config",
    "parse_examples",
    "parse_fields",
    "parse_labels",
    "parse_score_range",
]


def parse_config(
    values: Sequence[Sequence[Any]],
    sheet_headers: Mapping[str, Sequence[str]],
    *,
    tab: str = "sheetai",
    default_model: str = "local",
    sheet_rows: Mapping[str, Sequence[Sequence[Any]]] | None = None,
) -> list[Step]:
    """Parse and check the config tab; return the steps in the order they must run.

    Args:
        values: the tab's cells, row 1 first.
        sheet_headers: every sheet of the workbook and its row-1 headers.
        tab: the tab's name, for error addresses.
        default_model: used where the Model cell is blank.
        sheet_rows: the sheets' cells, when at hand: an input column missing from row 1 is then
            looked for further down, to tell the user their headers are not in row 1.

    Raises:
        ConfigError: at the first cell that is wrong, with the fix.
    """
    config = ConfigTab(tab, values)
    steps = [
        parse_step(config, index, row_values, sheet_headers, default_model)
        for index, row_values in enumerate(config.rows[1:], start=2)
        if not all(is_blank(v) for v in row_values)
    ]
    if not steps:
        raise ConfigError(
            "the config tab has headers but no steps. Add one row per step below row 1.",
            cell=f"{quote_sheet(tab)}!A2",
        )
    return dependency_order(config, steps, sheet_headers, sheet_rows or {})
