"""The ``sheetai`` command line as a user drives it: exit codes, messages, JSON, help."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from sheetai.cli import app

from .conftest import REVIEWS, make_workbook, sentiment_step

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
SUMMARY_FIELDS = {
    "steps", "planned", "processed", "skipped_unchanged", "kept_human_edits", "failed",
    "flagged", "tokens", "cost_usd", "seconds",
}  # fmt: skip


def sheetai(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sheetai", *args], capture_output=True, text=True)


def test_every_command_has_help_with_an_example_and_no_placeholder_on_flags() -> None:
    command = get_command(app)
    names = list(command.commands)  # type: ignore[attr-defined]
    # --help lists them so.
    assert names == [
        "run",
        "init",
        "review",
        "qc",
        "summary",
        "compare",
        "models",
        "serve",
        "watch",
    ]
    root = runner.invoke(app, ["--help"])
    assert root.exit_code == 0 and "<bool>" not in root.output
    for name in names:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Usage" in result.output
        assert not re.search(r"<bool[^>]*>", result.output), (
            f"sheetai {name} --help:\n{result.output}"
        )
        examples = result.output.split("Examples:")[-1]
        assert "Examples:" in result.output and f"sheetai {name} " in examples, name
    run_help = runner.invoke(app, ["run", "--help"]).output
    # Flags users already type keep their names.
    for flag in ("--dry-run", "--force", "--only-flagged", "--json", "--yes", "--excel",
                 "--batch", "--wait"):  # fmt: skip
        assert flag in run_help
    assert "sheetai[excel]" in run_help  # not eaten as markup


def test_every_command_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in get_command(app).commands:  # type: ignore[attr-defined]
        assert f"sheetai {name}" in readme, f"`sheetai {name}` is not in the README"


def test_run_json_prints_one_summary_with_the_contract_fields(feedback_book: Path) -> None:
    result = runner.invoke(app, ["run", str(feedback_book), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary) >= SUMMARY_FIELDS
    assert summary["processed"] == len(REVIEWS)
    assert SUMMARY_FIELDS - {"steps"} <= set(summary["steps"][0])
    assert summary["steps"][0]["step"] == "sentiment"


def test_a_config_error_exits_2_naming_the_cell_without_a_traceback(tmp_path: Path) -> None:
    path = make_workbook(
        tmp_path / "bad.xlsx", [["Review"], ["hi"]], [sentiment_step(Input="Revew")]
    )
    before = path.read_bytes()
    result = sheetai("run", str(path))
    assert result.returncode == 2
    assert (
        "sheetai!C2: sheet 'Feedback' has no column 'Revew' (did you mean 'Review'?)"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "missing.xlsx"], "no such file"),
        (["run", "https://example.com/sheet"], "not a Google Sheets URL"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output


def test_unknown_step_and_missing_config_tab(tmp_path: Path, feedback_book: Path) -> None:
    result = runner.invoke(app, ["run", str(feedback_book), "--step", "sentimnt"])
    assert result.exit_code == 2
    assert "did you mean 'sentiment'" in result.output
    bare = make_workbook(tmp_path / "bare.xlsx", [["Review"], ["hello"]])
    result = runner.invoke(app, ["run", str(bare)])
    assert result.exit_code == 2
    assert "no 'sheetai' tab" in result.output and "sheetai init" in result.output


def test_a_step_the_embedded_model_cannot_do_is_a_clear_error(tmp_path: Path) -> None:
    step = sentiment_step(Task="extract", Labels="name: text", Examples="")
    path = make_workbook(tmp_path / "x.xlsx", [["Review"], ["hi"]], [step])
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2
    assert "step 'sentiment'" in result.output and "can only classify" in result.output


def test_init_writes_a_config_tab_that_runs(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "new.xlsx", [["Ticket"], ["App crashes on login"], ["Love it"]])
    result = runner.invoke(
        app,
        ["init", str(path), "--sheet", "Feedback", "--input", "Ticket", "--task", "classify",
         "--labels", "Bug,Praise,Question", "--output", "Kind"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    config = [list(r) for r in openpyxl.load_workbook(path)["sheetai"].iter_rows(values_only=True)]
    assert config[0][:3] == ["Step", "Sheet", "Input"]
    assert config[1][:4] == ["kind", "Feedback", "Ticket", "classify"]
    ran = runner.invoke(app, ["run", str(path), "--json"])
    assert json.loads(ran.stdout)["processed"] == 2

    bad = runner.invoke(
        app,
        [
            "init",
            str(path),
            "--sheet",
            "Feedback",
            "--input",
            "Tiket",
            "--labels",
            "A,B",
            "--output",
            "X",
        ],
    )
    assert bad.exit_code == 2 and "did you mean 'Ticket'" in bad.output


def test_dry_run_prints_the_plan(feedback_book: Path) -> None:
    result = runner.invoke(app, ["run", str(feedback_book), "--dry-run"])
    assert result.exit_code == 0
    assert "Plan for" in result.output and "sentiment" in result.output


@pytest.mark.slow
def test_the_sample_workbook_end_to_end(tmp_path: Path) -> None:
    path = tmp_path / "feedback.xlsx"
    shutil.copy(ROOT / "samples" / "feedback.xlsx", path)
    first = sheetai("run", str(path), "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert [s["step"] for s in summary["steps"]] == ["sentiment", "topic"]
    assert summary["processed"] > 300 and summary["failed"] == 0
    again = json.loads(sheetai("run", str(path), "--json").stdout)
    assert again["processed"] == 0 and again["skipped_unchanged"] == summary["processed"]
