"""Files and Batches as the fake OpenAI keeps them.

A batch goes validating -> in_progress at its first poll, and in_progress -> completed once
``batch_delay_s`` has passed since it was created; its lines are answered then, as chat
requests would be. A line whose user text holds ``__FAULT_500__`` goes to the error file.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from .answers import user_texts
from .model import MARKERS, new_id

if TYPE_CHECKING:
    from .model import FakeModel

__all__ = ["BatchStore"]


def _public(batch: dict) -> dict:
    return {k: v for k, v in batch.items() if not k.startswith("_")}


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


class BatchStore:
    """Uploaded files and the batches made from them; touched only on the server's loop."""

    def __init__(self, model: FakeModel) -> None:
        self.model = model
        self.files: dict[str, dict] = {}
        self.data: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}

    def store_file(self, data: bytes, filename: str, purpose: str) -> dict:
        """Keep a file; return its ``file`` object."""
        meta: dict[str, Any] = {
            "id": new_id("file-"), "object": "file", "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename, "purpose": purpose, "status": "processed", "status_details": None,
        }  # fmt: skip
        self.files[meta["id"]], self.data[meta["id"]] = meta, data
        return meta

    def list_files(self, purpose: str | None) -> list[dict]:
        """Newest first, of one purpose if given."""
        return [f for f in reversed(self.files.values()) if purpose in (None, f["purpose"])]

    def delete_file(self, file_id: str) -> None:
        del self.files[file_id], self.data[file_id]

    def create(self, params: dict) -> dict:
        """A new batch over ``params["input_file_id"]``."""
        now = int(time.time())
        batch = {
            "id": new_id("batch_"), "object": "batch", "endpoint": params["endpoint"],
            "errors": None, "input_file_id": params["input_file_id"], "completion_window": "24h",
            "status": "validating", "output_file_id": None, "error_file_id": None,
            "created_at": now, "in_progress_at": None, "expires_at": now + 86400,
            "finalizing_at": None, "completed_at": None, "failed_at": None, "expired_at": None,
            "cancelling_at": None, "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": params.get("metadata"), "model": None, "usage": None,
            "_started": time.monotonic(),
        }  # fmt: skip
        self.batches[batch["id"]] = batch
        return _public(batch)

    def get(self, batch_id: str) -> dict:
        """The batch as a poll sees it now."""
        batch = self.batches[batch_id]
        self._advance(batch)
        return _public(batch)

    def list(self, limit: int) -> list[dict]:
        """The newest ``limit`` batches."""
        return [self.get(b) for b in list(reversed(self.batches))[:limit]]

    def _advance(self, batch: dict) -> None:
        if batch["status"] == "validating":
            raw_lines = self.data[batch["input_file_id"]].splitlines()
            lines = [json.loads(raw) for raw in raw_lines if raw.strip()]
            batch.update(status="in_progress", in_progress_at=int(time.time()), _lines=lines)
            batch["request_counts"]["total"] = len(lines)
            batch["model"] = lines[0]["body"]["model"]
        started = batch["_started"]
        if (
            batch["status"] == "in_progress"
            and time.monotonic() - started >= self.model.batch_delay_s
        ):
            self._run(batch)

    def _run(self, batch: dict) -> None:
        outputs, failures = [], []
        tokens_in = tokens_out = 0
        for item in batch.pop("_lines"):
            body = item["body"]
            user = "\n".join(user_texts(body))
            line = {"id": new_id("batch_req_"), "custom_id": item["custom_id"], "error": None}
            if "__FAULT_500__" in user:
                error = {"message": "The server had an error processing your request.",
                         "type": "server_error", "param": None, "code": None}  # fmt: skip
                response = {"status_code": 500, "body": {"error": error}}
                failures.append(line)
            else:
                completion, _ = self.model.complete(body, {m for m in MARKERS if m in user})
                tokens_in += completion["usage"]["prompt_tokens"]
                tokens_out += completion["usage"]["completion_tokens"]
                response = {"status_code": 200, "body": completion}
                outputs.append(line)
            line["response"] = {**response, "request_id": uuid.uuid4().hex}
        name = batch["id"]
        if outputs:
            output = self.store_file(_jsonl(outputs), f"{name}_output.jsonl", "batch_output")
            batch["output_file_id"] = output["id"]
        if failures:
            errors = self.store_file(_jsonl(failures), f"{name}_error.jsonl", "batch_output")
            batch["error_file_id"] = errors["id"]
        now = int(time.time())
        batch.update(status="completed", finalizing_at=now, completed_at=now)
        batch["request_counts"].update(completed=len(outputs), failed=len(failures))
        batch["usage"] = {
            "input_tokens": tokens_in, "output_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        }  # fmt: skip
