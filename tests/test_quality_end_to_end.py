"""Quality control with the embedded model: held-out accuracy, and the sample end to end."""

from __future__ import annotations

import csv
import json
import random
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from sheetai.backends.memory import MemoryBackend
from sheetai.cli import app
from sheetai.engine.learning import REVIEW_TAB
from sheetai.engine.workbook import load_workbook
from sheetai.providers.local import cross_validated_predictions, predict_labels
from sheetai.quality.data import step_data
from sheetai.quality.report import build_report
from sheetai.settings import Settings
from sheetai.steps import Example, Label, Step, Task

from .conftest import CONFIG_HEADER

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
SUBJECTS = ["the soup", "my laptop", "the train", "our garden", "the concert", "a blue kettle",
            "the library", "his bicycle", "the meeting", "her painting"]  # fmt: skip
VERBS = ["was moved on", "got mentioned", "appeared", "was listed", "came up"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday"]


def _coded_step() -> Step:
    return Step(
        name="code", sheet="Data", inputs=["Text"], task=Task.CLASSIFY, output="Code",
        labels=[Label(name="Zork"), Label(name="Blip")], model="local",
    )  # fmt: skip


@pytest.mark.slow
def test_cross_validation_never_scores_a_row_the_model_learnt_from() -> None:
    # Leave-one-out makes the folds known: each row's answer must be exactly the answer of a
    # model trained on every other row, and differ from one trained on all rows somewhere.
    rng = random.Random(5)
    texts = [f"{s} {v} on {d}" for s in SUBJECTS[:4] for v in VERBS[:3] for d in DAYS[:1]]
    labelled = [Example(text=t, label=rng.choice(["Zork", "Blip"])) for t in texts]
    step = _coded_step()
    held_out = cross_validated_predictions(step, labelled, folds=len(labelled))
    for i, text in enumerate(texts):
        others = labelled[:i] + labelled[i + 1 :]
        assert held_out[i] == predict_labels(step, [text], others)[0]
    seen = predict_labels(step, texts, labelled)
    assert seen != held_out
    resubstitution = sum(a == e.label for (a, _), e in zip(seen, labelled, strict=True))
    honest = sum(a == e.label for (a, _), e in zip(held_out, labelled, strict=True))
    assert resubstitution > honest  # random labels: only memory helps, and held out has none
    assert held_out == cross_validated_predictions(step, labelled, folds=len(labelled))


def test_qc_measures_a_learning_model_held_out_and_shows_before_and_after() -> None:
    rng = random.Random(9)
    texts = [f"{s} {v} on {d}" for s in SUBJECTS for v in VERBS for d in DAYS][:50]
    truth = [rng.choice(["Zork", "Blip"]) for _ in texts]
    config = [
        CONFIG_HEADER,
        ["code", "Data", "Text", "classify", "", "Zork, Blip", "Code", "local", 0.5, ""],
    ]
    header = ["Text", "Code", "Code reasoning", "Code confidence", "Code flag", "Code (gold)"]
    # Answers on the sheet that copy the gold labels: what a model trained on them would show.
    rows = [[t, y, "", 0.99, None, y] for t, y in zip(texts, truth, strict=True)]
    backend = MemoryBackend({"Data": [header, *rows], "sheetai": config})
    book = load_workbook(backend, Settings())
    data = step_data(book.steps[0], book.grids)
    naive = build_report(data)
    assert naive.accuracy == 1.0  # scored on the rows it learnt from: meaningless
    honest = build_report(
        data,
        held_out=(
            lambda step, labelled: cross_validated_predictions(step, labelled),
            lambda step, texts: predict_labels(step, texts),
        ),
    )
    # Issue 14: the sheet holds the right label on every (reviewed) row, so its accuracy is 1;
    # what a model that learnt from these rows would score is the projection, held out.
    assert honest.accuracy == 1.0
    assert honest.projected_accuracy is not None and honest.projected_accuracy <= 0.7
    assert honest.accuracy_before is not None
    assert honest.accuracy_after == honest.projected_accuracy


def _fill_review(path: Path) -> int:
    with open(ROOT / "samples" / "feedback_labels.csv", newline="", encoding="utf-8") as f:
        truth = {r["ID"]: r for r in csv.DictReader(f)}
    book = openpyxl.load_workbook(path)
    data, review = book["Feedback"], book[REVIEW_TAB]
    filled = 0
    for row in range(2, review.max_row + 1):
        step, sheet_row = review.cell(row, 1).value, review.cell(row, 2).value
        record = truth[data.cell(sheet_row, 1).value]
        review.cell(row, 6).value = record["Sentiment" if step == "sentiment" else "Topic"]
        filled += 1
    book.save(path)
    return filled


@pytest.mark.slow
def test_the_sample_workbook_end_to_end(tmp_path: Path) -> None:
    path = tmp_path / "feedback.xlsx"
    shutil.copy(ROOT / "samples" / "feedback.xlsx", path)
    assert runner.invoke(app, ["run", str(path), "--json"]).exit_code == 0
    result = runner.invoke(app, ["review", str(path), "--fraction", "0.1", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert _fill_review(path) == 40
    result = runner.invoke(app, ["qc", str(path), "--json"])
    assert result.exit_code == 0, result.output
    steps = {s["step"]: s for s in json.loads(result.stdout)["steps"]}
    assert set(steps) == {"sentiment", "topic"}
    for step in steps.values():
        assert step["reviewed"] == 20 and step["answered"] == 198
        # Issue 14: the zero-shot answers on the sheet, measured as they are.
        assert step["method"].startswith("the answers on the sheet, given by the embedded")
        low, high = step["accuracy_ci"]
        assert 0.2 <= low <= step["accuracy"] <= high <= 1.0 and step["accuracy"] >= 0.6
        assert step["accuracy_before"] is not None
        assert step["accuracy_after"] == step["projected_accuracy"]
        assert sum(sum(r.values()) for r in step["confusion"].values()) == 20
        assert sum(b["reviewed"] for b in step["bands"]) == 20
        assert sum(step["label_counts"].values()) == 198
    book = openpyxl.load_workbook(path)
    assert len(book["sheetai qc"]._charts) == 4

    result = runner.invoke(app, ["summary", str(path), "--json"])
    assert result.exit_code == 0, result.output
    overview = {s["step"]: s for s in json.loads(result.stdout)["steps"]}
    assert sum(overview["sentiment"]["label_counts"].values()) == 198
    assert overview["sentiment"]["last_run_rows"] == 198
    assert overview["sentiment"]["last_run_cost_per_row_usd"] == 0.0
    assert overview["sentiment"]["flags"].get("LOW_CONFIDENCE", 0) > 0
    with zipfile.ZipFile(path) as archive:
        assert sum(n.startswith("xl/charts/chart") for n in archive.namelist()) == 6
    tab = openpyxl.load_workbook(path)["sheetai summary"]
    assert tab["A1"].value == "Step" and tab["B1"].value == "sentiment"
