"""`sheetai review` and `sheetai qc` on real .xlsx files and on the memory backend."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from sheetai.backends import open_backend
from sheetai.backends.memory import MemoryBackend
from sheetai.cli import app
from sheetai.engine.learning import REVIEW_TAB
from sheetai.engine.relearn import REVIEWED
from sheetai.engine.workbook import load_workbook
from sheetai.quality import reviewed_examples, reviewed_labels
from sheetai.quality.data import step_data
from sheetai.quality.metrics import effective_size, wilson_interval
from sheetai.quality.review_tab import write_review
from sheetai.settings import Settings

from .conftest import CONFIG_HEADER, make_workbook, sentiment_step

runner = CliRunner()
HEADER = [
    "ID",
    "Review",
    "Sentiment",
    "Sentiment reasoning",
    "Sentiment confidence",
    "Sentiment flag",
]


def _answered_rows() -> list[list[Any]]:
    """20 answered rows: rows 2-11 answered Positive (0.9), rows 12-21 Negative (0.8)."""
    rows = []
    for i in range(20):
        answer, confidence = ("Positive", 0.9) if i < 10 else ("Negative", 0.8)
        rows.append([i + 1, f"review number {i + 1}", answer, "why", confidence, None])
    return rows


def _book(
    tmp_path: Path, review: list[list[Any]] | None = None, gold: dict[int, str] | None = None
) -> Path:
    header = HEADER + (["Sentiment (gold)"] if gold else [])
    rows = [r + ([gold.get(r[0])] if gold else []) for r in _answered_rows()]
    # An LLM step: qc scores the answers on the sheet (no model learns from the reviews).
    path = make_workbook(
        tmp_path / "answered.xlsx", [header, *rows], [sentiment_step(Model="gpt-4.1-mini")]
    )
    if review is not None:
        book = openpyxl.load_workbook(path)
        tab = book.create_sheet(REVIEW_TAB)
        tab.append(["Step", "Row", "Input", "Answer", "Confidence", "Correct label", "Stratum"])
        for row in review:
            tab.append(row)
        book.save(path)
    return path


def _review_row(sheet_row: int, label: str) -> list[Any]:
    answer = "Positive" if sheet_row <= 11 else "Negative"
    text = f"review number {sheet_row - 1}"
    return ["sentiment", sheet_row, text, answer, 0.9, label, f"label {answer}"]


# Reviewed: 4 rows answered Positive (3 right), 2 answered Negative (both right).
FILLED = [
    _review_row(2, "Positive"),
    _review_row(4, "Positive"),
    _review_row(7, "Negative"),
    _review_row(9, "positive"),  # labels match case-insensitively
    _review_row(13, "Negative"),
    _review_row(20, "Negative"),
]


def _expected_checks(step: dict[str, Any]) -> None:
    # Worked by hand: each Positive-answered reviewed row stands for 10/4 = 2.5 sheet rows,
    # each Negative one for 10/2 = 5; weighted accuracy (3*2.5 + 2*5) / 20 = 0.875.
    assert step["reviewed"] == 6
    assert step["accuracy"] == pytest.approx(0.875)
    assert step["sample_accuracy"] == pytest.approx(5 / 6, abs=1e-4)
    # The interval (issue 14): the 6 reviewed rows are known (5 right); the other 14 rows are
    # estimated from them, each reviewed row standing for w - 1 of them (1.5 or 4): a Wilson
    # interval on Kish's effective size of those weights, scaled to the 14/20 they are.
    rest = [1.5] * 4 + [4.0] * 2
    low, high = wilson_interval(12.5 / 14, effective_size(rest))
    expected = [5 / 20 + 14 / 20 * low, 5 / 20 + 14 / 20 * high]
    assert step["accuracy_ci"] == pytest.approx(expected, abs=1e-4)
    assert step["weighting"] == "post-stratified"  # no Stratum rows column: rebuilt strata
    assert step["accuracy_ci"][0] < 0.875 < step["accuracy_ci"][1]
    assert step["kappa"] == pytest.approx(0.75)
    # precision Positive 7.5/10, recall 1; Negative precision 1, recall 10/12.5
    assert step["per_label"]["Positive"]["precision"] == pytest.approx(0.75)
    assert step["per_label"]["Negative"]["recall"] == pytest.approx(0.8)
    assert step["macro_f1"] == pytest.approx((2 * 0.75 / 1.75 + 2 * 0.8 / 1.8) / 2, abs=1e-4)
    assert step["confusion"]["Positive"] == {"Positive": 3, "Neutral": 0, "Negative": 0}
    assert step["confusion"]["Negative"] == {"Positive": 1, "Neutral": 0, "Negative": 2}
    assert step["label_counts"] == {"Positive": 10, "Neutral": 0, "Negative": 10}
    assert "accuracy_before" in step and step["accuracy_before"] is None


def test_a_filled_review_tab_gives_the_expected_report(tmp_path: Path) -> None:
    path = _book(tmp_path, FILLED)
    result = runner.invoke(app, ["qc", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["steps"][0]) >= {
        "step", "reviewed", "accuracy", "accuracy_ci", "macro_f1", "kappa", "per_label",
        "confusion", "suggested_min_confidence",
    }  # fmt: skip
    _expected_checks(report["steps"][0])


def test_a_gold_column_gives_the_same_report(tmp_path: Path) -> None:
    gold = {
        1: "Positive",
        3: "Positive",
        6: "Negative",
        8: "Positive",
        12: "Negative",
        19: "Negative",
    }
    path = _book(tmp_path, gold=gold)
    result = runner.invoke(app, ["qc", str(path), "--json", "--no-write"])
    assert result.exit_code == 0, result.output
    _expected_checks(json.loads(result.stdout)["steps"][0])
    assert "sheetai qc" not in openpyxl.load_workbook(path).sheetnames


def test_a_mistyped_label_is_skipped_with_a_warning_naming_the_cell(tmp_path: Path) -> None:
    path = _book(tmp_path, [*FILLED, _review_row(15, "Postive")])
    result = runner.invoke(app, ["qc", str(path), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["steps"][0]["reviewed"] == 6
    assert "'sheetai review'!F8: 'Postive' is not a label" in result.stderr
    assert "did you mean 'Positive'?" in result.stderr


def test_qc_tab_has_its_charts_in_the_saved_file_and_a_rerun_replaces_them(tmp_path: Path) -> None:
    path = _book(tmp_path, FILLED)
    for _ in range(2):
        result = runner.invoke(app, ["qc", str(path)])
        assert result.exit_code == 0, result.output
        assert "Accuracy of the answers on the sheet now" in result.stdout
        assert "87.5%" in result.stdout
        assert "accuracy 0.88 [" in result.stdout and "of the 20 answers on 'Feedback' now" in (
            result.stdout
        )
    book = openpyxl.load_workbook(path)
    tab = book["sheetai qc"]
    assert tab["A1"].value == "Step" and tab["B1"].value == "sentiment"
    assert tab["A3"].value == "Accuracy of answers now" and tab["B3"].value == pytest.approx(0.875)
    assert tab["F2"].value.startswith("accuracy 0.88 [")
    assert len(tab._charts) == 2
    with zipfile.ZipFile(path) as archive:
        charts = [n for n in archive.namelist() if n.startswith("xl/charts/chart")]
        xml = "".join(archive.read(n).decode() for n in charts)
    assert len(charts) == 2
    assert "accuracy by confidence band" in xml and "answers per label" in xml
    assert "'sheetai qc'!" in xml  # the series point at the tab's cells


def test_review_writes_a_sample_with_dropdown_and_links_that_round_trips(tmp_path: Path) -> None:
    path = _book(tmp_path)
    result = runner.invoke(app, ["review", str(path), "--fraction", "0.25", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "Seed 5" in result.stderr
    book = openpyxl.load_workbook(path)
    tab = book[REVIEW_TAB]
    rows = [list(r) for r in tab.iter_rows(values_only=True)]
    assert rows[0][:7] == ["Step", "Row", "Input", "Answer", "Confidence", "Correct label",
                           "Stratum"]  # fmt: skip
    assert rows[0][7:] == ["Stratum rows", "Step version"]  # added by issue 14
    assert len(rows) == 11  # 10 rows: at least --min-rows
    data = {r[0] + 1: r for r in _answered_rows()}
    sizes = {}
    for step, row, text, answer, confidence, label, stratum, size, version in rows[1:]:
        assert step == "sentiment" and label is None and version
        assert text == data[row][1] and answer == data[row][2] and confidence == data[row][4]
        assert stratum in ("lowest confidence", f"label {answer}")
        sizes[stratum] = size
    # 2 lowest-confidence rows drawn out of 2; the other 18 rows split by answer
    assert sizes == {"lowest confidence": 2, "label Positive": 10, "label Negative": 8}
    assert tab["B2"].hyperlink.location == f"Feedback!A{rows[1][1]}"
    (validation,) = tab.data_validations.dataValidation
    assert str(validation.sqref) == "F2:F11"
    assert validation.formula1 == '"Positive,Neutral,Negative"'
    # the same seed draws the same rows
    book.close()
    first = [r[1] for r in rows[1:]]
    result = runner.invoke(app, ["review", str(path), "--fraction", "0.25", "--seed", "5"])
    assert result.exit_code == 0
    rows = [list(r) for r in openpyxl.load_workbook(path)[REVIEW_TAB].iter_rows(values_only=True)]
    assert [r[1] for r in rows[1:]] == first


def test_review_keeps_a_persons_labels_unless_told_to_replace(tmp_path: Path) -> None:
    path = _book(tmp_path, FILLED)
    result = runner.invoke(app, ["review", str(path), "--seed", "1"])
    assert result.exit_code == 2
    assert "already has 6 reviewed rows" in result.stderr and "--replace" in result.stderr
    assert len(list(openpyxl.load_workbook(path)[REVIEW_TAB].iter_rows())) == 7
    result = runner.invoke(app, ["review", str(path), "--seed", "1", "--replace"])
    assert result.exit_code == 0, result.output
    rows = [list(r) for r in openpyxl.load_workbook(path)[REVIEW_TAB].iter_rows(values_only=True)]
    assert len(rows) == 11 and all(r[5] is None for r in rows[1:])


def test_review_on_the_memory_backend_and_reviewed_labels_feed_back(tmp_path: Path) -> None:
    config = [CONFIG_HEADER, sentiment_step(Model="gpt-4.1-mini")]
    backend = MemoryBackend({"Feedback": [HEADER, *_answered_rows()], "sheetai": config})
    settings = Settings()
    book = load_workbook(backend, settings)
    (outcome,) = write_review(backend, book, book.steps, fraction=0.5, seed=3)
    assert outcome.drawn == 10 and outcome.dropdown and outcome.links
    tab = backend.sheets[REVIEW_TAB]
    assert backend.dropdowns == [(REVIEW_TAB, 2, 6, 11, ["Positive", "Neutral", "Negative"])]
    assert {(link[1], link[3], link[4]) for link in backend.links} == {
        (r, "Feedback", tab[r - 1][1]) for r in range(2, 12)
    }
    for row in tab[1:4]:
        row[5] = "Negative"
    book = load_workbook(backend, settings)
    step = book.steps[0]
    labels = reviewed_labels(book.grids, step)
    assert labels == {row[2]: "Negative" for row in tab[1:4]}
    examples = reviewed_examples(book.grids, step)
    assert {(e.text, e.label) for e in examples} == set(labels.items())
    data = step_data(step, book.grids)
    assert [r.gold for r in data.reviewed] == ["Negative"] * 3


def test_a_reviewed_row_is_found_again_after_the_sheet_is_sorted(tmp_path: Path) -> None:
    rows = _answered_rows()
    config = [CONFIG_HEADER, sentiment_step(Model="gpt-4.1-mini")]
    review = [["Step", "Row", "Input", "Answer", "Confidence", "Correct label", "Stratum"],
              _review_row(2, "Neutral")]  # fmt: skip
    backend = MemoryBackend(
        {"Feedback": [HEADER, *reversed(rows)], "sheetai": config, REVIEW_TAB: review}
    )
    book = load_workbook(backend, Settings())
    data = step_data(book.steps[0], book.grids)
    (reviewed,) = data.reviewed
    assert reviewed.row == 21 and reviewed.text == "review number 1" and reviewed.gold == "Neutral"


def test_qc_without_reviews_says_what_to_do(tmp_path: Path) -> None:
    path = _book(tmp_path)
    result = runner.invoke(app, ["qc", str(path)])
    assert result.exit_code == 0
    assert "no reviewed rows" in result.stderr and "sheetai review" in result.stderr
    assert "sheetai qc" not in openpyxl.load_workbook(path).sheetnames


def test_qc_on_an_unknown_step_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["qc", str(_book(tmp_path)), "--step", "sentimnt"])
    assert result.exit_code == 2
    assert "did you mean 'sentiment'?" in result.stderr


def test_bad_review_rows_are_named_and_neither_measured_nor_learnt_from(tmp_path: Path) -> None:
    bad = [
        _review_row(2, "Positive"),
        _review_row(4, "Positive"),
        _review_row(4, "Positive"),  # the same row twice, same label: counted once
        _review_row(7, "Negative"),
        _review_row(7, "Positive"),  # the same row twice, different labels: neither used
        _review_row(13, "Negatve"),  # not a label
        _review_row(20, ""),  # no label yet
        ["sentiment", 99, "a row that was deleted", "Positive", 0.9, "Positive", "label Positive"],
        [*_review_row(21, "Negative"), None, "0123456789"],  # drawn for another version
    ]
    path = _book(tmp_path, bad)
    book = openpyxl.load_workbook(path)
    book[REVIEW_TAB]["H1"], book[REVIEW_TAB]["I1"] = "Stratum rows", "Step version"
    book.save(path)
    result = runner.invoke(app, ["qc", str(path), "--json", "--no-write"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["steps"][0]["reviewed"] == 2
    err = " ".join(result.stderr.split())
    assert "'sheetai review'!F4: row 4 of 'Feedback' is reviewed twice" in err
    assert "'sheetai review'!F6: row 7 of 'Feedback' is reviewed twice with different" in err
    assert "'sheetai review'!F7: 'Negatve' is not a label of step 'sentiment'" in err
    assert "'sheetai review'!B9: row 99 of 'Feedback' no longer holds this input" in err
    assert "'sheetai review'!I10: drawn for another version of step 'sentiment'" in err
    assert "'sheetai review'!F8: 1 rows of step 'sentiment' have no correct label yet" in err
    with open_backend(str(path), Settings()) as backend:
        book = load_workbook(backend, Settings())
        assert reviewed_labels(book.grids, book.steps[0]) == {
            "review number 1": "Positive",
            "review number 3": "Positive",
        }
    # nothing lost: the tab still holds every row as typed
    assert len(list(openpyxl.load_workbook(path)[REVIEW_TAB].iter_rows())) == len(bad) + 1


def test_a_row_showing_the_reviewers_label_is_measured_by_what_the_model_answered() -> None:
    # The next sync writes the reviewer's label onto a reviewed row; qc and compare must still
    # judge the model by its own answer there (the review tab's Answer), or every reviewed row
    # would look right and the unreviewed rows' accuracy would be overstated.
    rows = _answered_rows()
    rows[0][2:4] = ["Negative", REVIEWED]  # row 2: model said Positive, reviewer Negative
    config = [CONFIG_HEADER, sentiment_step(Model="gpt-4.1-mini")]
    review = [["Step", "Row", "Input", "Answer", "Confidence", "Correct label", "Stratum"],
              _review_row(2, "Negative"), _review_row(3, "Positive")]  # fmt: skip
    backend = MemoryBackend({"Feedback": [HEADER, *rows], "sheetai": config, REVIEW_TAB: review})
    book = load_workbook(backend, Settings())
    data = step_data(book.steps[0], book.grids)
    assert [(r.row, r.answer, r.gold) for r in data.reviewed] == [
        (2, "Positive", "Negative"),
        (3, "Positive", "Positive"),
    ]
