"""Bespoke Curator on the same rows and server as ``throughput.py`` (run in Curator's own venv).

    /tmp/curator-venv/bin/python benchmarks/curator_run.py JOB.json

``JOB.json`` holds ``base_url``, ``model``, ``messages`` (one chat per row, as sheetai sends
them) and ``labels``; ``throughput.py --curator PYTHON`` writes it, runs this with Curator's
Python and reads the one JSON line it prints: rows, ok, seconds, rows_per_s. Curator is not a
dependency of sheetai: install it apart (``pip install bespokelabs-curator``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
import time
from typing import Literal

os.environ.setdefault("TELEMETRY_ENABLED", "false")
os.environ.setdefault("CURATOR_DISABLE_RICH_DISPLAY", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("CURATOR_CACHE_DIR", tempfile.mkdtemp(prefix="curator-cache-"))
# tiktoken downloads cl100k_base on first use; litellm ships that file: offline, use its copy.
_LITELLM = importlib.util.find_spec("litellm")
if _LITELLM is not None and _LITELLM.origin:
    _TOKENIZERS = os.path.join(os.path.dirname(_LITELLM.origin), "litellm_core_utils", "tokenizers")
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", _TOKENIZERS)

from bespokelabs import curator  # noqa: E402
from pydantic import BaseModel, create_model  # noqa: E402


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        job = json.load(handle)
    answer: type[BaseModel] = create_model(
        "Classification",
        reasoning=(str, ...),
        label=(Literal[tuple(job["labels"])], ...),  # type: ignore[valid-type]
        confidence=(float, ...),
    )

    class Classifier(curator.LLM):
        def prompt(self, row: dict) -> list[dict]:
            return json.loads(row["chat"])

        def parse(self, row: dict, response: BaseModel) -> dict:
            return {"label": response.label}

    llm = Classifier(
        model_name=job["model"],
        response_format=answer,
        backend="openai",
        backend_params={
            "base_url": job["base_url"],
            "api_key": "bench",
            "max_concurrent_requests": job.get("concurrency", 64),
            "require_all_responses": False,
        },
    )
    rows = [{"chat": json.dumps(m)} for m in job["messages"]]
    started = time.perf_counter()
    done = llm(rows)
    seconds = time.perf_counter() - started
    dataset = getattr(done, "dataset", done)
    ok = sum(1 for r in dataset if r.get("label"))
    figures = {"rows": len(rows), "ok": ok, "seconds": round(seconds, 2)}
    print(json.dumps({**figures, "rows_per_s": round(len(rows) / seconds, 2)}), flush=True)


if __name__ == "__main__":
    main()
