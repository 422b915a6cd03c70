"""The live runner: identical inputs are asked once, ``--preview`` asks only a few, and the
model learns from the labels a person gave."""

from __future__ import annotations

from sheetai import Settings, SyncOptions, sync
from sheetai.engine.plan import Category, RowPlan, StepPlan
from sheetai.engine.runner import rows_by_key

from .engine_fakes import FakeProvider, memory_book, providers


def test_identical_inputs_are_asked_once_and_written_to_every_row() -> None:
    backend = memory_book(["great", "bad", "great", "great"])
    provider = FakeProvider()
    summary = sync(backend, Settings(), provider_for=providers(provider))
    assert provider.asked == ["great", "bad"]
    assert [r[2] for r in backend.sheets["Feedback"][1:]] == [
        "Positive",
        "Negative",
        "Positive",
        "Positive",
    ]
    assert summary.steps[0].processed == 4 and summary.steps[0].model_calls == 2
    assert provider.closed  # providers never outlive the run


def test_preview_asks_the_first_inputs_only() -> None:
    backend = memory_book(["one", "two", "one", "three"])
    provider = FakeProvider()
    summary = sync(backend, Settings(), SyncOptions(preview=2), provider_for=providers(provider))
    assert provider.asked == ["one", "two"]
    assert [p["row"] for p in summary.steps[0].preview] == [2, 3]
    assert summary.steps[0].preview[0]["result"] == "Positive"
    assert summary.steps[0].planned == 3  # rows written: both "one" rows and "two"


def test_rows_by_key_groups_rows_and_cuts_at_the_preview() -> None:
    plan = StepPlan(
        [
            RowPlan(2, "a", Category.NEW, {}),
            RowPlan(3, "b", Category.UNCHANGED, {}),
            RowPlan(4, "c", Category.CHANGED, {}),
            RowPlan(5, "a", Category.NEW, {}),
        ]
    )
    assert {k: [r.row for r in rows] for k, rows in rows_by_key(plan, None).items()} == {
        "a": [2, 5],
        "c": [4],
    }
    assert list(rows_by_key(plan, 1)) == ["a"]


def test_a_gold_column_and_a_persons_edit_teach_the_model() -> None:
    backend = memory_book(["great", "meh"])
    sync(backend, Settings(), provider_for=providers(FakeProvider()))
    feedback = backend.sheets["Feedback"]
    feedback[0].append("Sentiment (gold)")
    feedback[1].append("Positive")
    feedback[2][2] = "Neutral"  # typed over sheetai's answer
    feedback.append([3, "new review"])
    provider = FakeProvider()
    sync(backend, Settings(), provider_for=providers(provider))
    assert provider.asked == ["new review"]
    assert {(e.text, e.label) for e in provider.training} == {
        ("great", "Positive"),
        ("meh", "Neutral"),
    }
