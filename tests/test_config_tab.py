"""The config tab: parsing, ordering, and errors that name the cell and the fix."""

from __future__ import annotations

import pytest

from sheetai.config import parse_config, parse_labels
from sheetai.errors import ConfigError
from sheetai.steps import Task

from .conftest import CONFIG_HEADER, sentiment_step

HEADERS = {"Feedback": ["ID", "Review", "Product"], "Other": ["Text"]}


def parse(*rows: list, headers: dict | None = None) -> list:
    return parse_config([CONFIG_HEADER, *rows], headers or HEADERS, tab="sheetai")


def error_of(*rows: list, headers: dict | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(*rows, headers=headers)
    return info.value


def test_a_valid_step_is_parsed_with_labels_descriptions_and_examples() -> None:
    (step,) = parse(sentiment_step())
    assert step.task is Task.CLASSIFY
    assert step.label_names == ["Positive", "Neutral", "Negative"]
    assert step.labels[0].description == "happy, thankful or recommends us"
    assert [(e.text, e.label) for e in step.examples] == [
        ("great service", "Positive"),
        ("it broke on day one", "Negative"),
    ]
    assert step.min_confidence == 0.5
    assert step.row == 2


def test_headers_match_case_and_space_insensitively() -> None:
    header = [h.upper().replace(" ", "  ") for h in CONFIG_HEADER]
    (step,) = parse_config([header, sentiment_step(Input="  review ")], HEADERS)
    assert step.inputs == ["Review"]


def test_unknown_input_column_names_the_cell_and_suggests() -> None:
    error = error_of(sentiment_step(Input="Revew"))
    assert (
        str(error) == "sheetai!C2: sheet 'Feedback' has no column 'Revew' (did you mean 'Review'?)."
    )
    assert error.cell == "sheetai!C2"


def test_unknown_sheet_and_unknown_task() -> None:
    assert "sheetai!B2: the workbook has no sheet 'Feedbak' (did you mean 'Feedback'?)" in str(
        error_of(sentiment_step(Sheet="Feedbak"))
    )
    error = error_of(sentiment_step(Task="clasify"))
    assert error.cell == "sheetai!D2"
    assert "did you mean 'classify'" in str(error)


def test_classify_needs_two_labels_and_examples_must_use_them() -> None:
    assert error_of(sentiment_step(Labels="Positive")).cell == "sheetai!F2"
    error = error_of(sentiment_step(Examples="nice => Positiv"))
    assert error.cell == "sheetai!J2"
    assert "did you mean 'Positive'" in str(error)
    assert error_of(sentiment_step(Examples="no arrow here")).cell == "sheetai!J2"


def test_min_confidence_accepts_fractions_and_percentages_only() -> None:
    assert parse(sentiment_step(**{"Min confidence": "60%"}))[0].min_confidence == 0.6
    assert parse(sentiment_step(**{"Min confidence": None}))[0].min_confidence == 0.0
    assert error_of(sentiment_step(**{"Min confidence": "high"})).cell == "sheetai!I2"


def test_missing_required_header_and_empty_tab() -> None:
    with pytest.raises(ConfigError, match="no 'Input' column"):
        parse_config([[h for h in CONFIG_HEADER if h != "Input"]], HEADERS)
    with pytest.raises(ConfigError, match="config tab is empty"):
        parse_config([], HEADERS)
    with pytest.raises(ConfigError, match="no steps"):
        parse_config([CONFIG_HEADER], HEADERS)


def test_steps_run_in_dependency_order_and_cycles_are_errors() -> None:
    summary = sentiment_step(
        Step="summary",
        Input="Review, Sentiment",
        Task="generate",
        Labels="",
        Output="Summary",
        Examples="",
    )
    steps = parse(summary, sentiment_step())
    assert [s.name for s in steps] == ["sentiment", "summary"]
    a = sentiment_step(Step="a", Input="B out", Output="A out", Examples="")
    b = sentiment_step(Step="b", Input="A out", Output="B out", Examples="")
    error = error_of(a, b)
    assert "cycle" in str(error)
    assert "a → b → a" in str(error)


def test_two_steps_may_not_write_the_same_column() -> None:
    error = error_of(sentiment_step(), sentiment_step(Step="again"))
    assert error.cell == "sheetai!G3"
    assert "both write column 'Sentiment'" in str(error)


def test_duplicate_step_names_and_blank_rows() -> None:
    steps = parse(sentiment_step(), [None] * 10, sentiment_step(Step="topic", Output="Topic"))
    assert [s.name for s in steps] == ["sentiment", "topic"]
    assert error_of(sentiment_step(), sentiment_step(Output="Other")).cell == "sheetai!A3"


def test_other_tasks_parse_so_later_providers_only_add_executors() -> None:
    for task, labels in (("extract", "name: text\nage: number"), ("generate", ""), ("score", "")):
        (step,) = parse(sentiment_step(Task=task, Labels=labels, Examples=""))
        assert step.task.value == task


def test_extract_fields_are_parsed_with_their_types() -> None:
    labels = "amount: number\nwhen: date\nurgent: boolean\nsize: one of S|M|L\nnote"
    (step,) = parse(sentiment_step(Task="extract", Labels=labels, Examples=""))
    assert [(f.name, f.type, f.choices) for f in step.fields] == [
        ("amount", "number", ()),
        ("when", "date", ()),
        ("urgent", "bool", ()),
        ("size", "choice", ("S", "M", "L")),
        ("note", "text", ()),
    ]


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (
            "price: money",
            "sheetai!F2: field 'price' has unknown type 'money'. Use text, number, date, bool or "
            "'one of a|b|c', e.g. 'price: number'.",
        ),
        (
            "size: one of S",
            "sheetai!F2: field 'size' lists fewer than two choices. Write e.g. "
            "'size: one of S|M|L'.",
        ),
        (
            "",
            "sheetai!F2: extract step 'sentiment' needs its fields in Labels, one per line, e.g. "
            "'price: number'.",
        ),
    ],
)
def test_a_bad_extract_field_names_the_labels_cell_and_the_fix(labels: str, message: str) -> None:
    error = error_of(sentiment_step(Task="extract", Labels=labels, Examples=""))
    assert str(error) == message


