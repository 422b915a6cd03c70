"""Excel number-format codes: split into sections and tokens, and render a value through one.

The pure machinery behind :func:`sheetai.display.display_text`: :func:`render_date` and
:func:`render_number` show a value the way a code says (``d-mmm-yy``, ``"$"#,##0.00``,
``0.0%``); they raise ``ValueError`` (or return None) where a code is beyond them, and the caller
falls back to Excel's General rendering.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["EPOCH", "is_date_format", "is_valid", "render_date", "render_number"]

_MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
EPOCH = datetime(1899, 12, 30)  # day 0 of Excel's 1900 date system, past its leap-year bug

# Pieces of a format section: quoted text, escaped or padded characters, [brackets], date and
# time codes, AM/PM, and single characters.
_TOKEN = re.compile(
    r'"[^"]*"|\\.|_.|\*.|\[[^\]]*\]|AM/PM|A/P|[yY]+|[mM]+|[dD]+|[hH]+|[sS]+|[eE][+-]|.',
    re.DOTALL,
)


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


def is_valid(code: str) -> bool:
    """Whether every bare letter of the code means something (Excel refuses other codes).

    >>> is_valid("d-mmm-yy"), is_valid('0.0 "kg"'), is_valid("no such format"), is_valid("General")
    (True, True, False, True)
    """
    if code.casefold() == "general":
        return True
    for section in _split_sections(code):
        for token in _TOKEN.findall(section.replace("General", "").replace("general", "")):
            if len(token) == 1 and token.isalpha() and token not in "yYmMdDhHsSeE":
                return False
    return True


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


def render_date(moment: datetime, code: str) -> str:
    """``moment`` as the first section of a date or time ``code`` shows it.

    >>> render_date(datetime(2024, 1, 5, 14, 7), "d-mmm-yy h:mm AM/PM")
    '5-Jan-24 2:07 PM'
    """
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
                hours = int((moment - EPOCH).total_seconds() // 3600)
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


def render_number(value: float, code: str) -> str | None:
    """``value`` as a number ``code`` shows it (its negative and zero sections included), or
    None for fractions and text sections.

    >>> render_number(-1234.5, '#,##0.00;(#,##0.00)'), render_number(0.5, "# ?/?")
    ('(1,234.50)', None)
    """
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
