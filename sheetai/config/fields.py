"""What the Labels cell means for ``extract`` and ``score`` steps: typed fields, a score range.

Both raise :class:`~sheetai.errors.ConfigError` at the Labels cell, with the fix, so a provider
only ever sees a step it can build an answer schema for.
"""

from __future__ import annotations

import re
from typing import Literal

from ..errors import ConfigError
from ..steps import DEFAULT_SCORE_RANGE, ExtractField, Label, ScoreRange

__all__ = ["parse_fields", "parse_score_range"]

_FieldType = Literal["text", "number", "date", "bool"]
_TYPES: dict[str, _FieldType] = {
    "text": "text",
    "string": "text",
    "number": "number",
    "float": "number",
    "int": "number",
    "date": "date",
    "bool": "bool",
    "boolean": "bool",
}
_RANGE = re.compile(
    r"^\s*(-?\d+(?:\.\d+)?)\s*(?:-|–|—|to|\.\.)\s*(-?\d+(?:\.\d+)?)\s*$", re.IGNORECASE
)


def parse_fields(labels: list[Label], step: str, cell: str) -> list[ExtractField]:
    """The fields of an ``extract`` step, from its ``field: type`` labels.

    A blank type means text; ``one of a|b|c`` (or ``a|b|c``) is a choice.

    >>> fields = parse_fields([Label(name="price", description="number"),
    ...                        Label(name="size", description="one of S|M|L")], "e", "sheetai!F2")
    >>> [(f.name, f.type, f.choices) for f in fields]
    [('price', 'number', ()), ('size', 'choice', ('S', 'M', 'L'))]

    Args:
        labels: the step's parsed labels.
        step: the step's name, for errors.
        cell: the address of the Labels cell, for errors.
    """
    if not labels:
        raise ConfigError(
            f"extract step '{step}' needs its fields in Labels, one per line, e.g. "
            "'price: number'.",
            cell,
        )
    return [_field(label, cell) for label in labels]


def _field(label: Label, cell: str) -> ExtractField:
    written = label.description.strip()
    kind = written.casefold() or "text"
    if kind.startswith("one of") or "|" in kind:
        raw = written[6:] if kind.startswith("one of") else written
        choices = tuple(c.strip() for c in re.split(r"[|/]", raw) if c.strip())
        if len(choices) < 2:
            raise ConfigError(
                f"field '{label.name}' lists fewer than two choices. Write e.g. "
                "'size: one of S|M|L'.",
                cell,
            )
        return ExtractField(name=label.name, type="choice", choices=choices)
    if kind not in _TYPES:
        raise ConfigError(
            f"field '{label.name}' has unknown type '{written}'. Use text, number, date, bool "
            "or 'one of a|b|c', e.g. 'price: number'.",
            cell,
        )
    return ExtractField(name=label.name, type=_TYPES[kind])


def parse_score_range(text: str, cell: str) -> ScoreRange:
    """The range of a score step's Labels cell; blank means 1-5.

    >>> parse_score_range("0 to 100", "sheetai!F2")
    ScoreRange(low=0.0, high=100.0, decimals=False)
    >>> parse_score_range("0..1", "sheetai!F2").decimals, parse_score_range("", "x!F2").high
    (True, 5.0)
    >>> parse_score_range("ten to 1", "sheetai!F3")
    Traceback (most recent call last):
    ...
    sheetai.errors.ConfigError: sheetai!F3: score range 'ten to 1' is not two numbers. Write it as low-high, e.g. 1-10 or 0 to 100 (blank means 1-5).
    """  # noqa: E501
    if not text.strip():
        return DEFAULT_SCORE_RANGE
    match = _RANGE.match(text.strip())
    if not match:
        raise ConfigError(
            f"score range '{text}' is not two numbers. Write it as low-high, e.g. 1-10 or "
            "0 to 100 (blank means 1-5).",
            cell,
        )
    low, high = float(match.group(1)), float(match.group(2))
    if high < low:
        raise ConfigError(
            f"score range '{text}' runs from high to low. Write it as "
            f"{match.group(2)}-{match.group(1)}.",
            cell,
        )
    if high == low:
        raise ConfigError(
            f"score range '{text}' allows only one score. Write a lowest and a higher highest "
            "score, e.g. 1-5.",
            cell,
        )
    return ScoreRange(low=low, high=high, decimals=not _whole_numbers(text, low, high))


def _whole_numbers(text: str, low: float, high: float) -> bool:
    """Whether a range asks for whole numbers: whole bounds written without a decimal point,
    more than one apart (``0..1`` as whole numbers would only allow 0 or 1).

    >>> _whole_numbers("1-5", 1.0, 5.0), _whole_numbers("0..1", 0.0, 1.0)
    (True, False)
    >>> _whole_numbers("0.0 to 10.0", 0.0, 10.0)
    False
    """
    written_decimal = re.search(r"\d\.\d", text) is not None
    return low.is_integer() and high.is_integer() and high - low > 1 and not written_decimal
