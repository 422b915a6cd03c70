"""Label parsing against the table of cases shared with the Excel add-in and the Apps Script."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sheetai.config import distinct_labels, parse_labels
from sheetai.excel_udf import parse_labels_arg

CASES = json.loads((Path(__file__).parent / "data" / "label_cases.json").read_text("utf-8"))[
    "cases"
]


def pairs(labels: list[Any]) -> list[list[str]]:
    return [[label.name, label.description] for label in labels]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_labels_follow_the_shared_table(case: dict[str, Any]) -> None:
    labels = parse_labels(case["input"])
    assert pairs(labels) == case["labels"]
    assert pairs(distinct_labels(labels)) == case.get("distinct", case["labels"])


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_the_excel_function_asks_for_the_distinct_labels(case: dict[str, Any]) -> None:
    wanted = [f"{n}: {d}" if d else n for n, d in case.get("distinct", case["labels"])]
    assert parse_labels_arg(case["input"]) == wanted


def test_every_case_has_a_name_and_the_names_are_unique() -> None:
    names = [case["name"] for case in CASES]
    assert len(set(names)) == len(names)
