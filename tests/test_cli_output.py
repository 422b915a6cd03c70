"""What ``sheetai run`` prints for a person: piped to a log, on a narrow terminal, on a rerun.

The sample workbook is synced by real subprocesses with stdout piped (as cron or CI run it), on
the embedded model; a second run changes nothing and must still say what stands.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from rich.console import Console

from sheetai.cli.report import print_report
from sheetai.engine.runlog import LOG_TAB
from sheetai.engine.summary import RunSummary, StepSummary

ROOT = Path(__file__).resolve().parents[1]
HEADERS = [
    "Step", "Model", "Written", "Unchanged", "Kept edits", "Failed", "Flagged",
    "Standing flags", "Cost", "Rows/s", "Model load",
]  # fmt: skip


@dataclass
class Runs:
    path: Path
    first: subprocess.CompletedProcess[str]
    again: subprocess.CompletedProcess[str]
    as_json: subprocess.CompletedProcess[str]


def _run(path: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHEETAI_HOME": str(home), "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "sheetai", "run", str(path), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    folder = tmp_path_factory.mktemp("piped")
    path = folder / "feedback.xlsx"
    shutil.copy(ROOT / "samples" / "feedback.xlsx", path)
    first = _run(path, folder / "home", "--yes")
    again = _run(path, folder / "home", "--yes")
    as_json = _run(path, folder / "home", "--yes", "--json")
    return Runs(path, first, again, as_json)


def _table_rows(stdout: str) -> dict[str, list[str]]:
    """The plain summary's rows by step, split on the runs of spaces between columns."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Step "))
    assert re.split(r"\s{2,}", lines[start]) == HEADERS
    rows = {}
    for line in lines[start + 1 :]:
        cells = re.split(r"\s{2,}", line)
        if len(cells) != len(HEADERS):
            break
        rows[cells[0]] = cells
    return rows


def _flag_cells(path: Path, header: str) -> int:
    sheet = openpyxl.load_workbook(path)["Feedback"]
    names = [c.value for c in sheet[1]]
    col = names.index(header) + 1
    cells = sheet.iter_rows(min_row=2, min_col=col, max_col=col, values_only=True)
    return sum(1 for (value,) in cells if value not in (None, ""))


@pytest.mark.slow
def test_a_piped_summary_is_plain_and_complete(runs: Runs) -> None:
    assert runs.first.returncode == 0, runs.first.stderr
    out = runs.first.stdout
    assert "…" not in out and "\x1b" not in out
    rows = _table_rows(out)
    assert set(rows) == {"sentiment", "topic"}
    sentiment = dict(zip(HEADERS, rows["sentiment"], strict=True))
    assert sentiment["Model"] == "local"
    assert sentiment["Written"] == "198" and sentiment["Failed"] == "0"
    assert sentiment["Cost"] == "$0.0000"
    assert re.fullmatch(r"\d+\.\d", sentiment["Rows/s"])
    # Progress is a line per event on stderr, not a redrawn bar.
    assert "\r" not in runs.first.stderr
    assert "sentiment (local): 198 rows to write" in runs.first.stderr


@pytest.mark.slow
def test_model_load_is_announced_and_reported_apart(runs: Runs) -> None:
    assert "sentiment: loading the embedded model…" in runs.first.stderr
    sentiment = dict(zip(HEADERS, _table_rows(runs.first.stdout)["sentiment"], strict=True))
    log = openpyxl.load_workbook(runs.path)[LOG_TAB]
    header = [c.value for c in log[1]]
    first_sentiment = dict(zip(header, [c.value for c in log[2]], strict=True))
    assert first_sentiment["Step"] == "sentiment" and first_sentiment["Model load (s)"] > 0
    # A load from a warm page cache can take under 0.05 s: then it is not worth a line. (The
    # log rounds to 0.01 s, so a logged 0.05 may be either side.)
    load = first_sentiment["Model load (s)"]
    if load > 0.05:
        assert re.fullmatch(r"\d+\.\d s", sentiment["Model load"])
        assert "Loading the model of sentiment (local) took" in runs.first.stdout
        assert "left out of Rows/s" in runs.first.stdout
    elif load < 0.05:
        assert sentiment["Model load"] == "-"
        assert "Loading the model" not in runs.first.stdout
    # Loaded once per process: the second step has nothing to load.
    topic = dict(zip(HEADERS, _table_rows(runs.first.stdout)["topic"], strict=True))
    assert topic["Model load"] == "-"


