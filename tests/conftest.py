"""Shared fixtures: every test gets its own SHEETAI_HOME and builds real .xlsx files."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest

# A shell that starts a job in the background starts it with SIGINT ignored, and children inherit
# that: the Ctrl-C tests would then test nothing. Tests run as from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# How long a child run may take to save its first answered rows: no machine is that slow, so a
# test that waits on the file never fails for want of time, only when nothing is saved at all.
PATIENCE_S = 300

CONFIG_HEADER = [
    "Step", "Sheet", "Input", "Task", "Instructions", "Labels", "Output", "Model",
    "Min confidence", "Examples",
]  # fmt: skip

SENTIMENT_LABELS = (
    "Positive: happy, thankful or recommends us\n"
    "Neutral: a question or a plain fact\n"
    "Negative: complains, angry or disappointed"
)

REVIEWS = [
    "Absolutely love it, fast delivery and great quality. Thank you!",
    "The parcel arrived broken and nobody answers my emails. Terrible.",
    "What time does the shop open on Sunday?",
    "Worst purchase ever, I want a refund now.",
    "Great support team, they solved my problem in minutes.",
    "The package was delivered on Tuesday.",
    "Really disappointed, the shoes fell apart after a week.",
    "Thanks a lot, very happy with my order!",
]


@pytest.fixture(autouse=True)
def sheetai_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("sheetai_home")
    monkeypatch.setenv("SHEETAI_HOME", str(home))
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_API_VERSION",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_ENDPOINT",
        "SHEETAI_CHUNK_ROWS",
        "SHEETAI_CHUNK_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    return home


def sentiment_step(**overrides: Any) -> list[Any]:
    row = {
        "Step": "sentiment", "Sheet": "Feedback", "Input": "Review", "Task": "classify",
        "Instructions": "Classify the customer's sentiment.", "Labels": SENTIMENT_LABELS,
        "Output": "Sentiment", "Model": "local", "Min confidence": 0.5,
        "Examples": "great service => Positive\nit broke on day one => Negative",
    }  # fmt: skip
    row.update(overrides)
    return [row[h] for h in CONFIG_HEADER]


def make_workbook(
    path: Path,
    data: Sequence[Sequence[Any]],
    config: Sequence[Sequence[Any]] | None = None,
    sheet: str = "Feedback",
) -> Path:
    """Write a real workbook: ``data`` (header first) on ``sheet`` and a config tab."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    for row in data:
        ws.append(list(row))
    if config is not None:
        tab = book.create_sheet("sheetai")
        tab.append(CONFIG_HEADER)
        for row in config:
            tab.append(list(row))
    book.save(path)
    return path


def read_sheet(path: Path, sheet: str = "Feedback") -> list[list[Any]]:
    book = openpyxl.load_workbook(path)
    rows = [list(r) for r in book[sheet].iter_rows(values_only=True)]
    book.close()
    return rows


def column(rows: list[list[Any]], header: str) -> list[Any]:
    index = rows[0].index(header)
    return [r[index] if index < len(r) else None for r in rows[1:]]


@pytest.fixture
def feedback_book(tmp_path: Path) -> Path:
    data = [["ID", "Review"], *[[i + 1, text] for i, text in enumerate(REVIEWS)]]
    return make_workbook(tmp_path / "feedback.xlsx", data, [sentiment_step()])


def saved_answers(path: Path, header: str = "Sentiment", sheet: str = "Feedback") -> int:
    """How many rows of the saved file have an answer in ``header``."""
    return sum(v is not None for v in column(read_sheet(path, sheet), header))


def wait_for_saved_answers(
    path: Path, proc: subprocess.Popen[str], header: str = "Sentiment"
) -> int:
    """Wait until the run in ``proc`` has saved answered rows in ``path``; return their count.

    Polls the file, not the clock: a kill or Ctrl-C sent next lands on a run that has saved some
    rows, however slow the machine. Saves are atomic (``os.replace``), so every read opens.
    """
    seen = _stamp(path)
    deadline = time.monotonic() + PATIENCE_S
    while True:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "the run ended early"
        assert time.monotonic() < deadline, f"no answered row was saved within {PATIENCE_S} s"
        stamp = _stamp(path)
        if stamp != seen:
            seen = stamp
            done = saved_answers(path, header)
            if done:
                return done
        time.sleep(0.02)


def _stamp(path: Path) -> tuple[int, int, int]:
    # A save replaces the file: a new inode even when two saves share a timestamp tick.
    info = path.stat()
    return info.st_ino, info.st_mtime_ns, info.st_size
