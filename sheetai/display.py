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
import re
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .cell_values import CellError

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

_MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_EPOCH = datetime(1899, 12, 30)  # day 0 of Excel's 1900 date system, past its leap-year bug

# Pieces of a format section: quoted text, escaped or padded characters, [brackets], date and
# time codes, AM/PM, and single characters.
_TOKEN = re.compile(
    r'"[^"]*"|\\.|_.|\*.|\[[^\]]*\]|AM/PM|A/P|[yY]+|[mM]+|[dD]+|[hH]+|[sS]+|[eE][+-]|.',
    re.DOTALL,
)


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
    if code is not None and not _valid(code):
        code = None
    if isinstance(value, datetime | date | time | timedelta):
        if code is not None and is_date_format(code):
            rendered = _try(_render_date, _as_datetime(value), code)
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
                rendered = _try(_render_date, _from_serial(serial), code)
                if rendered is not None:
                    return rendered
            return _general(value)
        rendered = _try(_render_number, float(value), code)
        return rendered if rendered is not None else _general(value)
    return str(value).strip()


def is_date_format(code: str) -> bool:
    """Whether a number-format code shows a date or a time.

    >>> is_date_format("d-mmm-yy"), is_date_format('"$"#,##0.00'), is_date_format("[h]:mm")
    (True, False, True)
    """
    section = _split_sections(code)[0]
    for token in _TOKEN.findall(section):
        if token.startswith(("[$", "[Red", '"', "\\", "_", "*")) or token.casefold() == "general":
            continue
        if _date_kind(token):
            return True
    return False


def _valid(code: str) -> bool:
    """Whether every bare letter of the code means something (Excel refuses other codes).

    >>> _valid("d-mmm-yy"), _valid('0.0 "kg"'), _valid("no such format"), _valid("General")
    (True, True, False, True)
    """
    if code.casefold() == "general":
        return True
    for section in _split_sections(code):
        for token in _TOKEN.findall(section.replace("General", "").replace("general", "")):
            if len(token) == 1 and token.isalpha() and token not in "yYmMdDhHsSeE":
                return False
    return True


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
        return datetime.combine(_EPOCH.date(), value)
    return _EPOCH + value


def _from_serial(serial: float) -> datetime:
    # Excel counts 1900-02-29, which never existed: serials before it are one day later.
    base = _EPOCH if serial >= 61 else _EPOCH + timedelta(days=1)
    return base + timedelta(days=serial)


def _split_sections(code: str) -> list[str]:
    sections, current, quoted = [], [], False
    index = 0
    while index < len(code):
        char = code[index]
        if char == '"':
            quoted = not quoted
        elif char == "\\" and not quoted:
            current.append(code[index : index + 2])
            index += 2
            continue
        elif char == ";" and not quoted:
            sections.append("".join(current))
            current = []
            index += 1
            continue
        current.append(char)
        index += 1
    sections.append("".join(current))
    return sections


def _literal(token: str) -> str | None:
    """What a non-placeholder token shows, or None when it is a placeholder or code."""
    if token.startswith('"'):
        return token[1:-1]
    if token.startswith("\\"):
        return token[1:]
    if token.startswith(("_", "*")):
        return ""  # padding and fill repeat to a column width a model never sees
    if token.startswith("[$"):
        return token[2:-1].split("-")[0]  # [$€-407]: the symbol; [$-409]: a locale only
    if token.startswith("["):
        return ""  # a colour or a condition
    return None


def _shown(token: str) -> str:
    literal = _literal(token)
    return token if literal is None else literal