@pytest.mark.slow
def test_a_no_change_rerun_shows_the_standing_flags(runs: Runs) -> None:
    assert runs.again.returncode == 0, runs.again.stderr
    rows = _table_rows(runs.again.stdout)
    for step, header in (("sentiment", "Sentiment flag"), ("topic", "Topic flag")):
        cells = dict(zip(HEADERS, rows[step], strict=True))
        standing = _flag_cells(runs.path, header)
        assert standing > 0
        assert cells["Written"] == "0" and cells["Flagged"] == "0"
        assert cells["Standing flags"] == str(standing)
        assert f"{standing} rows of {step} hold a flag in '{header}'" in runs.again.stdout
    # Nothing was loaded on a run that answered nothing.
    assert "loading the embedded model" not in runs.again.stderr


@pytest.mark.slow
def test_the_summary_says_where_the_results_went(runs: Runs) -> None:
    header = [c.value for c in openpyxl.load_workbook(runs.path)["Feedback"][1]]
    first = header.index("Sentiment")
    assert header[first : first + 4] == [
        "Sentiment", "Sentiment reasoning", "Sentiment confidence", "Sentiment flag",
    ]  # fmt: skip
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    span = f"columns {letters[first]}–{letters[first + 3]}"
    line = (
        "Results of sentiment: Feedback: Sentiment, Sentiment reasoning, Sentiment confidence, "
        f"Sentiment flag ({span})"
    )
    assert line in runs.first.stdout and line in runs.again.stdout


@pytest.mark.slow
def test_json_stays_one_object_with_the_new_fields(runs: Runs) -> None:
    summary = json.loads(runs.as_json.stdout)
    assert summary["flagged"] == 0
    assert summary["flagged_total"] == sum(
        _flag_cells(runs.path, h) for h in ("Sentiment flag", "Topic flag")
    )
    assert summary["load_seconds"] == 0
    sentiment = summary["steps"][0]
    assert sentiment["output_columns"][-1] == "Sentiment flag"
    assert len(sentiment["output_letters"]) == 4
    assert {"flagged_total", "load_seconds", "rows_per_second"} <= set(sentiment)


def _summary() -> RunSummary:
    step = StepSummary(
        step="sentiment", sheet="Feedback", model="local", processed=198, flagged=44,
        flagged_total=61, seconds=4.2, load_seconds=1.7, cost_usd=0.0,
        output_columns=["Sentiment", "Sentiment reasoning", "Sentiment confidence",
                        "Sentiment flag"],
        output_letters=["F", "G", "H", "I"],
    )  # fmt: skip
    return RunSummary(workbook="feedback.xlsx", steps=[step], seconds=4.5)


@pytest.mark.parametrize("width", [60, 80, 120])
def test_a_terminal_table_is_never_cut(width: int) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=True, color_system=None)
    print_report(_summary(), console)
    out = buffer.getvalue()
    assert "…" not in out
    assert "198" in out and "61" in out and "$0.0000" in out
    where = "Feedback: Sentiment, Sentiment reasoning, Sentiment confidence, Sentiment flag"
    assert f"{where} (columns F–I)" in out.replace("\n", " ")
    assert "Loading the model of sentiment (local) took 1.7 s" in out
    # rows/s leaves the model load out: 198 rows in 4.2 - 1.7 s.
    assert "79.2" in out


def test_a_model_that_loads_at_once_gets_no_load_line() -> None:
    summary = _summary()
    summary.steps[0].load_seconds = 0.01  # already in memory: nothing worth reporting
    buffer = io.StringIO()
    print_report(summary, Console(file=buffer, width=120, force_terminal=True, color_system=None))
    out = buffer.getvalue()
    assert "Loading the model" not in out
    assert "0.0 s" not in out


@pytest.mark.slow
def test_sheetai_summary_piped_cuts_no_cell(runs: Runs) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sheetai", "summary", str(runs.path), "--no-write"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout and "\x1b" not in result.stdout
    standing = _flag_cells(runs.path, "Sentiment flag")
    assert f"LOW_CONFIDENCE {standing}" in result.stdout
