"""Label parsing: one contract shared with the Excel add-in and the Apps Script.

The rules, checked in all three languages against ``tests/data/label_cases.json``:

- The input is one text or a range of cells, read row by row; blank cells are skipped.
- A cell with more than one non-blank line holds one label per line, so a description may
  contain commas; a cell with one line is split at commas.
- Each part reads ``Label`` or ``Label: description``. A colon followed by a digit is part of
  the name (``12:00-14:00`` is a label, not ``12`` described as ``00-14:00``).
- Names lose surrounding spaces, tabs and list bullets (``-``, ``•``, ``*``); descriptions lose
  surrounding whitespace.
- A label whose name matches an earlier one, ignoring case and spaces, is a repeat: the config
  tab refuses it, the ``AICLASSIFY`` functions drop it.

The Excel add-in (``excel_addin/src/functions.js``) and the Apps Script (``sheets_addon/Code.gs``)
cannot import this module, so each carries a copy of these rules; the shared table of cases keeps
the three from drifting.
"""

from __future__ import annotations

import re
from typing import Any

from ..steps import Label
from ..text import cell_text, norm_header

__all__ = ["parse_labels", "distinct_labels", "label_cells"]

# "12:00-14:00" is a label, not "12" described as "00-14:00".
_NAME_AND_DESCRIPTION = re.compile(r"^(.*?):(?!\d)(.*)$", flags=re.DOTALL)
_NAME_EDGES = " -•*\t"


def label_cells(value: Any) -> list[str]:
    """The texts of a label argument: a text is one cell, a range is read row by row.

    >>> label_cells([["A", None], [3.0, " B "]]), label_cells("x, y")
    (['A', '', '3', 'B'], ['x, y'])
    """
    if isinstance(value, list | tuple):
        return [text for item in value for text in label_cells(item)]
    return [cell_text(value)]


def parse_labels(value: Any) -> list[Label]:
    """Every label of a text or a range, in order, repeats included.

    >>> [l.name for l in parse_labels("Positive, Neutral ,Negative")]
    ['Positive', 'Neutral', 'Negative']
    >>> parse_labels("Bug: something broken, crashes\\nIdea: a wish")[0].description
    'something broken, crashes'
    >>> [l.name for l in parse_labels([["Bug"], ["Idea, Bug"], [None]])]
    ['Bug', 'Idea', 'Bug']
    """
    return [_label(part) for cell in label_cells(value) for part in _parts(cell)]


def distinct_labels(labels: list[Label]) -> list[Label]:
    """``labels`` without repeats: the first label of each name (ignoring case and spaces).

    >>> [l.prompt_text() for l in distinct_labels(parse_labels("Bug: a, bug, Idea"))]
    ['Bug: a', 'Idea']
    """
    seen: set[str] = set()
    out = []
    for label in labels:
        key = norm_header(label.name)
        if key not in seen:
            seen.add(key)
            out.append(label)
    return out


def _parts(cell: str) -> list[str]:
    lines = [line for line in re.split(r"\r?\n", cell) if line.strip()]
    return lines if len(lines) > 1 else [part for part in cell.split(",") if part.strip()]


def _label(part: str) -> Label:
    match = _NAME_AND_DESCRIPTION.match(part)
    name, description = (match.group(1), match.group(2)) if match else (part, "")
    return Label(name=name.strip(_NAME_EDGES), description=description.strip())