def test_score_ranges_are_parsed_whole_or_with_decimals() -> None:
    def score_range(labels: str) -> tuple[float, float, bool]:
        (step,) = parse(sentiment_step(Task="score", Labels=labels, Examples=""))
        assert step.score_range is not None
        return step.score_range.low, step.score_range.high, step.score_range.decimals

    assert score_range("") == (1, 5, False)
    assert score_range("0 to 100") == (0, 100, False)
    assert score_range("0..1") == (0, 1, True)
    assert score_range("-5 – 5") == (-5, 5, False)
    assert score_range("0.0 to 10.0") == (0, 10, True)


@pytest.mark.parametrize(
    ("labels", "fix"),
    [
        ("ten to 1", "is not two numbers. Write it as low-high, e.g. 1-10 or 0 to 100"),
        ("10-1", "runs from high to low. Write it as 1-10."),
        ("3 to 3", "allows only one score."),
    ],
)
def test_a_bad_score_range_is_a_config_error_at_its_cell(labels: str, fix: str) -> None:
    good = sentiment_step(Step="other", Output="Other", Task="score", Labels="", Examples="")
    bad = sentiment_step(Task="score", Labels=labels, Examples="")
    error = error_of(good, bad)
    assert error.cell == "sheetai!F3"
    assert str(error).startswith(f"sheetai!F3: score range '{labels}' {fix}")


def test_labels_one_per_line_keep_commas_in_descriptions() -> None:
    labels = parse_labels("Bug: broken, crashes\nIdea: a wish, a plan")
    assert [(label.name, label.description) for label in labels] == [
        ("Bug", "broken, crashes"),
        ("Idea", "a wish, a plan"),
    ]


def test_step_fingerprint_ignores_threshold_but_not_instructions() -> None:
    (base,) = parse(sentiment_step())
    (threshold,) = parse(sentiment_step(**{"Min confidence": 0.9}))
    (reworded,) = parse(sentiment_step(Instructions="Be strict."))
    assert base.fingerprint() == threshold.fingerprint()
    assert base.fingerprint() != reworded.fingerprint()


def test_headers_below_row_1_are_pointed_out() -> None:
    rows = {"Feedback": [["Customer feedback, June"], [], ["ID", "Review"], [1, "late"]]}
    with pytest.raises(ConfigError, match="It is in row 3: sheetai reads headers from row 1"):
        parse_config(
            [CONFIG_HEADER, sentiment_step()], {"Feedback": rows["Feedback"][0]}, sheet_rows=rows
        )


def test_a_duplicated_input_header_names_the_config_cell_and_both_columns() -> None:
    headers = {"Feedback": ["ID", "Review", "Review", "Product"]}
    error = error_of(sentiment_step(), headers=headers)
    assert str(error) == (
        "sheetai!C2: sheet 'Feedback' has two columns headed 'Review' (B and C), so step "
        "'sentiment' cannot tell which to read; rename one."
    )


def test_headers_differing_only_in_case_or_spaces_collide_and_the_message_says_so() -> None:
    headers = {"Feedback": ["ID", "Review", "Notes", "review "]}
    error = error_of(sentiment_step(), headers=headers)
    assert error.cell == "sheetai!C2"
    assert "two columns headed 'Review' (B and D) (spelled 'Review', 'review ': headers " in str(
        error
    )


@pytest.mark.parametrize(
    "duplicated", ["Sentiment", "Sentiment confidence", "SENTIMENT FLAG", "Sentiment (gold)"]
)
def test_a_duplicated_output_header_points_at_the_output_cell(duplicated: str) -> None:
    headers = {"Feedback": ["ID", "Review", duplicated, "Product", duplicated]}
    error = error_of(sentiment_step(), headers=headers)
    assert error.cell == "sheetai!G2"
    assert "(C and E)" in str(error) and "cannot tell which to write" in str(error)


def test_duplicates_the_step_does_not_use_are_fine() -> None:
    headers = {"Feedback": ["ID", "Review", "Notes", "Notes", "notes", None, None]}
    (step,) = parse(sentiment_step(), headers=headers)
    assert step.inputs == ["Review"]
    error = error_of(sentiment_step(Input="Review, Notes"), headers=headers)
    assert "three columns headed 'Notes' (C, D and E)" in str(error)
