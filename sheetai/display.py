"""A cell's value as the text its sheet shows: what a model should read, not Python's ``str``.

Spreadsheets keep numbers, dates and booleans as values and show them through a number format
(``0.0%``, ``d-mmm-yy``, ``"$"#,##0.00``). A model asked about a row should read ``12.5%``
and ``5-Jan-24``, not ``0.125`` and ``2024-01-05 00:00:00``. This module turns a value and an
Excel number-format code into that text. It covers the formats people use (dates and times,
percentages, thousands separators, fixed decimals, currency, scientific); anything it does not
understand falls back to the General rendering, never to an error.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Any

from .cell_values import CellError
from .format_codes import EPOCH, is_date_format, is_valid, render_date, render_number

__all__ = ["display_text", "is_date_format", "BUILTIN_FORMATS"]

#: Excel's built-in format ids that files store by number. 14 and 22 are the reader's locale
#: short date, so they are shown as ISO dates, which no reader misreads.
BUILTIN_FORMATS: dict[int, str] = {
    0: "General",
    1: "0",
    2: "0.00",
    3: "#,##0",
    4: "#,##0.00",
    5: '"$"#,##0_);("$"#,##0)',
    6: '"$"#,##0_);[Red]("$"#,##0)',
    7: '"$"#,##0.00_);("$"#,##0.00)',
    8: '"$"#,##0.00_);[Red]("$"#,##0.00)',
    9: "0%",
    10: "0.00%",
    11: "0.00E+00",
    12: "# ?/?",
    13: "# ??/??",
    14: "yyyy-mm-dd",
    15: "d-mmm-yy",
    16: "d-mmm",
    17: "mmm-yy",
    18: "h:mm AM/PM",
    19: "h:mm:ss AM/PM",
    20: "h:mm",
    21: "h:mm:ss",
    22: "yyyy-mm-dd h:mm",
    37: "#,##0_);(#,##0)",
    38: "#,##0_);[Red](#,##0)",
    39: "#,##0.00_);(#,##0.00)",
    40: "#,##0.00_);[Red](#,##0.00)",
    45: "mm:ss",
    46: "[h]:mm:ss",
    47: "mm:ss.0",
    48: "##0.0E+0",
    49: "@",
}
# What openpyxl reports for the locale-dependent built-ins (ids 14 and 22).
_LOCALE_FORMATS = {"mm-dd-yy": BUILTIN_FORMATS[14], "m/d/yy h:mm": BUILTIN_FORMATS[22]}


def display_text(value: Any, number_format: str | int | None = None) -> str:
    """The text a cell holding ``value`` shows under ``number_format`` (an Excel code or id).

    >>> display_text(0.30000000000000004), display_text(3.0), display_text(True)
    ('0.3', '3', 'TRUE')
    >>> display_text(datetime(2024, 1, 5)), display_text(datetime(2024, 1, 5, 9, 30))
    ('2024-01-05', '2024-01-05 09:30')
    >>> display_text(datetime(2024, 1, 5), "m/d/yyyy"), display_text(datetime(2024, 1, 5), 15)
    ('1/5/2024', '5-Jan-24')
    >>> display_text(datetime(2024, 1, 5, 14, 7), "dd/mm/yyyy hh:mm")
    '05/01/2024 14:07'
    >>> display_text(0.125, "0.0%"), display_text(1234567.891, "#,##0.00")
    ('12.5%', '1,234,567.89')
    >>> display_text(-1234.5, '"$"#,##0.00'), display_text(1234.5, "[$€-407] #,##0")
    ('-$1,234.50', '€ 1,235')
    >>> display_text(-42, "#,##0_);(#,##0)"), display_text(0.000123, "0.00E+00")
    ('(42)', '1.23E-04')
    >>> display_text(45296, "yyyy-mm-dd"), display_text(7, "000"), display_text(2.5, "# ?/?")
    ('2024-01-05', '007', '2.5')
    """
    if value is None:
        return ""
    if isinstance(value, CellError):
        return str(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    code = _resolve(number_format)
    if code is not None and not is_valid(code):
        code = None
    if isinstance(value, datetime | date | time | timedelta):
        if code is not None and is_date_format(code):
            rendered = _try(render_date, _as_datetime(value), code)
            if rendered is not None:
                return rendered
        return _default_date(value)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return str(value)
        if code is None or code.casefold() == "general" or code == "@":
            return _general(value)
        if is_date_format(code):
            serial = float(value)
            if 0 <= serial < 2958466:  # Excel's last date is 9999-12-31
                rendered = _try(render_date, _from_serial(serial), code)
                if rendered is not None:
                    return rendered
            return _general(value)
        rendered = _try(render_number, float(value), code)
        return rendered if rendered is not None else _general(value)
    return str(value).strip()


def _resolve(number_format: str | int | None) -> str | None:
    if number_format is None:
        return None
    if isinstance(number_format, int):  # a code of digits ("000") is a code, not an id
        return BUILTIN_FORMATS.get(number_format)
    code = str(number_format).strip()
    return _LOCALE_FORMATS.get(code.casefold(), code) or None


def _try(render: Any, value: Any, code: str) -> str | None:
    """A renderer's text, or None where the code is beyond it (the caller falls back)."""
    try:
        result = render(value, code)
    except (ValueError, IndexError, OverflowError):
        return None
    return result if isinstance(result, str) else None


def _general(value: float) -> str:
    """Excel's General: up to 15 significant digits, so binary noise never shows."""
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.15g}".replace("e", "E")


def _default_date(value: datetime | date | time | timedelta) -> str:
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M" + (":%S" if value.second else ""))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M" + (":%S" if value.second else ""))
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"


def _as_datetime(value: datetime | date | time | timedelta) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, time):
        return datetime.combine(EPOCH.date(), value)
    return EPOCH + value


def _from_serial(serial: float) -> datetime:
    # Excel counts 1900-02-29, which never existed: serials before it are one day later.
    base = EPOCH if serial >= 61 else EPOCH + timedelta(days=1)
    return base + timedelta(days=serial)
