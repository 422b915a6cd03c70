"""Time and measure the memory of syncing a big .xlsx: first sync, no-change and 1 % re-syncs.

    python benchmarks/sync_100k.py [--rows 100000] [--provider server|instant] [--profile]

Each sync runs as ``sheetai run FILE --json --yes`` in its own process, so its peak resident
memory (``os.wait4``'s ``ru_maxrss``) is that sync's alone, start-up and the final save
included; the wall time is the process's, and its CPU time (user + system) is given beside it:
on a shared machine that is the steadier figure. The sheet has an ID, a review text and a formula
column (``=LEN(B2)``, stored without results, as any writer but Excel saves them) beside the
sentiment step's four output columns.

The step's model is ``gpt-4o-mini``. The first sync always answers through an in-process
provider that answers at once (through :func:`sheetai.sync` in a child process, as the CLI
calls it), so it takes a minute, not the quarter of an hour 100k requests take on two cores;
its time is sheetai's own (plan, write, save). The re-syncs use ``--provider``:

- ``instant`` (default): the same in-process provider: sheetai's own time.
- ``server``: ``sheetai run FILE --json --yes`` against the local OpenAI-compatible server
  (``devservers.openai``) in its own process, no latency and no limits: the real OpenAI client
  over HTTP, its import and requests included.

The phases: the first sync (every row answered), a no-change re-sync, and a re-sync after 1 %
of the review texts changed (spread over the sheet). Targets (issue 18): no-change < 5 s,
1 % re-sync < 10 s, peak memory < 500 MB each. ``--profile`` writes a cProfile of each
re-sync next to the printout (``sync_100k.<phase>.prof``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import openpyxl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.sync_10k import make_rows  # noqa: E402

TARGETS = {"no-change re-sync": 5.0, "1 % re-sync": 10.0}
MEMORY_TARGET_MB = 500.0
CONFIG = [
    ["Step", "Sheet", "Input", "Task", "Instructions", "Labels", "Output", "Model"],
    ["sentiment", "Feedback", "Review", "classify", "Classify the sentiment.",
     "Positive, Neutral, Negative", "Sentiment", "{model}"],
]  # fmt: skip

# The child of the ``instant`` provider: sync() with a provider that answers at once.
_INSTANT = """
import json, sys
from collections.abc import Iterator
from sheetai import Settings, SyncOptions, sync
from sheetai.backends.xlsx import XlsxBackend
from sheetai.providers.base import Estimate, Provider, RowResult

class Instant(Provider):
    def check(self, step): pass
    def estimate(self, step, rows): return Estimate(tokens=0, cost_usd=0.0)
    def run(self, step, rows, training, options) -> Iterator[RowResult]:
        for row in rows:
            label = "Negative" if "late" in row.text or "broken" in row.text else "Positive"
            yield RowResult(key=row.key, values=[label], reasoning="", confidence=0.9)

with XlsxBackend(sys.argv[1]) as backend:
    summary = sync(backend, Settings(), SyncOptions(), provider_for=lambda m, s: Instant())
print(json.dumps(summary.to_json()))
"""


def build(path: Path, texts: list[str], model: str) -> None:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Feedback")
    sheet.append(["ID", "Review", "Length"])
    for i, text in enumerate(texts, start=2):
        sheet.append([i - 1, text, f"=LEN(B{i})"])
    config = book.create_sheet("sheetai")
    for row in CONFIG:
        config.append([cell.format(model=model) for cell in row])
    book.save(path)


def change_rows(path: Path, share: float, seed: int = 11) -> int:
    """Rewrite ``share`` of the review texts, spread over the sheet; returns how many.

    Done by patching the sheet part (as a person's save would change only those cells), with
    sheetai's own writer, so the file keeps everything the sync wrote.
    """
    from sheetai.backends.base import CellBlock
    from sheetai.backends.xlsx_edit import EditSession

    book = openpyxl.load_workbook(path, read_only=True)
    rows = book["Feedback"].max_row
    book.close()
    rng = random.Random(seed)
    picked = rng.sample(range(2, rows + 1), max(1, int((rows - 1) * share)))
    session = EditSession(path)
    try:
        for row in picked:
            session.write(CellBlock("Feedback", row, 2, [[f"Changed review {row}: it broke."]]))
        session.save()
    finally:
        session.close()
    return len(picked)


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, float, dict[str, Any]]:
    """Run one sync process: (wall seconds, CPU seconds, peak RSS in MB, its --json summary)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    # communicate() reaped it; the children's peak is the largest any child has reached so
    # far, so each phase runs in a fresh grandchild that reports its own (see _child_argv).
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"sync failed ({proc.returncode}): {err.decode()[-2000:]}")
    lines = out.decode().strip().splitlines()
    report = json.loads(lines[-1])
    summary = json.loads(lines[-2])
    return seconds, report["cpu"], report["peak_rss_mb"], summary


