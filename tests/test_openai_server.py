"""The fake OpenAI server, exercised through the real ``openai`` SDK over HTTP."""

from __future__ import annotations

import asyncio
import enum
import json
import math
import time

import httpx
import openai
import pytest
from pydantic import BaseModel, Field

from devservers.openai import FakeOpenAI, fill_schema, start_subprocess

MODEL = "gpt-4o-mini"


class Sentiment(str, enum.Enum):
    positive = "positive"
    negative = "negative"
    neutral = "neutral"


class Review(BaseModel):
    label: Sentiment
    confidence: float = Field(ge=0, le=1)
    reasoning: str
    stars: int | None = Field(ge=1, le=5)


REVIEW_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "Review",
        "strict": True,
        "schema": openai.lib._pydantic.to_strict_json_schema(Review),
    },
}


def ask(text: str, system: str = "Classify the review.") -> list[dict]:
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]


@pytest.fixture
def server():
    with FakeOpenAI() as srv:
        yield srv


@pytest.fixture
def client(server):
    with openai.OpenAI(api_key="test", base_url=server.base_url, max_retries=0) as c:
        yield c


def test_structured_output_is_valid_for_the_schema_and_picks_the_mentioned_label(client):
    reply = client.chat.completions.create(
        model=MODEL, messages=ask("Review: awful, clearly negative."), response_format=REVIEW_FORMAT
    )
    review = Review.model_validate_json(reply.choices[0].message.content)
    assert review.label is Sentiment.negative
    assert 0 <= review.confidence <= 1
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model == MODEL and reply.object == "chat.completion" and reply.id


def test_label_not_mentioned_is_a_stable_guess(client):
    def label(text):
        reply = client.chat.completions.create(
            model=MODEL, messages=ask(text), response_format=REVIEW_FORMAT
        )
        return json.loads(reply.choices[0].message.content)["label"]

    assert label("the parcel came on Tuesday") == label("the parcel came on Tuesday")
    assert label("the parcel came on Tuesday") in {s.value for s in Sentiment}


def test_parse_helper_returns_the_pydantic_model(client):
    reply = client.chat.completions.parse(
        model=MODEL,
        messages=ask("Labels: positive, negative. Text: positive!"),
        response_format=Review,
    )
    parsed = reply.choices[0].message.parsed
    assert isinstance(parsed, Review)
    assert parsed.label is Sentiment.positive


def test_fill_schema_honours_bounds_references_and_nullable_fields():
    jsonschema = pytest.importorskip("jsonschema")
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "minimum": 3, "exclusiveMaximum": 5},
            "x": {"type": "number", "minimum": -2, "maximum": -1},
            "ok": {"type": "boolean"},
            "when": {"type": "string", "format": "date"},
            "short": {"type": "string", "maxLength": 4, "minLength": 2},
            "label": {"$ref": "#/$defs/Label"},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "string", "enum": ["a", "b"]}]},
        },
        "$defs": {"Label": {"enum": ["spam", "ham"]}},
    }
    value = fill_schema(schema, "some text mentioning b and ham")
    jsonschema.validate(value, schema)
    assert value["maybe"] == "b" and value["label"] == "ham"


def test_logprobs_cover_the_content_and_rate_the_label(client):
    reply = client.chat.completions.create(
        model=MODEL,
        messages=ask("It is neutral, I guess."),
        response_format=REVIEW_FORMAT,
        logprobs=True,
        top_logprobs=3,
    )
    choice = reply.choices[0]
    tokens = choice.logprobs.content
    assert "".join(t.token for t in tokens) == choice.message.content
    label = next(t for t in tokens if t.token == "neutral")
    assert math.exp(label.logprob) > 0.9
    assert len(label.top_logprobs) == 3
    assert {t.token for t in label.top_logprobs[1:]} == {"positive", "negative"}
    assert label.bytes == list(b"neutral")


def test_plain_text_answer_and_usage(client):
    reply = client.chat.completions.create(model=MODEL, messages=ask("x" * 400, system="s" * 40))
    assert reply.choices[0].message.content.startswith("This is a test answer")
    usage = reply.usage
    assert usage.prompt_tokens == 110
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 110


def test_custom_answer_function_and_recorded_bodies(server, client):
    server.answer = lambda body: {"label": "positive", "confidence": 1, "reasoning": "r",
                                  "stars": None}  # fmt: skip
    reply = client.chat.completions.parse(model=MODEL, messages=ask("hi"), response_format=Review)
    assert reply.choices[0].message.parsed.confidence == 1
    assert server.chat_bodies[-1]["messages"][1]["content"] == "hi"


