"""Small pure helpers for comparing what people type in cells."""

from __future__ import annotations

import difflib
import hashlib
import math
import re
from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any

__all__ = [
    "norm_header",
    "is_blank",
    "cell_text",
    "normal_cell",
    "did_you_mean",
    "DIGEST_MARK",
    "LONG_TEXT",
]

# Long texts are compared (and remembered in the state tab) by a digest: a cell of the state
# tab holds at most 32,767 characters, and a row's outputs must fit in one.
LONG_TEXT = 2_000
DIGEST_MARK = "\x00#"


def norm_header(text: Any) -> str:
    """The form headers are matched in: case- and space-insensitive.

    >>> norm_header("  Min   Confidence ") == norm_header("min confidence")
    True
    """
    return re.sub(r"\s+", " ", str(text if text is not None else "")).strip().casefold()


def is_blank(value: Any) -> bool:
    """Whether a cell counts as empty.

    >>> is_blank(None), is_blank("  "), is_blank(0)
    (True, True, False)
    """
    return value is None or (isinstance(value, str) and not value.strip())


def cell_text(value: Any) -> str:
    """A cell's value as the text a model reads: whole floats lose their ``.0``.

    >>> cell_text(3.0), cell_text(2.5), cell_text(None), cell_text(" hi ")
    ('3', '2.5', '', 'hi')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def normal_cell(value: Any) -> str:
    """A cell value in a form that survives a round trip through any backend.

    Numbers are compared to 6 significant digits because Google Sheets and Excel may hand back
    a float where we wrote a rounded one, or a numeric string.

    >>> normal_cell(0.8123) == normal_cell("0.8123") == normal_cell(0.81230000001)
    True
    >>> normal_cell(None) == normal_cell("")
    True
    >>> from datetime import date, datetime
    >>> normal_cell(datetime(2024, 1, 15)) == normal_cell(date(2024, 1, 15)) == "2024-01-15"
    True
    """
    if is_blank(value):
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return f"{float(value):.6g}"
    if isinstance(value, datetime) and value.time() == time(0):
        value = value.date()  # a date cell read back from Excel is a datetime at midnight
    if isinstance(value, (date, datetime)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    text = str(value).strip()
    if text.startswith(DIGEST_MARK):
        return text
    if len(text) > LONG_TEXT:
        return f"{DIGEST_MARK}{hashlib.sha256(text.encode()).hexdigest()[:32]}:{len(text)}"
    try:
        number = float(text)
    except ValueError:
        return text
    return f"{number:.6g}" if math.isfinite(number) else text


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ``(did you mean 'X'?)`` suffix, or an empty string when nothing is close.

    >>> did_you_mean("Revew", ["Review", "Date"])
    " (did you mean 'Review'?)"
    """
    options = list(choices)
    lookup = {norm_header(c): c for c in options}
    close = difflib.get_close_matches(norm_header(word), list(lookup), n=1, cutoff=0.6)
    return f" (did you mean '{lookup[close[0]]}'?)" if close else ""
