"""What the fake model says: answers that fill the request's JSON schema, and their logprobs.

Pure functions over the request body. An enum field gets the option the user text mentions
most (a stable guess otherwise); the logprobs rate that label's first token higher when it was
found in the text (0.95) than when it was guessed (0.6).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from typing import Any

__all__ = [
    "build_logprobs",
    "default_answer",
    "enum_fields",
    "fill_schema",
    "spread_reasoning",
    "text_of",
    "user_texts",
]

FOUND_P, GUESSED_P = 0.95, 0.6  # probability of an enum label found in / guessed from the text
_SCHEMA_IN_PROMPT = re.compile(r"schema[^:\n]*:\s*(\{.*\})\s*$", re.IGNORECASE | re.MULTILINE)
_TOKEN_RE = re.compile(r" ?[A-Za-z]+| ?\d{1,3}|\s+|[^\w\s]+|.", re.S)


def text_of(message: dict) -> str:
    """A message's text (sheetai sends plain string contents)."""
    content = message.get("content")
    return content if isinstance(content, str) else ""


def user_texts(body: dict) -> list[str]:
    return [text_of(m) for m in body.get("messages", []) if m.get("role") == "user"]


def _stable(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _resolve(schema: dict, root: dict) -> dict:
    # pydantic puts enums in $defs; a strict schema may keep the $ref.
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _pick_enum(options: list, text: str) -> tuple[Any, bool]:
    """The option mentioned most often in ``text`` (ties: mentioned last), else a stable guess.

    >>> _pick_enum(["positive", "negative"], "Labels: positive, negative. Review: so negative")
    ('negative', True)
    """
    lower = text.lower()
    scored = []
    for option in options:
        hits = [m.start() for m in re.finditer(rf"\b{re.escape(str(option).lower())}\b", lower)]
        if hits:
            scored.append((len(hits), hits[-1], option))
    if scored:
        return max(scored, key=lambda s: (s[0], s[1]))[2], True
    return options[_stable(text) % len(options)], False


def fill_schema(schema: dict, text: str, root: dict | None = None, name: str = "") -> Any:
    """A deterministic value valid against a strict JSON schema, inspired by ``text``.

    >>> fill_schema({"type": "object", "properties": {"label": {"enum": ["spam", "ham"]},
    ...     "confidence": {"type": "number"}}}, "win money, spam!")["label"]
    'spam'
    """
    root = schema if root is None else root
    schema = _resolve(schema, root)
    seed = _stable(f"{name}|{text}")
    if "enum" in schema:
        return _pick_enum(schema["enum"], text)[0]
    if "anyOf" in schema:
        branches = [_resolve(b, root) for b in schema["anyOf"]]
        real = [b for b in branches if b.get("type") != "null"] or branches
        return fill_schema(real[0], text, root, name)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if kind == "object":
        props = schema.get("properties", {})
        return {key: fill_schema(sub, text, root, key) for key, sub in props.items()}
    if kind in ("number", "integer"):
        return _fill_number(schema, kind, name, seed)
    if kind == "boolean":
        return seed % 2 == 0
    if schema.get("format") == "date":
        return "2024-01-15"
    snippet = " ".join(text.split()[:12])
    value = f"{name or 'value'} based on: {snippet}" if snippet else (name or "value")
    return value[: schema.get("maxLength", len(value))].ljust(schema.get("minLength", 0), ".")


def _fill_number(schema: dict, kind: str, name: str, seed: int) -> float | int:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if "confidence" in name.lower():
        low, high = max(low if low is not None else 0, 0), min(high if high is not None else 1, 1)
    low = 0 if low is None else low
    high = low + 100 if high is None else high
    if kind == "integer":
        lo, hi = (
            math.floor(low) + ("exclusiveMinimum" in schema),
            math.ceil(high) - ("exclusiveMaximum" in schema),
        )
        return lo + seed % max(hi - lo + 1, 1) if hi >= lo else lo
    fraction = 0.7 + (seed % 29) / 100  # 0.70 .. 0.98, never on an exclusive bound
    return round(low + (high - low) * fraction, 2)


def default_answer(body: dict) -> dict | str:
    """The answer unless a server's ``answer`` is replaced: schema-filled JSON or plain text.

    The schema is the request's ``json_schema``, a ``json_object`` request's ``schema``
    (llama.cpp's extension), or one given on a line of the system message.
    """
    texts = user_texts(body)
    last = texts[-1] if texts else ""
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return fill_schema(fmt.get("json_schema", {}).get("schema", {}), last)
    schema = fmt.get("schema") if fmt.get("type") == "json_object" else None
    schema = schema if isinstance(schema, dict) else _prompt_schema(body)
    if schema is not None:
        return fill_schema(schema, last)
    if fmt.get("type") == "json_object":
        return {"answer": " ".join(last.split()[:12])}
    return f"This is a test answer to: {' '.join(last.split()[:20])}"


def spread_reasoning(answer: dict, text: str, spread: float) -> dict:
    """``answer`` with its ``reasoning`` as long as a real model's might be: its words times a
    log-normal factor of sigma ``spread``, fixed by ``text`` (the same row, the same length).

    Real answers vary in length far more than filled ones: at ``spread=0.5`` one in a hundred
    is over three times the median, as rambling answers are.

    >>> answer = {"reasoning": "one two three four", "label": "x"}
    >>> [len(spread_reasoning(answer, f"row {i}", 0.5)["reasoning"].split()) for i in range(6)]
    [5, 9, 8, 3, 4, 2]
    """
    reasoning = answer.get("reasoning")
    if not isinstance(reasoning, str) or not reasoning.split() or spread <= 0:
        return answer
    words = reasoning.split()
    factor = math.exp(random.Random(_stable(f"length|{text}")).gauss(0.0, spread))
    count = max(1, round(len(words) * factor))
    return {**answer, "reasoning": " ".join((words * (count // len(words) + 1))[:count])}


def _prompt_schema(body: dict) -> dict | None:
    """A JSON schema given on a line of the system message, as a model would read it."""
    for message in body.get("messages", []):
        if message.get("role") != "system":
            continue
        for match in _SCHEMA_IN_PROMPT.finditer(text_of(message)):
            schema = json.loads(match.group(1))
            if isinstance(schema, dict):
                return schema
    return None


def enum_fields(schema: dict, value: Any, root: dict) -> list[tuple[Any, list]]:
    """The (chosen value, options) of every enum field in ``value``, in document order."""
    schema = _resolve(schema, root)
    if "enum" in schema:
        return [(value, schema["enum"])] if value in schema["enum"] else []
    for branch in schema.get("anyOf", []):
        found = enum_fields(branch, value, root)
        if found:
            return found
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return [f for k, v in value.items() if k in props for f in enum_fields(props[k], v, root)]
    return []


def _entry(token: str, logprob: float, top: list[tuple[str, float]]) -> dict:
    top_entries = [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in top]
    return {
        "token": token,
        "logprob": logprob,
        "bytes": list(token.encode()),
        "top_logprobs": top_entries,
    }


def _filler_alternatives(token: str, k: int) -> list[tuple[str, float]]:
    others = [t for t in ('"', " ", "\n", ",", "the", ":", "}") if t != token]
    return [(token, -0.0001)] + [(t, -8.0 - i) for i, t in enumerate(others[: max(k - 1, 0)])]


def build_logprobs(content: str, enums: list[tuple[Any, list]], text: str, k: int) -> list[dict]:
    """Token entries covering ``content``; an enum value's first token carries the label's odds."""
    spans: list[tuple[int, int, Any, list]] = []
    cursor = 0
    for value, options in enums:
        needle = json.dumps(value)
        at = content.find(needle, cursor)
        if isinstance(value, str) and at >= 0:
            spans.append((at + 1, at + len(needle) - 1, value, options))
            cursor = at + len(needle)
    entries: list[dict] = []
    start = 0
    for begin, end, value, options in spans + [(len(content), len(content), None, [])]:
        for token in _TOKEN_RE.findall(content[start:begin]):
            entries.append(_entry(token, -0.0001, _filler_alternatives(token, k)))
        if value is not None:
            entries.extend(_label_entries(content[begin:end], value, options, text, k))
        start = end
    return entries


def _label_entries(label: str, value: Any, options: list, text: str, k: int) -> list[dict]:
    tokens = _TOKEN_RE.findall(label) or [label]
    p = FOUND_P if text and _pick_enum(options, text)[1] else GUESSED_P
    firsts = []
    for option in (str(o) for o in options if o != value):
        first = (_TOKEN_RE.findall(option) or [option])[0]
        if first != tokens[0] and first not in firsts:
            firsts.append(first)
    shares = [(1 - p) * 0.5 ** (i + 1) for i in range(len(firsts))]
    top = [(tokens[0], math.log(p))] + [
        (t, math.log(s)) for t, s in zip(firsts, shares, strict=True)
    ]
    top += _filler_alternatives(tokens[0], k)[1:]
    entries = [_entry(tokens[0], math.log(p), top[:k])]
    entries += [_entry(t, -0.0001, _filler_alternatives(t, k)) for t in tokens[1:]]
    return entries