def test_async_client_runs_requests_concurrently():
    async def run(base_url):
        async with openai.AsyncOpenAI(api_key="test", base_url=base_url) as aclient:
            calls = [
                aclient.chat.completions.parse(
                    model=MODEL, messages=ask(f"row {i} positive"), response_format=Review
                )
                for i in range(20)
            ]
            return await asyncio.gather(*calls)

    with FakeOpenAI(latency_ms=100) as srv:
        replies = asyncio.run(run(srv.base_url))
        assert all(r.choices[0].message.parsed.label is Sentiment.positive for r in replies)
        assert srv.max_in_flight > 10


def test_429_with_retry_after_is_retried_by_the_sdk(server):
    server.fail_next(2, status=429, retry_after_s=0.01)
    with openai.OpenAI(api_key="test", base_url=server.base_url, max_retries=3) as c:
        reply = c.chat.completions.create(model=MODEL, messages=ask("hello"))
    assert reply.choices[0].message.content
    assert server.responses_by_status == {429: 2, 200: 1}
    assert server.rate_limited == 2


def test_500_marker_and_fault_rate(server, client):
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model=MODEL, messages=ask("boom __FAULT_500__"))
    server.fault_rate = 1.0
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model=MODEL, messages=ask("fine"))
    server.fault_rate = 0.0
    client.chat.completions.create(model=MODEL, messages=ask("fine"))
    assert server.responses_by_status == {500: 2, 200: 1}


def test_off_schema_marker(client):
    off_schema = client.chat.completions.create(
        model=MODEL, messages=ask("x __FAULT_BADSCHEMA__"), response_format=REVIEW_FORMAT
    )
    with pytest.raises(ValueError):
        Review.model_validate_json(off_schema.choices[0].message.content)


def test_rate_limit_headers_and_rpm(server, client):
    server.rpm, server.tpm = 2, 10_000
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=ask("one"))
    assert raw.headers["x-ratelimit-limit-requests"] == "2"
    assert raw.headers["x-ratelimit-remaining-requests"] == "1"
    assert raw.headers["x-ratelimit-limit-tokens"] == "10000"
    assert int(raw.headers["x-ratelimit-remaining-tokens"]) < 10_000
    assert raw.headers["x-ratelimit-reset-requests"] == "30s"
    assert raw.headers["x-ratelimit-reset-tokens"].endswith("ms")
    client.chat.completions.create(model=MODEL, messages=ask("two"))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=MODEL, messages=ask("three"))
    error = caught.value
    assert error.body["type"] == "requests"
    assert 58 <= float(error.response.headers["retry-after-ms"]) / 1000 <= 60
    assert error.response.headers["retry-after"] == "60"
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"


def test_tpm_counts_max_tokens(server, client):
    server.tpm = 300
    client.chat.completions.create(model=MODEL, messages=ask("hi"), max_tokens=200)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=MODEL, messages=ask("hi"), max_tokens=200)
    assert caught.value.body["type"] == "tokens"
    held = server.stats()["tokens_held"]  # the admitted request: its prompt and max_tokens
    assert 200 < held < 220


def test_latency_and_hang(server):
    server.latency_ms = 150
    with openai.OpenAI(api_key="t", base_url=server.base_url, max_retries=0, timeout=0.5) as c:
        started = time.monotonic()
        c.chat.completions.create(model=MODEL, messages=ask("slow"))
        assert time.monotonic() - started >= 0.15
        server.latency_ms, server.hang_seconds = 0, 0.2
        assert c.chat.completions.create(model=MODEL, messages=ask("__FAULT_HANG__")).choices
        server.hang_seconds = 30
        with pytest.raises(openai.APITimeoutError):
            c.chat.completions.create(model=MODEL, messages=ask("__FAULT_HANG__"))


def test_wrong_api_key_is_rejected():
    with (
        FakeOpenAI(api_key="right") as srv,
        openai.OpenAI(api_key="wrong", base_url=srv.base_url, max_retries=0) as c,
        pytest.raises(openai.AuthenticationError),
    ):
        c.chat.completions.create(model=MODEL, messages=ask("hi"))


def batch_line(custom_id: str, text: str, model: str = MODEL) -> str:
    body = {"model": model, "messages": ask(text), "response_format": REVIEW_FORMAT}
    line = {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}
    return json.dumps(line)


def create_batch(client, lines: list[str]):
    upload = client.files.create(
        file=("in.jsonl", ("\n".join(lines) + "\n").encode()), purpose="batch"
    )
    return client.batches.create(
        input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
    )


