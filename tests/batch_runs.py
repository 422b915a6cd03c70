"""A ``sheetai run --batch --wait`` killed while it waits: shared by every vendor's batch tests."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import PATIENCE_S, column, read_sheet


def flags(path: Path) -> list[Any] | None:
    rows = read_sheet(path)
    return column(rows, "Sentiment flag") if "Sentiment flag" in rows[0] else None


def kill_while_waiting(path: Path, rows: int, env: dict[str, str]) -> None:
    """Run ``--batch --wait`` on ``path`` and SIGKILL it once all ``rows`` wait for a batch."""
    argv = [
        sys.executable,
        "-m",
        "sheetai",
        "run",
        str(path),
        "--json",
        "--yes",
        "--batch",
        "--wait",
    ]
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + PATIENCE_S
    while flags(path) != ["BATCH_PENDING"] * rows:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