def _render_date(moment: datetime, code: str) -> str:
    section = _split_sections(code)[0]
    tokens = _TOKEN.findall(section)
    twelve_hour = any(t.upper() in ("AM/PM", "A/P") for t in tokens)
    kinds = [_date_kind(t) for t in tokens]
    out = []
    for index, token in enumerate(tokens):
        literal = _literal(token) if not re.fullmatch(r"\[[hHmMsS]+\]", token) else None
        if literal is not None:
            out.append(literal)
            continue
        kind = kinds[index]
        lower = token.casefold()
        if kind == "y":
            out.append(f"{moment.year:04d}" if len(token) > 2 else f"{moment.year % 100:02d}")
        elif kind == "m":
            minute = _after(kinds, index, "h") or _before(kinds, index, "s")
            if minute:
                out.append(f"{moment.minute:02d}" if len(token) > 1 else str(moment.minute))
            elif len(token) == 1:
                out.append(str(moment.month))
            elif len(token) == 2:
                out.append(f"{moment.month:02d}")
            elif len(token) == 3:
                out.append(_MONTHS[moment.month - 1][:3])
            elif len(token) == 5:
                out.append(_MONTHS[moment.month - 1][0])
            else:
                out.append(_MONTHS[moment.month - 1])
        elif kind == "d":
            if len(token) <= 2:
                out.append(f"{moment.day:0{len(token)}d}")
            else:
                name = _DAYS[moment.weekday()]
                out.append(name[:3] if len(token) == 3 else name)
        elif kind == "h":
            if lower.startswith("["):
                hours = int((moment - _EPOCH).total_seconds() // 3600)
                out.append(str(hours))
                continue
            hour = moment.hour % 12 or 12 if twelve_hour else moment.hour
            out.append(f"{hour:02d}" if len(token) > 1 else str(hour))
        elif kind == "s":
            out.append(f"{moment.second:02d}" if len(token) > 1 else str(moment.second))
        elif kind == "ampm":
            morning = moment.hour < 12
            if token.upper() == "A/P":
                out.append("A" if morning else "P")
            else:
                out.append("AM" if morning else "PM")
        elif token == "." and index + 1 < len(tokens) and tokens[index + 1] == "0":
            out.append("")  # fractions of a second: a model needs none
        elif token == "0" and index and tokens[index - 1] in (".", "0"):
            out.append("")
        else:
            out.append(token)
    return "".join(out).strip()


def _date_kind(token: str) -> str:
    lower = token.casefold()
    if lower.startswith("[") and re.fullmatch(r"\[[hms]+\]", lower):
        return {"h": "h", "m": "m", "s": "s"}[lower[1]]
    if token.upper() in ("AM/PM", "A/P"):
        return "ampm"
    if lower and lower[0] in "ymdhs" and set(lower) == {lower[0]}:
        return lower[0]
    return ""


def _after(kinds: list[str], index: int, kind: str) -> bool:
    """Whether the nearest date code before ``index`` is of ``kind`` (``h:mm`` minutes)."""
    for previous in reversed(kinds[:index]):
        if previous:
            return previous == kind
    return False


def _before(kinds: list[str], index: int, kind: str) -> bool:
    """Whether the nearest date code after ``index`` is of ``kind`` (``mm:ss`` minutes)."""
    for following in kinds[index + 1 :]:
        if following:
            return following == kind
    return False


def _render_number(value: float, code: str) -> str | None:
    sections = _split_sections(code)
    section = sections[0]
    signed = True
    if value < 0 and len(sections) > 1 and sections[1].strip():
        section, value, signed = sections[1], -value, False
    elif value == 0 and len(sections) > 2 and sections[2].strip():
        section = sections[2]
    tokens = _TOKEN.findall(section)
    placeholders = [i for i, t in enumerate(tokens) if t in ("0", "#", "?")]
    if "/" in tokens or "@" in tokens:
        return None  # fractions and text sections: General says it well enough
    if not placeholders:
        return "".join(_shown(t) for t in tokens).strip()
    first, last = placeholders[0], placeholders[-1]
    while last + 1 < len(tokens) and tokens[last + 1] == ",":
        last += 1  # trailing commas scale by a thousand each
    if last + 1 < len(tokens) and tokens[last + 1].upper() in ("E+", "E-"):
        last += 1
        while last + 1 < len(tokens) and tokens[last + 1] in ("0", "#"):
            last += 1
    body = tokens[first : last + 1]
    prefix = "".join(_shown(t) for t in tokens[:first])
    suffix = "".join(_shown(t) for t in tokens[last + 1 :])
    scale = 100.0 ** (prefix + suffix).count("%")
    number = _format_body(abs(value) * scale, body)
    sign = "-" if signed and value < 0 and number.strip("0.,") else ""
    return f"{sign}{prefix}{number}{suffix}".strip()


def _format_body(value: float, body: list[str]) -> str:
    exponent_at = next((i for i, t in enumerate(body) if t.upper() in ("E+", "E-")), None)
    mantissa = body if exponent_at is None else body[:exponent_at]
    trailing = 0
    while mantissa and mantissa[-1] == ",":
        trailing += 1
        mantissa = mantissa[:-1]
    value /= 1000.0**trailing
    dot = mantissa.index(".") if "." in mantissa else len(mantissa)
    integer, fraction = mantissa[:dot], mantissa[dot + 1 :]
    required = sum(1 for t in fraction if t == "0")
    optional = sum(1 for t in fraction if t in ("#", "?"))
    decimals = required + optional
    grouped = "," in integer
    min_digits = sum(1 for t in integer if t == "0")
    if exponent_at is not None:
        digits = max(1, sum(1 for t in body[exponent_at + 1 :] if t in ("0", "#")))
        text = f"{value:.{decimals}E}"
        mantissa_text, exponent = text.split("E")
        power = int(exponent)
        sign = "-" if power < 0 else ("+" if body[exponent_at] == "E+" else "")
        return f"{mantissa_text}E{sign}{abs(power):0{digits}d}"
    # Excel rounds halves away from zero (2.5 -> 3), Python's format to even.
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)
    text = format(rounded, ",f" if grouped else "f")
    whole, _, frac = text.partition(".")
    if optional:
        frac = frac.rstrip("0").ljust(required, "0")
    if whole.replace(",", "") == "0" and min_digits == 0:
        whole = ""
    elif len(whole.replace(",", "")) < min_digits:
        whole = whole.zfill(min_digits)
    return f"{whole}.{frac}" if frac else whole or ("0" if not frac else "")
