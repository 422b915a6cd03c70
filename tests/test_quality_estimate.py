"""`sheetai qc` reports the accuracy of the answers the sheet holds, checked against held-back
labels, and reads a review tab with bad rows without learning from them."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from sheetai.cli import app
from sheetai.engine.learning import REVIEW_TAB

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def _truth() -> dict[str, str]:
    with open(ROOT / "samples" / "feedback_labels.csv", newline="", encoding="utf-8") as f:
        return {r["ID"]: r["Sentiment"] for r in csv.DictReader(f)}


def _sheet(path: Path) -> tuple[list[Any], dict[str, int]]:
    book = openpyxl.load_workbook(path)
    rows = list(book["Feedback"].iter_rows(values_only=True))
    return rows, {str(h): i for i, h in enumerate(rows[0])}


def _true_accuracy(path: Path) -> float:
    truth = _truth()
    rows, col = _sheet(path)
    answered = [r for r in rows[1:] if r[col["Sentiment"]] and r[col["ID"]] in truth]
    right = sum(r[col["Sentiment"]] == truth[r[col["ID"]]] for r in answered)
    return right / len(answered)


def _qc(path: Path) -> dict[str, Any]:
    result = runner.invoke(app, ["qc", str(path), "--step", "sentiment", "--json", "--no-write"])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout)["steps"][0])


@pytest.mark.slow
def test_qc_reports_the_accuracy_of_the_answers_on_the_sheet(tmp_path: Path) -> None:
    path = tmp_path / "feedback.xlsx"
    shutil.copy(ROOT / "samples" / "feedback.xlsx", path)
    assert runner.invoke(app, ["run", str(path), "--step", "sentiment"]).exit_code == 0
    result = runner.invoke(
        app, ["review", str(path), "--step", "sentiment", "--fraction", "0.3", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    truth = _truth()
    book = openpyxl.load_workbook(path)
    data, review = book["Feedback"], book[REVIEW_TAB]
    reviewed = set()
    for row in range(2, review.max_row + 1):
        sheet_row = review.cell(row, 2).value
        review.cell(row, 6).value = truth[data.cell(sheet_row, 1).value]
        reviewed.add(sheet_row)
    book.save(path)

    # Right after the first run: the zero-shot answers, measured as they are.
    first = _qc(path)
    true_first = _true_accuracy(path)
    low, high = first["accuracy_ci"]
    print(f"after the first run: qc {first['accuracy']} [{low}, {high}], true {true_first:.4f}")
    assert first["method"].startswith("the answers on the sheet")
    assert first["weighting"] == "design" and first["reviewed"] == len(reviewed)
    assert abs(first["accuracy"] - true_first) <= 0.08 and low <= true_first <= high
    assert first["projected_accuracy"] is not None and first["projected_by"].startswith(
        "re-answering with what"
    )
    assert first["accuracy_after"] == first["projected_accuracy"]

    # A person corrects the answers of every fourth row (chosen regardless of the review).
    rows, col = _sheet(path)
    book = openpyxl.load_workbook(path)
    sheet = book["Feedback"]
    for number, cells in enumerate(rows[1:], start=2):
        label = truth.get(cells[col["ID"]])
        if label and number % 2 == 0 and cells[col["Sentiment"]] != label:
            sheet.cell(number, col["Sentiment"] + 1).value = label
    book.save(path)
    second = _qc(path)
    true_second = _true_accuracy(path)
    low, high = second["accuracy_ci"]
    print(f"partly corrected: qc {second['accuracy']} [{low}, {high}], true {true_second:.4f}")
    assert true_second > true_first + 0.03
    assert abs(second["accuracy"] - true_second) <= 0.08 and low <= true_second <= high