def _child_argv(sync_argv: list[str], profile: Path | None) -> list[str]:
    """A process that runs ``sync_argv`` as its own child and prints that child's peak RSS."""
    wrapper = (
        "import json, os, subprocess, sys\n"
        "p = subprocess.Popen(sys.argv[1:])\n"
        "_, status, usage = os.wait4(p.pid, 0)\n"
        "code = os.waitstatus_to_exitcode(status)\n"
        "sys.stdout.flush()\n"
        "cpu = usage.ru_utime + usage.ru_stime\n"
        "print(json.dumps({'peak_rss_mb': usage.ru_maxrss / 1024, 'cpu': cpu, 'code': code}))\n"
        "sys.exit(code)\n"
    )
    if profile is not None:
        sync_argv = [sync_argv[0], "-m", "cProfile", "-o", str(profile), *sync_argv[1:]]
    return [sys.executable, "-c", wrapper, *sync_argv]


def _sync_argv(path: Path, provider: str) -> list[str]:
    if provider == "instant":
        script = path.with_name("instant_sync.py")
        script.write_text(_INSTANT)
        return [sys.executable, str(script), str(path)]
    return [sys.executable, "-m", "sheetai", "run", str(path), "--json", "--yes"]


def _uptime() -> str:
    with open("/proc/loadavg") as handle:
        return "load " + " ".join(handle.read().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--provider", choices=["server", "instant"], default="instant")
    parser.add_argument("--profile", action="store_true", help="cProfile each re-sync")
    parser.add_argument("--keep", type=Path, help="copy the synced workbook here")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="sheetai-bench-"))
    env = {**os.environ, "SHEETAI_HOME": str(folder / "home"), "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    server = None
    try:
        if args.provider == "server":
            from devservers.openai import start_subprocess

            server, base_url = start_subprocess()
            env.update(OPENAI_BASE_URL=base_url, OPENAI_API_KEY="sk-bench")
        path = folder / "bench.xlsx"
        build(path, make_rows(args.rows), "gpt-4o-mini")
        print(f"rows {args.rows}, re-syncs through {args.provider}, sheet with a formula column")
        print(f"{'phase':22} {'seconds':>8} {'cpu s':>6} {'rows/s':>9} {'peak MB':>8} {'--json s':>9}"
              f" {'rows run':>8}  {'time/target':>11} {'MB/target':>9}  load")  # fmt: skip
        for phase in ("first sync", "no-change re-sync", "1 % re-sync"):
            if phase == "1 % re-sync":
                change_rows(path, 0.01)
            profile = None
            if args.profile and phase != "first sync":
                profile = Path(f"sync_100k.{phase.split()[0].strip('%1 ') or 'one'}.prof")
            load = _uptime()
            provider = "instant" if phase == "first sync" else args.provider
            argv = _child_argv(_sync_argv(path, provider), profile)
            seconds, cpu, peak, summary = timed(argv, env)
            processed = summary.get("processed", 0)
            rate = processed / seconds if processed else 0.0
            target = TARGETS.get(phase)
            ratio = f"{seconds / target:11.2f}" if target else f"{'-':>11}"
            print(
                f"{phase:22} {seconds:8.2f} {cpu:6.1f} {rate:9.1f} {peak:8.0f} {summary['seconds']:9.2f}"
                f" {processed:8d}  {ratio} {peak / MEMORY_TARGET_MB:9.2f}  {load}"
            )
        if args.keep:
            shutil.copy(path, args.keep)
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
