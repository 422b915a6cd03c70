"""Stale answers and the review loop: what a person labelled reaches the sheet's answers.

The embedded model re-answers stale rows by itself when it learnt something better; an LLM
step is only offered the re-run (``--relearn``) and gets the reviewed rows as few-shot
examples. The providers here are fakes that learn (engine level) and the real ``openai`` SDK
against the fake OpenAI-compatible server.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from sheetai.backends import open_backend
from sheetai.backends.memory import MemoryBackend
from sheetai.cli.app import app
from sheetai.engine.learning import REVIEW_HEADERS, REVIEW_TAB
from sheetai.engine.relearn import REVIEWED
from sheetai.engine.runlog import LOG_HEADERS
from sheetai.engine.sync import SyncOptions, sync
from sheetai.providers.base import Gain, RowInput, RowResult, RunOptions
from sheetai.settings import Settings
from sheetai.state import STATE_TAB
from sheetai.steps import Example, Step
from sheetai.tabs import LOG_TAB
from tests.conftest import column, make_workbook, read_sheet, sentiment_step

from .engine_fakes import FakeProvider, memory_book, providers
from .test_openai_provider import server as fake_openai_server
from .test_openai_provider import settings_for

server = fake_openai_server  # the fake OpenAI-compatible server, as a fixture here too

REVIEWS = ["great stuff", "bad service", "so so", "fine thing", "bad again"]


class LearningProvider(FakeProvider):
    """Learns for free: answers a row with its taught label when it has one, and reports the
    cross-validated gain it is told to."""

    learns_free = True

    def __init__(self, gain: Gain | None) -> None:
        super().__init__()
        self.gain = gain
        self.asked_gain: list[float | None] = []

    def relearn_gain(
        self, step: Step, training: Sequence[Example], before: float | None
    ) -> Gain | None:
        self.asked_gain.append(before)
        return self.gain

    def run(
        self, step: Step, rows: Sequence[RowInput], training: Sequence[Example], options: RunOptions
    ) -> Iterator[RowResult]:
        taught = {e.text: e.label for e in training}
        for row in rows:
            self.asked.append(row.text)
            label = "Neutral" if taught else "Positive"
            yield RowResult(key=row.key, values=[label], reasoning="learnt", confidence=0.8)


def review(grid_rows: list[tuple[int, str, str]], step: str = "sentiment") -> list[list[Any]]:
    """A review tab where a person filled "Correct label" for (row, input, label)."""
    tab = [list(REVIEW_HEADERS)]
    for row, text, label in grid_rows:
        tab.append([step, row, text, "Positive", 0.9, label, "all"])
    return tab


def _answers(backend: MemoryBackend) -> list[Any]:
    grid = backend.sheets["Feedback"]
    col = grid[0].index("Sentiment")
    return [r[col] for r in grid[1:]]


def test_a_better_learnt_model_re_answers_stale_rows_by_itself() -> None:
    backend = memory_book(REVIEWS)
    provider = LearningProvider(Gain(before=0.5, after=0.9, examples=2))
    sync(backend, Settings(), provider_for=providers(provider))
    assert _answers(backend) == ["Positive"] * 5
    backend.sheets[REVIEW_TAB] = review([(3, "bad service", "Negative"), (4, "so so", "Neutral")])

    plan = sync(backend, Settings(), SyncOptions(dry_run=True), provider_for=providers(provider))
    step = plan.to_json()["steps"][0]
    assert step["stale"] == 5 and step["reanswered"] == 5 and step["planned"] == 5
    assert "would re-answer 5 rows with what 2 reviewed rows taught" in " ".join(plan.messages)

    provider.asked.clear()
    summary = sync(backend, Settings(), provider_for=providers(provider))
    data = summary.to_json()["steps"][0]
    assert data["reanswered"] == 5 and data["taught_by_reviewed"] == 2
    assert (data["estimated_accuracy_before"], data["estimated_accuracy_after"]) == (0.5, 0.9)
    assert summary.messages == [
        "step 'sentiment': re-answered 5 rows with what 2 reviewed rows taught (estimated "
        "accuracy 0.50 → 0.90, cross-validated on those rows)."
    ]
    # Reviewed rows show the reviewer's label without a model call; the others were re-asked.
    assert _answers(backend) == ["Neutral", "Negative", "Neutral", "Neutral", "Neutral"]
    grid = backend.sheets["Feedback"]
    assert grid[2][grid[0].index("Sentiment reasoning")] == REVIEWED
    assert grid[2][grid[0].index("Sentiment confidence")] == 1.0
    assert sorted(provider.asked) == ["bad again", "fine thing", "great stuff"]
    # The run log says how many were stale; the next run has nothing stale left.
    log = backend.sheets[LOG_TAB]
    assert log[0] == LOG_HEADERS and log[-1][LOG_HEADERS.index("Stale")] == 5
    again = sync(backend, Settings(), SyncOptions(dry_run=True), provider_for=providers(provider))
    assert again.to_json()["steps"][0]["stale"] == 0 and again.total("planned") == 0
    # The learnt model's accuracy is kept, so the next comparison is against it, not zero-shot.
    backend.sheets[REVIEW_TAB].append(
        ["sentiment", 5, "fine thing", "Neutral", 0.8, "Positive", ""]
    )
    sync(backend, Settings(), SyncOptions(dry_run=True), provider_for=providers(provider))
    assert provider.asked_gain[-1] == 0.9


def test_a_learnt_model_that_is_not_better_keeps_the_answers_and_says_why() -> None:
    backend = memory_book(REVIEWS)
    provider = LearningProvider(Gain(before=0.8, after=0.7, examples=1))
    sync(backend, Settings(), provider_for=providers(provider))
    backend.sheets[REVIEW_TAB] = review([(3, "bad service", "Negative")])
    provider.asked.clear()
    summary = sync(backend, Settings(), provider_for=providers(provider))
    assert provider.asked == []
    assert _answers(backend) == ["Positive", "Negative", "Positive", "Positive", "Positive"]
    assert summary.messages == [
        "step 'sentiment': kept 4 stale answers: the model that learnt from 1 reviewed rows is "
        "not more accurate by cross-validation on them (estimated accuracy 0.80 → 0.70). "
        "The 1 stale rows a person labelled now show their label."
    ]
    assert summary.steps[0].stale == 5 and summary.steps[0].reanswered == 1


def test_person_edits_are_never_stale_nor_overwritten() -> None:
    backend = memory_book(REVIEWS)
    provider = LearningProvider(Gain(before=0.5, after=0.9, examples=2))
    sync(backend, Settings(), provider_for=providers(provider))
    grid = backend.sheets["Feedback"]
    grid[1][grid[0].index("Sentiment")] = "Negative"  # a person's own answer
    backend.sheets[REVIEW_TAB] = review([(3, "bad service", "Negative")])
    summary = sync(backend, Settings(), provider_for=providers(provider))
    assert summary.steps[0].kept_human_edits == 1 and summary.steps[0].stale == 4
    assert _answers(backend)[0] == "Negative"


def test_an_old_state_tab_syncs_with_nothing_stale_and_keeps_its_format() -> None:
    # Written by a sheetai without the "taught" column, for a model that learns: records without
    # it were taught by nothing, and nothing was learnt since, so nothing runs.
    backend = memory_book(REVIEWS)
    provider = LearningProvider(Gain(before=0.5, after=0.9, examples=2))
    sync(backend, Settings(), provider_for=providers(provider))
    state = backend.sheets[STATE_TAB]
    assert state[1] == ["step", "fingerprint", "status", "outputs", "updated"]
    assert all(len(row) == 5 for row in state)
    summary = sync(backend, Settings(), provider_for=providers(provider))
    assert summary.total("planned") == 0 and summary.steps[0].stale == 0
    assert provider.asked_gain == []
    # Once something is learnt, records carry a digest of it in a sixth column.
    backend.sheets[REVIEW_TAB] = review([(3, "bad service", "Negative")])
    sync(backend, Settings(), provider_for=providers(provider))
    state = backend.sheets[STATE_TAB]
    assert state[1][-1] == "taught" and all(len(r[5]) == 16 for r in state[2:7])


def test_a_model_that_does_not_learn_has_no_stale_answers() -> None:
    backend = memory_book(REVIEWS)
    sync(backend, Settings(), provider_for=providers(FakeProvider()))
    backend.sheets[REVIEW_TAB] = review([(3, "bad service", "Negative")])
    summary = sync(backend, Settings(), provider_for=providers(FakeProvider()))
    assert summary.steps[0].stale == 0 and summary.total("processed") == 0


# -- LLM steps, through the real openai SDK


def _add_review(path: Path, rows: list[tuple[int, str, str]]) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb.create_sheet(REVIEW_TAB)
    for row in review(rows):
        ws.append(row)
    wb.save(path)


def _system(body: dict[str, Any]) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "system")


def test_an_llm_step_is_offered_the_relearn_and_does_it_only_with_relearn(tmp_path, server):
    texts = ["I love it", "It broke on day one", "Arrived on Tuesday", "Meh, it works"]
    data = [["ID", "Review"], *[[i + 1, t] for i, t in enumerate(texts)]]
    path = make_workbook(tmp_path / "b.xlsx", data, [sentiment_step(Model="gpt-4o-mini")])
    settings = settings_for(server)
    with open_backend(str(path), settings) as backend:
        sync(backend, settings)
    assert len(server.chat_bodies) == 4
    _add_review(path, [(3, "It broke on day one", "Negative"), (5, "Meh, it works", "Neutral")])

    with open_backend(str(path), settings) as backend:
        summary = sync(backend, settings)
    # Nothing re-sent: the reviewed rows take the reviewer's label, the rest is only offered.
    assert len(server.chat_bodies) == 4
    step = summary.to_json()["steps"][0]
    assert step["stale"] == 4 and step["reanswered"] == 2 and step["relearn_cost_usd"] > 0
    assert summary.messages[0].startswith(
        "step 'sentiment': 2 rows could be re-answered with 2 reviewed examples, est. $"
    )
    rows = read_sheet(path)
    assert column(rows, "Sentiment")[1] == "Negative" and column(rows, "Sentiment")[3] == "Neutral"
    assert column(rows, "Sentiment reasoning")[1] == REVIEWED

    result = CliRunner().invoke(
        app, ["run", str(path), "--relearn", "--yes", "--json", "--max-cost", "1"],
        env={"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test-secret"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(server.chat_bodies) == 6  # the two stale rows, with the examples in the prompt
    for body in server.chat_bodies[4:]:
        system = _system(body)
        assert "<row>It broke on day one</row> => Negative" in system
        assert "<row>Meh, it works</row> => Neutral" in system
    with open_backend(str(path), settings) as backend:
        again = sync(backend, settings, SyncOptions(dry_run=True))
    assert again.steps[0].stale == 0 and again.total("planned") == 0


def test_new_llm_rows_get_the_reviewed_rows_as_examples_within_the_caps(tmp_path, server):
    data = [["ID", "Review"], [1, "I love it"], [2, "It broke"], [3, "So so"]]
    path = make_workbook(tmp_path / "b.xlsx", data, [sentiment_step(Model="gpt-4o-mini")])
    settings = settings_for(server, fewshot_max_examples=1)
    with open_backend(str(path), settings) as backend:
        sync(backend, settings)
    _add_review(path, [(3, "It broke", "Negative"), (4, "So so", "Neutral")])
    wb = openpyxl.load_workbook(path)
    wb["Feedback"].append([4, "Where is my parcel?"])
    wb.save(path)
    with open_backend(str(path), settings) as backend:
        sync(backend, settings)
    system = _system(server.chat_bodies[-1])
    # The config's two examples, and one reviewed row: the cap is one.
    assert system.count("</row> =>") == 3
    assert ("<row>So so</row> => Neutral" in system) != (
        "<row>It broke</row> => Negative" in system
    )


@pytest.mark.slow
def test_the_embedded_model_measures_its_gain_on_the_reviewed_rows_held_out() -> None:
    from sheetai.providers.local import LocalProvider
    from sheetai.steps import Label, Task

    step = Step(
        name="code", sheet="Data", inputs=["Text"], task=Task.CLASSIFY, output="Code",
        labels=[Label(name="Zork"), Label(name="Blip")], model="local",
    )  # fmt: skip
    food = [
        "the soup was salty",
        "fresh bread and butter",
        "a bowl of noodles",
        "ripe mangoes",
        "grilled cheese sandwich",
        "spicy curry with rice",
        "chocolate cake",
        "apple pie",
    ]
    ride = ["the train was late", "my bicycle has a flat", "a red sports car", "the bus route",
            "an old motorbike", "the ferry crossing", "a taxi to the airport", "the tram line"]  # fmt: skip
    training = [Example(text=t, label="Zork") for t in food]
    training += [Example(text=t, label="Blip") for t in ride]
    gain = LocalProvider().relearn_gain(step, training, None)
    assert gain is not None and gain.examples == 16
    # Made-up label names: zero-shot is a coin toss; what the rows taught is not.
    assert gain.after >= 0.8 and gain.better
    assert LocalProvider().relearn_gain(step, training[:1], None) is None
