"""Replies that carry no usable answer, and what each costs: the real SDK against FakeOpenAI.

A 200 that is not JSON, a refusal, an empty reply, an answer cut off at the token cap, a
reasoning model that thinks away its budget, a server that echoes the key back. Each row gets a
flag that says why; no row is asked again when asking again cannot help, and no reply crashes
the run.
"""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from devservers.openai import FakeOpenAI, Reply
from sheetai.errors import ProviderError
from tests.conftest import column, read_sheet
from tests.test_openai_provider import AZURE_KEY, azure_settings, book, run, settings_for

HTML = "<html><body><h1>502 Bad Gateway</h1></body></html>"


def odd_replies() -> FakeOpenAI:
    """Answers rows holding ``__HTML__`` (once) / ``__HTML_ALWAYS__`` with a proxy's HTML page,
    ``__REFUSE__`` with a refusal and ``__NOCHOICES__`` with an empty list of choices."""
    html_sent = 0

    def edit(body: dict, completion: dict) -> dict | Reply:
        nonlocal html_sent
        user = "\n".join(str(m.get("content")) for m in body["messages"])
        if "__HTML_ALWAYS__" in user or ("__HTML__" in user and html_sent == 0):
            html_sent += 1
            return Reply(200, HTML, media_type="text/html")
        if "__NOCHOICES__" in user:
            completion["choices"] = []
        elif "__REFUSE__" in user:
            completion["choices"][0]["message"].update(
                content=None, refusal="I can't help with that."
            )
        return completion

    return FakeOpenAI(edit_reply=edit)


def reasoner(thinking: int = 1000) -> FakeOpenAI:
    """A reasoning model: it spends ``thinking`` tokens of ``max_completion_tokens`` before it
    writes the answer, and bills them as output."""

    def edit(body: dict, completion: dict) -> dict:
        cap = int(body.get("max_completion_tokens") or 100_000)
        usage = completion["usage"]
        if cap <= thinking:  # all of it went on thinking: OpenAI then sends an empty answer
            completion["choices"][0]["message"]["content"] = ""
            completion["choices"][0]["finish_reason"] = "length"
            usage["completion_tokens"] = 0
        usage["completion_tokens"] += min(cap, thinking)
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        usage["completion_tokens_details"] = {"reasoning_tokens": min(cap, thinking)}
        return completion

    return FakeOpenAI(edit_reply=edit)


def test_a_reply_that_is_not_json_is_retried_and_never_crashes_the_run(tmp_path) -> None:
    with odd_replies() as srv:
        rows = ["Positive once __HTML__", "Negative always __HTML_ALWAYS__", "Neutral fine"]
        path = book(tmp_path, rows)
        summary = run(path, settings_for(srv, openai_max_retries=1))
        sheet = read_sheet(path)
    assert column(sheet, "Sentiment") == ["Positive", None, "Neutral"]
    flags = column(sheet, "Sentiment flag")
    assert flags[0] is None and flags[2] is None
    assert flags[1] == "ERROR: the server's reply was not JSON (HTTP 200); gave up after 2 attempts"
    assert summary.steps[0].retries == 2 and summary.steps[0].failed == 1


def test_refusals_and_empty_replies_say_why_and_are_not_asked_again(tmp_path) -> None:
    with odd_replies() as srv:
        path = book(tmp_path, ["Positive __REFUSE__", "Negative __NOCHOICES__", "Neutral fine"])
        summary = run(path, settings_for(srv))
        sheet = read_sheet(path)
        sent = len(srv.chat_bodies)
    assert column(sheet, "Sentiment flag") == [
        "ERROR: the model refused: I can't help with that.",
        "ERROR: the server's reply held no answer (no choices)",
        None,
    ]
    assert sent == 3 and summary.steps[0].reasked == 0  # asking again would only pay again


def test_an_answer_cut_off_at_the_cap_is_flagged_once_and_runs_with_a_higher_cap(
    tmp_path,
) -> None:
    long_text = "lorem ipsum " * 700  # ~2,100 tokens: over generate's 1,500-token cap
    with FakeOpenAI(answer=lambda body: {"text": long_text}) as srv:
        path = book(tmp_path, ["write a long blurb"], Task="generate", Labels="", Examples="")
        first = run(path, settings_for(srv))
        sheet = read_sheet(path)
        assert len(srv.chat_bodies) == 1 and first.steps[0].reasked == 0
        assert column(sheet, "Sentiment flag") == [
            "ERROR: the answer was cut off at the 1500-token limit; raise "
            "SHEETAI_OPENAI_MAX_OUTPUT_TOKENS"
        ]
        assert column(sheet, "Sentiment reasoning")[0].startswith('{"text":"lorem ipsum')
        run(path, settings_for(srv, openai_max_output_tokens=3000))
        assert srv.chat_bodies[-1]["max_completion_tokens"] == 3000
    sheet = read_sheet(path)
    assert column(sheet, "Sentiment") == [long_text] and column(sheet, "Sentiment flag") == [None]


