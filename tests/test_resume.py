"""Nothing is lost: a kill or Ctrl-C mid-run keeps every finished row, and a rerun does the rest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from .conftest import (
    PATIENCE_S,
    make_workbook,
    saved_answers,
    sentiment_step,
    wait_for_saved_answers,
)

# Each test runs the CLI twice on the embedded model; a loaded machine may take minutes, and no
# step here waits on the clock (the kill comes when rows are in the file), so only a hang stops it.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROWS = 120  # several chunks: the run is still going when its first chunk is in the file
WORDS = [
    "late",
    "broken",
    "lovely",
    "refund",
    "courier",
    "app",
    "price",
    "friendly",
    "slow",
    "gift",
]


def big_workbook(path: Path) -> Path:
    data = [["ID", "Review"]]
    for i in range(ROWS):
        a, b = WORDS[i % 10], WORDS[(i // 10) % 10]
        data.append([i + 1, f"Order {i}: the {a} {b} experience, number {i * 7}."])
    return make_workbook(path, data, [sentiment_step(Examples="")])


def start(path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sheetai", "run", str(path), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture
def env(sheetai_home: Path) -> dict[str, str]:
    return {**os.environ, "SHEETAI_CHUNK_ROWS": "20", "SHEETAI_CHUNK_SECONDS": "0.3"}


def test_kill_mid_run_keeps_saved_rows_and_the_rerun_pays_only_for_the_rest(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = big_workbook(tmp_path / "big.xlsx")
    proc = start(path, env)
    wait_for_saved_answers(path, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()

    done = saved_answers(path)  # the file opens: saves are atomic
    assert 0 < done < ROWS

    rerun = subprocess.run(
        [sys.executable, "-m", "sheetai", "run", str(path), "--json"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    summary = json.loads(rerun.stdout)
    assert summary["skipped_unchanged"] == done
    assert summary["processed"] == ROWS - done
    assert summary["steps"][0]["model_calls"] == ROWS - done
    assert saved_answers(path) == ROWS


def test_ctrl_c_saves_every_finished_row_and_exits_130(tmp_path: Path, env: dict[str, str]) -> None:
    path = big_workbook(tmp_path / "big.xlsx")
    proc = start(path, env)
    wait_for_saved_answers(path, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=PATIENCE_S)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "run the same command again" in err
    summary = json.loads(out)
    assert summary["status"] == "interrupted"
    assert saved_answers(path) == summary["processed"] < ROWS
    book = openpyxl.load_workbook(path)
    log = list(book["sheetai log"].iter_rows(values_only=True))
    status = log[0].index("Status")
    assert "interrupted" in [r[status] for r in log[1:]]
