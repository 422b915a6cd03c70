"""Time a first sync of N rows with the embedded model, and a no-change re-sync.

Prints rows/s, seconds, and the ratio to the ceiling: how fast the model alone embeds the same
texts (the sync cannot beat it). Usage: python benchmarks/sync_10k.py [--rows 10000]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import openpyxl

from sheetai import Settings, SyncOptions, sync
from sheetai.backends.xlsx import XlsxBackend
from sheetai.providers.local import Embedder

SUBJECTS = [
    "The courier",
    "Your app",
    "The refund",
    "Customer service",
    "The blender",
    "Delivery",
    "My order",
    "The website",
]
VERBS = ["was", "is", "seems", "felt", "has been", "became"]
ADJECTIVES = [
    "late",
    "brilliant",
    "broken",
    "confusing",
    "fast",
    "rude",
    "helpful",
    "fine",
    "slow",
    "perfect",
]
TAILS = [
    "again.",
    "this time.",
    "as usual!",
    "honestly.",
    "- thanks.",
    "and I want my money back.",
    "?",
    "to be fair.",
]

CONFIG = [
    ["Step", "Sheet", "Input", "Task", "Instructions", "Labels", "Output", "Model", "Min confidence", "Examples"],
    ["sentiment", "Feedback", "Review", "classify", "Classify the sentiment.",
     "Positive: happy or thankful\nNeutral: a question or fact\nNegative: complains", "Sentiment", "local", 0.6,
     "great service => Positive\nit broke => Negative"],
]  # fmt: skip


def make_rows(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(ADJECTIVES)} {rng.choice(TAILS)} (#{i})"
        for i in range(count)
    ]


def build(path: Path, texts: list[str]) -> None:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Feedback")
    sheet.append(["ID", "Review"])
    for i, text in enumerate(texts, start=1):
        sheet.append([i, text])
    config = book.create_sheet("sheetai")
    for row in CONFIG:
        config.append(row)
    book.save(path)


def timed_sync(path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    with XlsxBackend(path) as backend:
        summary = sync(backend, Settings(), SyncOptions())
    return time.perf_counter() - started, summary.total("processed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    texts = make_rows(args.rows)
    folder = Path(tempfile.mkdtemp(prefix="sheetai-bench-"))
    try:
        path = folder / "bench.xlsx"
        build(path, texts)

        embedder = Embedder()
        embedder.embed(texts[:64])  # load the model outside the timing
        started = time.perf_counter()
        for i in range(0, len(texts), 64):
            Embedder().embed(texts[i : i + 64])
        ceiling = len(texts) / (time.perf_counter() - started)

        first_s, processed = timed_sync(path)
        resync_s, reprocessed = timed_sync(path)
        rate = processed / first_s
        print(f"rows                     {args.rows}")
        print(f"model alone (ceiling)    {ceiling:8.1f} rows/s")
        print(
            f"first sync               {first_s:8.2f} s   {rate:8.1f} rows/s   ratio to ceiling {rate / ceiling:.2f}"
        )
        print(
            f"no-change re-sync        {resync_s:8.2f} s   ({reprocessed} rows run)   {resync_s / first_s:.1%} of the first run"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