def test_a_reasoning_model_gets_room_to_think_and_no_logprobs(tmp_path) -> None:
    with reasoner() as srv:
        path = book(tmp_path, ["So Positive", "Negative, broken"], Model="gpt-5-mini")
        summary = run(path, settings_for(srv))
        body = srv.chat_bodies[0]
        assert body["max_completion_tokens"] == 300 + 4000 and body["reasoning_effort"] == "low"
        assert "logprobs" not in body
        assert column(read_sheet(path), "Sentiment") == ["Positive", "Negative"]
        # The thinking is billed as output: 1,000 tokens a row at gpt-5-mini's $2 per million.
        assert summary.steps[0].cost_usd > 2 * 1000 * 2.0 / 1e6

        other = tmp_path / "tight"
        other.mkdir()
        path = book(other, ["a Neutral fact"], Model="gpt-5-mini")
        run(path, settings_for(srv, openai_max_output_tokens=500, openai_reasoning_effort=""))
        assert "reasoning_effort" not in srv.chat_bodies[-1]
        assert len(srv.chat_bodies) == 3  # cut off while thinking: not asked again
    assert column(read_sheet(path), "Sentiment flag") == [
        "ERROR: the model spent the 500-token limit reasoning; raise SHEETAI_OPENAI_MAX_OUTPUT_TOKENS"
    ]


def test_max_cost_holds_even_when_answers_run_long(tmp_path) -> None:
    # Each answer is ~1,200 tokens where a typical one is 300: reserving the typical length let
    # in-flight requests spend twice the cap. Each request now holds its worst case.
    with FakeOpenAI(answer=lambda body: {"text": "lorem ipsum " * 400}) as srv:
        rows = [f"write a blurb for product {i}" for i in range(40)]
        path = book(tmp_path, rows, Task="generate", Labels="", Examples="", Model="gpt-4.1")
        summary = run(path, settings_for(srv), max_cost_usd=0.05)
        sent = len(srv.chat_bodies)
    step = summary.steps[0]
    assert summary.status == "cost_cap"
    assert 0 < step.cost_usd <= 0.05 and sent == step.processed >= 3
    assert column(read_sheet(path), "Sentiment").count(None) == 40 - sent


def test_a_key_echoed_back_by_the_server_never_reaches_the_sheet(tmp_path) -> None:
    key = "0f3a9c2e1b7d44aa9e51"  # bare hex, as Azure's keys are: nothing key-shaped about it

    def echo(body: dict, completion: dict) -> Reply:
        message = f"Invalid request made with credentials {key}: 'model' is unknown."
        return Reply(400, {"error": {"message": message, "type": "invalid_request_error"}})

    with FakeOpenAI(edit_reply=echo) as srv:
        path = book(tmp_path, ["Positive"])
        run(path, settings_for(srv).model_copy(update={"openai_api_key": SecretStr(key)}))
    flag = column(read_sheet(path), "Sentiment flag")[0]
    assert flag.startswith("ERROR: request rejected (400)")
    assert "made with credentials [key hidden]: 'model' is unknown" in flag and key not in flag


def test_an_azure_deployment_without_a_price_runs_at_an_unknown_cost_but_not_under_a_cap(
    tmp_path,
) -> None:
    # Issue 15: an unpriced model runs (its cost is unknown, not $0); a cost cap refuses it.
    with FakeOpenAI(api_key=AZURE_KEY) as srv:
        path = book(tmp_path, ["Positive"], Model="azure:unpriced-deployment")
        with pytest.raises(ProviderError) as error:
            run(path, azure_settings(srv), max_cost_usd=5.0)
        assert not srv.chat_bodies
        summary = run(path, azure_settings(srv))
        assert len(srv.chat_bodies) == 1
    message = str(error.value)
    assert message.startswith("sheetai!H2: step 'sentiment' uses model 'azure:unpriced-deployment'")
    assert '{"unpriced-deployment": [0.5, 1.5]}' in message and "SHEETAI_PRICES_FILE" in message
    assert summary.to_json()["cost_known"] is False
    assert summary.to_json()["unpriced_models"] == ["azure:unpriced-deployment"]


def test_bare_azure_uses_the_deployment_setting(tmp_path) -> None:
    with FakeOpenAI(api_key=AZURE_KEY) as srv:
        path = book(tmp_path, ["So Positive"], Model="azure")
        run(path, azure_settings(srv, azure_openai_deployment="my-deployment"))
        assert srv.requests_by_path == {"/openai/deployments/my-deployment/chat/completions": 1}
        other = tmp_path / "none"
        other.mkdir()
        path = book(other, ["So Positive"], Model="azure")
        with pytest.raises(ProviderError) as error:
            run(path, azure_settings(srv))
    assert "SHEETAI_AZURE_OPENAI_DEPLOYMENT" in str(error.value)


def test_a_zero_to_one_score_is_a_decimal(tmp_path) -> None:
    with FakeOpenAI() as srv:
        path = book(tmp_path, ["good lead"], Task="score", Labels="0..1", Examples="")
        run(path, settings_for(srv))
        schema = srv.chat_bodies[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["score"]["type"] == "number"
    score = column(read_sheet(path), "Sentiment")[0]
    assert isinstance(score, float) and 0 <= score <= 1
