"""The read stage: one loader for the sync and quality control, and which steps a command runs."""

from __future__ import annotations

import pytest

from sheetai.backends.memory import MemoryBackend
from sheetai.engine.workbook import apply_model, load_workbook, run_step, select_steps
from sheetai.errors import ConfigError
from sheetai.settings import Settings

from .conftest import CONFIG_HEADER, sentiment_step
from .engine_fakes import memory_book


def _two_steps() -> MemoryBackend:
    backend = memory_book(["great"])
    backend.sheets["sheetai"].append(sentiment_step(Step="Mood", Output="Mood"))
    return backend


def test_the_config_tab_is_found_whatever_its_case_and_every_sheet_is_read_once() -> None:
    backend = memory_book(["great"])
    backend.sheets = {
        "Feedback": backend.sheets["Feedback"],
        " SheetAI ": backend.sheets["sheetai"],
    }
    book = load_workbook(backend, Settings())
    assert [s.name for s in book.steps] == ["sentiment"]
    assert book.titles == ["Feedback", " SheetAI "]
    assert book.grids["Feedback"][1] == [1, "great"]


def test_a_workbook_without_a_config_tab_says_which_tab_to_add() -> None:
    backend = MemoryBackend({"Feedback": [["Review"]], "sheetay": [CONFIG_HEADER]})
    with pytest.raises(ConfigError, match="no 'sheetai' tab.*sheetay"):
        load_workbook(backend, Settings())


def test_a_step_is_chosen_by_name_ignoring_case_and_spaces() -> None:
    steps = load_workbook(_two_steps(), Settings()).steps
    assert [s.name for s in select_steps(steps, " MOOD")] == ["Mood"]
    assert [s.name for s in select_steps(steps, None)] == ["sentiment", "Mood"]
    with pytest.raises(ConfigError, match="no step named 'mod'.*Steps: sentiment, Mood"):
        select_steps(steps, "mod")


def test_model_replaces_the_steps_model_or_with_only_flagged_answers_for_it() -> None:
    steps = load_workbook(_two_steps(), Settings()).steps
    apply_model(steps, "gpt-4.1", only_flagged=True)
    assert steps[0].model == "fake" and run_step(steps[0]).model == "gpt-4.1"
    assert (
        steps[0].fingerprint()
        == run_step(steps[0]).model_copy(update={"model": "fake"}).fingerprint()
    )
    apply_model(steps, "gpt-4.1-mini", only_flagged=False)
    assert steps[1].model == "gpt-4.1-mini"
