"""Combined throughput of N ``sheetai serve`` replicas sharing one API key, against its ceiling.

    python benchmarks/replicas.py [--replicas 3] [--rpm 300] [--sheets 6] [--rows 40]
        [--latency-ms 200] [--store postgresql://…]

N replicas (real processes, each its own ``SHEETAI_HOME``) share one PostgreSQL database (the
given ``--store``, ``SHEETAI_TEST_POSTGRES_URL``, or a throwaway server started from the
distribution's binaries) and sync ``--sheets`` sheets of ``--rows`` rows each on the local Sheets
server, through one key of the local OpenAI-compatible server (in this process) limited to
``--rpm`` requests per (real) minute. It prints rows/s from the first request for a sync to the
last job done, the same while the key was busy (first to last model request, as the server saw
them), the key's ceiling (``rpm / 60``), their ratios and the 429s. Targets: ratio while sending
>= 0.9, 429s under 1 % of requests.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devservers.openai import FakeOpenAI  # noqa: E402
from devservers.sheets import FakeSheets, make_service_account  # noqa: E402
from tests.conftest import CONFIG_HEADER, REVIEWS, sentiment_step  # noqa: E402
from tests.postgres import fresh_database, start_server  # noqa: E402
from tests.replicas import Cluster  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--rpm", type=int, default=300)
    parser.add_argument("--sheets", type=int, default=6)
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--store", default=os.environ.get("SHEETAI_TEST_POSTGRES_URL"))
    args = parser.parse_args()

    stop_db = None
    server = args.store
    if server is None:
        server, stop_db = start_server()
    arrivals: list[float] = []

    async def arrived(method: str, path: str) -> None:
        if "chat" in path:
            arrivals.append(time.monotonic())

    openai = FakeOpenAI(rpm=args.rpm, latency_ms=args.latency_ms, on_request=arrived).start()
    base_url = openai.base_url
    try:
        with tempfile.TemporaryDirectory() as tmp, FakeSheets() as sheets:
            root = Path(tmp)
            info = make_service_account(sheets)
            (root / "sa.json").write_text(json.dumps(info))
            sids = []
            for s in range(args.sheets):
                rows = [["ID", "Review"]]
                rows += [[i, f"{REVIEWS[i % 8]} (book {s} row {i})"] for i in range(args.rows)]
                sids.append(
                    sheets.add_spreadsheet(
                        f"Book{s}",
                        {
                            "Feedback": rows,
                            "sheetai": [CONFIG_HEADER, sentiment_step(Model="gpt-4.1-mini")],
                        },
                        share_with=[info["client_email"]],
                    )
                )
            env = {
                "SHEETAI_GOOGLE_API_URL": sheets.url, "SHEETAI_GOOGLE_CREDENTIALS": str(root / "sa.json"),
                "SHEETAI_GOOGLE_COMMIT_SECONDS": "0", "OPENAI_BASE_URL": base_url,
                "OPENAI_API_KEY": "sk-bench",
            }  # fmt: skip
            store = fresh_database(server) if server.endswith("/postgres") else server
            with Cluster(store, root, env, count=args.replicas) as cluster:
                started = time.monotonic()
                with ThreadPoolExecutor(8) as pool:
                    asks = [
                        (cluster.replicas[i % args.replicas], sid) for i, sid in enumerate(sids)
                    ]
                    replies = list(
                        pool.map(
                            lambda a: cluster.post(a[0], "/v1/sync", {"spreadsheet_id": a[1]}), asks
                        )
                    )
                jobs = cluster.wait_done({r["job_id"] for r in replies}, patience=3600)
                seconds = time.monotonic() - started
                ran = {i for i, _ in cluster.events("job started")}
            stats = openai.stats()
    finally:
        openai.stop()
        if stop_db is not None:
            stop_db()
    rows = args.sheets * args.rows
    requests = sum(n for path, n in stats["requests_by_path"].items() if "chat" in path)
    limited = stats["rate_limited"]
    ceiling = args.rpm / 60
    # While the key was busy: from the first request to the last, as the server saw them.
    steady = (len(arrivals) - 1) / (max(arrivals) - min(arrivals)) if len(arrivals) > 1 else 0.0
    print(
        json.dumps(
            {
                "replicas": args.replicas,
                "replicas_that_synced": len(ran),
                "rows": rows,
                "statuses": sorted({j["status"] for j in jobs.values()}),
                "seconds": round(seconds, 1),
                "rows_per_s": round(rows / seconds, 2),
                "ceiling_per_s": round(ceiling, 2),
                "ratio": round(rows / seconds / ceiling, 3),
                "requests_per_s_while_sending": round(steady, 2),
                "ratio_while_sending": round(steady / ceiling, 3),
                "requests": requests,
                "429s": limited,
                "429_pct": round(100 * limited / max(requests, 1), 2),
                "load": os.getloadavg()[0],
            },
            indent=1,
        )  # fmt: skip
    )


if __name__ == "__main__":
    main()
