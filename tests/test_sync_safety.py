"""What a sync must never do to a person's workbook: found by review, kept fixed by these tests."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from typer.testing import CliRunner

from devservers.openai import FakeOpenAI
from sheetai import Settings, SyncOptions, sync
from sheetai.backends import open_backend
from sheetai.backends.xlsx import XlsxBackend
from sheetai.cli import app

from .conftest import REVIEWS, column, make_workbook, read_sheet, sentiment_step
from .test_xlsx_backend import with_cached_results


def run(path: Path, settings: Settings | None = None, **options: object):
    with open_backend(str(path), settings or Settings()) as backend:
        return sync(backend, settings or Settings(), SyncOptions(**options))  # type: ignore[arg-type]


def edit(path: Path, sheet: str, **cells: object) -> None:
    book = openpyxl.load_workbook(path)
    for ref, value in cells.items():
        book[sheet][ref] = value
    book.save(path)


def test_notes_in_a_column_without_a_header_are_never_overwritten(tmp_path: Path) -> None:
    data = [
        ["ID", "Review", None, None],
        [1, REVIEWS[0], None, "call back"],
        [2, REVIEWS[1], None, "VIP"],
    ]
    path = make_workbook(tmp_path / "notes.xlsx", data, [sentiment_step()])
    run(path)
    rows = read_sheet(path)
    assert [r[3] for r in rows[1:]] == ["call back", "VIP"]
    assert rows[0][4:8] == [
        "Sentiment",
        "Sentiment reasoning",
        "Sentiment confidence",
        "Sentiment flag",
    ]


def test_a_persons_note_in_the_flag_column_is_kept(feedback_book: Path) -> None:
    run(feedback_book)
    edit(feedback_book, "Feedback", F3="checked - Bob")
    edit(feedback_book, "sheetai", I2=1)  # every other flag changes to LOW_CONFIDENCE
    summary = run(feedback_book)
    flags = column(read_sheet(feedback_book), "Sentiment flag")
    assert flags[1] == "checked - Bob"
    assert set(flags[:1] + flags[2:]) == {"LOW_CONFIDENCE"}
    assert summary.steps[0].reflagged >= 1


def test_a_renamed_step_says_what_happened_and_does_not_learn_from_itself(
    feedback_book: Path,
) -> None:
    run(feedback_book)
    edit(feedback_book, "sheetai", A2="mood")
    summary = run(feedback_book)
    assert summary.steps[0].kept_human_edits == len(REVIEWS)
    assert any("--force" in m and "'mood'" in m for m in summary.messages)
    edit(feedback_book, "sheetai", A2="sentiment")  # renamed back: the history is still there
    assert run(feedback_book).steps[0].skipped_unchanged == len(REVIEWS)


def test_cosmetic_config_edits_do_not_rerun_rows(feedback_book: Path) -> None:
    run(feedback_book)
    labels = "Positive: happy, thankful or recommends us\nNeutral: a question or a plain fact\nNegative: complains, angry or disappointed"
    edit(feedback_book, "sheetai", F2=labels.replace("\n", "\n  "), H2=" Local ")
    assert run(feedback_book).steps[0].processed == 0


def test_formula_inputs_survive_sheetais_own_save_and_excels_recalculation(tmp_path: Path) -> None:
    data = [["Raw", "Review"], *[[text, f"=A{i}"] for i, text in enumerate(REVIEWS[:3], start=2)]]
    path = make_workbook(tmp_path / "f.xlsx", data, [sentiment_step()])
    with_cached_results(path, {f"B{i}": text for i, text in enumerate(REVIEWS[:3], start=2)})
    assert run(path).steps[0].processed == 3
    # openpyxl's save dropped the formulas' cached results: the rows are unreadable, not gone.
    book = openpyxl.load_workbook(path)
    book["Feedback"].append(["plain", "Thanks, all good!"])
    book.save(path)
    summary = run(path)
    assert (summary.steps[0].unreadable_inputs, summary.steps[0].processed) == (3, 1)
    # Excel opens and saves the file: the results are back and nothing is a "human edit".
    with_cached_results(path, {f"B{i}": text for i, text in enumerate(REVIEWS[:3], start=2)})
    again = run(path)
    assert again.steps[0].kept_human_edits == 0
    assert again.steps[0].skipped_unchanged == 4


def test_answers_a_cell_cannot_hold_are_stored_as_written(tmp_path: Path) -> None:
    answers = {"one": "bell\x07 and form feed\x0c", "two": "long " * 600, "three": "fine"}

    def answer(body: dict) -> dict:
        row = body["messages"][-1]["content"]
        return {"text": next(v for k, v in answers.items() if k in row)}

    with FakeOpenAI(answer=answer) as server:
        settings = Settings(openai_base_url=server.base_url, openai_api_key="sk-test")
        step = sentiment_step(Task="generate", Labels="", Examples="", Model="gpt-4o-mini")
        data = [["Review"], ["one"], ["two"], ["three"]]
        path = make_workbook(tmp_path / "g.xlsx", data, [step])
        run(path, settings)
        again = run(path, settings)
    assert again.steps[0].skipped_unchanged == 3 and again.steps[0].kept_human_edits == 0
    values = column(read_sheet(path), "Sentiment")
    assert values[0] == "bell and form feed" and values[1].strip() == ("long " * 600).strip()


def test_a_step_name_with_markup_is_shown_as_written(feedback_book: Path) -> None:
    edit(feedback_book, "sheetai", A2="[bold]mood[/]")
    result = CliRunner().invoke(app, ["run", str(feedback_book)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "[bold]mood[/]" in result.output


def test_a_read_only_file_is_refused_before_any_work(tmp_path: Path, monkeypatch) -> None:
    path = make_workbook(tmp_path / "ro.xlsx", [["Review"], ["hi"]], [sentiment_step()])
    monkeypatch.setattr("os.access", lambda *_args, **_kw: False)
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 2
    assert "no permission to write" in result.output
    assert read_sheet(path)[0] == ["Review"]


def test_xlsx_backend_is_what_open_backend_gives_for_a_path(feedback_book: Path) -> None:
    with open_backend(str(feedback_book)) as backend:
        assert isinstance(backend, XlsxBackend)


def test_an_extracted_date_reads_back_as_unchanged(tmp_path: Path) -> None:
    answer = {"when": "2024-01-15", "who": "Ann", "reasoning": "Both are in the text."}
    with FakeOpenAI(answer=lambda body: answer) as server:
        settings = Settings(openai_base_url=server.base_url, openai_api_key="sk-test")
        step = sentiment_step(
            Task="extract", Labels="when: date\nwho: text", Examples="", Model="gpt-4o-mini"
        )
        path = make_workbook(tmp_path / "d.xlsx", [["Review"], ["Sent 15 Jan 2024 to Ann"]], [step])
        run(path, settings)
        again = run(path, settings)
    assert again.steps[0].skipped_unchanged == 1 and again.steps[0].kept_human_edits == 0