def test_files_and_batch_round_trip(client):
    lines = [batch_line(f"row-{i}", f"row {i} is positive") for i in range(5)]
    lines.append(batch_line("row-bad", "__FAULT_500__"))
    batch = create_batch(client, lines)
    assert batch.status == "validating"

    done = client.batches.retrieve(batch.id)
    assert done.status == "completed"
    assert done.request_counts.model_dump() == {"total": 6, "completed": 5, "failed": 1}
    output = [json.loads(x) for x in client.files.content(done.output_file_id).text.splitlines()]
    assert [o["custom_id"] for o in output] == [f"row-{i}" for i in range(5)]
    for row in output:
        assert row["response"]["status_code"] == 200 and row["error"] is None
        content = row["response"]["body"]["choices"][0]["message"]["content"]
        assert Review.model_validate_json(content).label is Sentiment.positive
    errors = [json.loads(x) for x in client.files.content(done.error_file_id).text.splitlines()]
    assert [(e["custom_id"], e["response"]["status_code"]) for e in errors] == [("row-bad", 500)]
    assert batch.id in {b.id for b in client.batches.list()}
    assert client.files.delete(done.output_file_id).deleted


def test_batch_moves_through_statuses(server, client):
    server.batch_delay_s = 3600  # in progress however slow the next request is
    batch = create_batch(client, [batch_line("a", "hi")])
    assert client.batches.retrieve(batch.id).status == "in_progress"
    server.batch_delay_s = 0  # the delay is read at each poll: the hour is over
    assert client.batches.retrieve(batch.id).status == "completed"
    server.fail_batches(1, 500)
    with pytest.raises(openai.InternalServerError):
        create_batch(client, [batch_line("b", "hi")])


def test_counters_and_reset(server, client):
    client.chat.completions.create(model=MODEL, messages=ask("a"))
    client.files.list()
    assert server.requests_by_path == {"/v1/chat/completions": 1, "/v1/files": 1}
    assert len(server.chat_bodies) == 1
    server.reset_counters()
    assert server.requests_by_path == {} and server.chat_bodies == [] and server.rate_limited == 0


def test_answer_spread_varies_the_reasoning_length_per_row_with_a_long_tail(server, client):
    def words(text: str) -> int:
        reply = client.chat.completions.parse(
            model=MODEL, messages=ask(text), response_format=Review
        )
        return len(reply.choices[0].message.parsed.reasoning.split())

    texts = [f"review {i}: the parcel came late and was positive" for i in range(60)]
    alike = {words(t) for t in texts}
    server.answer_spread = 0.5
    spread = [words(t) for t in texts]
    assert len(alike) <= 2 and len(set(spread)) > 5  # rows now differ in length
    assert max(spread) >= 2 * sorted(spread)[30]  # some ramble: a long tail
    assert spread == [words(t) for t in texts]  # the same row, the same length


def test_subprocess_server_answers_and_reports_stats():
    proc, base_url = start_subprocess(rpm=1000, fault_rate=0)
    try:
        with openai.OpenAI(api_key="test", base_url=base_url, max_retries=0) as c:
            reply = c.chat.completions.parse(
                model=MODEL, messages=ask("negative"), response_format=Review
            )
        assert reply.choices[0].message.parsed.label is Sentiment.negative
        stats = httpx.get(base_url.removesuffix("/v1") + "/_fake/stats").json()
        assert stats["responses_by_status"] == {"200": 1}
        assert stats["requests_by_path"] == {"/v1/chat/completions": 1}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_server_answers_many_concurrent_requests_at_once():
    # Latency is a sleep, not a queue: requests overlap, so a benchmark of the client against
    # this server measures the client (``benchmarks/throughput.py --scenario server`` gives
    # the server's own requests per second).
    async def run(base_url, n=128, concurrency=64):
        gate = asyncio.Semaphore(concurrency)
        async with openai.AsyncOpenAI(api_key="t", base_url=base_url, max_retries=0) as aclient:

            async def one(i):
                async with gate:
                    reply = await aclient.chat.completions.create(
                        model=MODEL, messages=ask(f"row {i}"), response_format=REVIEW_FORMAT
                    )
                    return Review.model_validate_json(reply.choices[0].message.content)

            return await asyncio.gather(*(one(i) for i in range(n)))

    with FakeOpenAI(latency_ms=300) as srv:
        answers = asyncio.run(run(srv.base_url))
        assert srv.responses_by_status == {200: 128}
        assert srv.max_in_flight >= 16
    assert len(answers) == 128
