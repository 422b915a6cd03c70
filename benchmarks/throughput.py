"""Throughput of the OpenAI provider against FakeOpenAI running as its own process.

    python benchmarks/throughput.py [--rows N] [--scenario requests|tokens|faults|azure|server|
        claude-requests|claude-output|claude|all]

For each scenario it prints rows/s, the ceiling ``min(RPM/60, TPM/60/tokens_per_row,
concurrency/latency)``, their ratio, the 429s seen, rows lost, and client CPU ms per row (this
process only: the server runs in a subprocess). Targets: ratio >= 0.95, no row lost, 429s under
1 % of requests, client CPU <= 1.5 ms per row.

A failed request costs what a good one does (the server answers its 500 after the full latency
and counts it against the limits, as OpenAI counts failed requests), so with faults no client
can beat ``rows / requests`` of the ceiling: with 5 % of requests failing that is 0.95 at best.
``attainable`` is that ceiling scaled by rows/requests, and ``ratio_to_attainable`` how close
the run came to it.

``azure`` is a server that sends no ``x-ratelimit-limit-*`` header, only
``x-ratelimit-remaining-*`` (as Azure OpenAI does): the client must infer the limits. It runs
more tokens than one minute allows, so a client that does not pace meets 429s.

``claude-requests`` and ``claude-output`` run the Claude provider against FakeClaude (its own
process): one bound by requests per minute, one by output tokens per minute, where each request
holds its ``max_tokens`` while it runs and the answer's real output is settled when it ends. The
output-bound ceiling is ``output_tpm / 60 / output tokens per row`` (as the server counted them).

``server`` measures FakeOpenAI itself: requests per second it answers to the raw async SDK at
no latency, no limits and 64 in flight. The other scenarios need far fewer (25 rows/s at most),
so they measure the client; target >= 100 requests/s (6,000 a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devservers.anthropic import start_subprocess as start_claude  # noqa: E402
from devservers.openai import start_subprocess  # noqa: E402
from sheetai.config import parse_labels  # noqa: E402
from sheetai.providers.anthropic import AnthropicProvider  # noqa: E402
from sheetai.providers.base import RowInput, RunOptions  # noqa: E402
from sheetai.providers.llm.prompt import messages, system_prompt  # noqa: E402
from sheetai.providers.llm.schema import answer_spec  # noqa: E402
from sheetai.providers.openai import OpenAIProvider  # noqa: E402
from sheetai.providers.openai.pricing import prompt_tokens  # noqa: E402
from sheetai.settings import Settings  # noqa: E402
from sheetai.steps import Step, Task  # noqa: E402

LATENCY_MS = 200
CONCURRENCY = 64
SCENARIOS = {
    # name: (server options, rows)
    "requests": ({"rpm": 3000}, 1500),
    "tokens": ({"rpm": 100_000, "tpm": 600_000}, 700),
    "faults": ({"rpm": 3000, "fault_rate": 0.05}, 1500),
    "azure": ({"rpm": 1200, "tpm": 400_000, "rate_headers": "remaining"}, 1200),
}
MAX_OUT = 300  # the provider's max_completion_tokens for classify
CLAUDE_SCENARIOS = {
    "claude-requests": ({"rpm": 3000}, 1500),
    "claude-output": ({"rpm": 100_000, "output_tpm": 40_000}, 1200),
}


def step(model: str = "gpt-4o-mini") -> Step:
    labels = "Positive: happy\nNeutral: a fact\nNegative: complains"
    return Step(
        name="bench", sheet="S", inputs=["Review"], task=Task.CLASSIFY,
        instructions="Classify the sentiment.", labels=parse_labels(labels),
        labels_text=labels, output="Sentiment", model=model,
    )  # fmt: skip


def stats(base_url: str) -> dict:
    with urllib.request.urlopen(base_url.replace("/v1", "/_fake/stats")) as response:
        return json.loads(response.read())


def run(name: str, rows: int | None) -> dict:
    opts, default_rows = SCENARIOS[name]
    count = rows or default_rows
    proc, base_url = start_subprocess(latency_ms=LATENCY_MS, **opts)
    try:
        with tempfile.TemporaryDirectory() as home:
            settings = Settings(
                openai_base_url=base_url, openai_api_key="bench", home=Path(home),
                openai_concurrency=CONCURRENCY,
            )  # fmt: skip
            provider = OpenAIProvider("gpt-4o-mini", settings)
            the_step = step()
            inputs = rows_for(count)
            system = system_prompt(answer_spec(the_step))
            tokens_per_row = (
                sum(prompt_tokens(messages(system, r.text)) + MAX_OUT for r in inputs) / count
            )
            cpu0, wall0 = time.process_time(), time.perf_counter()
            results = list(provider.run(the_step, inputs, [], RunOptions()))
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            provider.close()
        server = stats(base_url)
    finally:
        proc.terminate()
        proc.wait()
    ok = sum(r.status == "ok" for r in results)
    ceilings = [CONCURRENCY / (LATENCY_MS / 1000)]
    if opts.get("rpm"):
        ceilings.append(opts["rpm"] / 60)
    if opts.get("tpm"):
        ceilings.append(opts["tpm"] / 60 / tokens_per_row)
    ceiling = min(ceilings)
    requests = server["requests_by_path"].get("/v1/chat/completions", 0)
    return {
        "scenario": name,
        "rows": count,
        "ok": ok,
        "lost": count - len(results),
        "failed": count - ok,
        "seconds": round(wall, 2),
        "rows_per_s": round(count / wall, 2),
        "ceiling": round(ceiling, 2),
        "ratio": round(count / wall / ceiling, 3),
        "attainable": round(ceiling * count / max(requests, 1), 2),
        "ratio_to_attainable": round(count / wall / (ceiling * count / max(requests, 1)), 3),
        "requests": requests,
        "429s": server["rate_limited"],
        "429_pct": round(100 * server["rate_limited"] / max(requests, 1), 2),
        "cpu_ms_per_row": round(1000 * cpu / count, 3),
        "tokens_per_row": round(tokens_per_row, 1),
    }


def rows_for(count: int) -> list[RowInput]:
    return [
        RowInput(key=f"r{i}", text=f"Review {i}: the parcel came {i % 7} days late")
        for i in range(count)
    ]


def run_claude(name: str, rows: int | None) -> dict:
    """A Claude scenario: the Anthropic provider against FakeClaude in its own process."""
    opts, default_rows = CLAUDE_SCENARIOS[name]
    count = rows or default_rows
    proc, base_url = start_claude(latency_ms=LATENCY_MS, **opts)
    try:
        with tempfile.TemporaryDirectory() as home:
            settings = Settings(
                anthropic_base_url=base_url, anthropic_api_key="bench", home=Path(home),
                anthropic_concurrency=CONCURRENCY,
            )  # fmt: skip
            provider = AnthropicProvider("claude-haiku-4-5", settings)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            results = list(
                provider.run(step("claude-haiku-4-5"), rows_for(count), [], RunOptions())
            )
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            provider.close()
        with urllib.request.urlopen(f"{base_url}/_fake/stats") as response:
            server = json.loads(response.read())
    finally:
        proc.terminate()
        proc.wait()
    ok = sum(r.status == "ok" for r in results)
    requests = server["requests_by_path"].get("/v1/messages", 0)
    out_per_row = server["output_tokens"] / max(server["answered"], 1)
    ceilings = [CONCURRENCY / (LATENCY_MS / 1000), opts["rpm"] / 60]
    if opts.get("output_tpm"):
        ceilings.append(opts["output_tpm"] / 60 / out_per_row)
    ceiling = min(ceilings)
    return {
        "scenario": name, "rows": count, "ok": ok, "lost": count - len(results),
        "failed": count - ok, "seconds": round(wall, 2), "rows_per_s": round(count / wall, 2),
        "ceiling": round(ceiling, 2), "ratio": round(count / wall / ceiling, 3),
        "requests": requests, "429s": server["rate_limited"],
        "429_pct": round(100 * server["rate_limited"] / max(requests, 1), 2),
        "cpu_ms_per_row": round(1000 * cpu / count, 3),
        "output_tokens_per_row": round(out_per_row, 1),
    }  # fmt: skip


SERVER_REQUESTS = 2000


async def _hammer(base_url: str, count: int) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)
    body = {"type": "json_schema", "json_schema": {"name": "bench", "strict": True, "schema": {
        "type": "object", "additionalProperties": False, "required": ["label"],
        "properties": {"label": {"type": "string", "enum": ["Positive", "Neutral", "Negative"]}},
    }}}  # fmt: skip
    async with openai.AsyncOpenAI(api_key="bench", base_url=base_url, max_retries=0) as client:

        async def one(i: int) -> None:
            async with gate:
                await client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": f"row {i} is positive"}],
                    response_format=body,  # type: ignore[arg-type]
                )

        await asyncio.gather(*(one(i) for i in range(count)))


def run_server(rows: int | None) -> dict:
    """FakeOpenAI's own pace: what the other scenarios' ceilings must stay well below."""
    count = rows or SERVER_REQUESTS
    proc, base_url = start_subprocess()
    try:
        wall0 = time.perf_counter()
        asyncio.run(_hammer(base_url, count))
        wall = time.perf_counter() - wall0
        server = stats(base_url)
    finally:
        proc.terminate()
        proc.wait()
    return {
        "scenario": "server",
        "requests": count,
        "answered": server["responses_by_status"].get("200", 0),
        "seconds": round(wall, 2),
        "requests_per_s": round(count / wall, 1),
        "target_per_s": 100,
        "max_in_flight": server["max_in_flight"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=None)
    choices = [*SCENARIOS, "server", *CLAUDE_SCENARIOS, "claude", "all"]
    parser.add_argument("--scenario", default="all", choices=choices)
    args = parser.parse_args()
    names = {"all": [*SCENARIOS, "server", *CLAUDE_SCENARIOS], "claude": [*CLAUDE_SCENARIOS]}
    for name in names.get(args.scenario, [args.scenario]):
        if name == "server":
            figures = run_server(args.rows)
        elif name in CLAUDE_SCENARIOS:
            figures = run_claude(name, args.rows)
        else:
            figures = run(name, args.rows)
        print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
