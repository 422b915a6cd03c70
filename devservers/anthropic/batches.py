"""Message Batches as the fake Claude keeps them.

A batch is ``in_progress`` until ``batch_delay_s`` has passed since its creation, then ``ended``
at the next poll; its lines are answered then, as message requests would be (no rate limit).
A line whose first user message holds ``__FAULT_500__`` ends ``errored``, ``__FAULT_EXPIRE__``
``expired``; a batch canceled before it ends has every line ``canceled``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from .model import MARKERS, _text

if TYPE_CHECKING:
    from .model import FakeClaudeModel

__all__ = ["BatchStore"]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")


class BatchStore:
    """The batches created; touched only on the server's loop."""

    def __init__(self, model: FakeClaudeModel) -> None:
        self.model = model
        self.batches: dict[str, dict[str, Any]] = {}
        self.results: dict[str, bytes] = {}

    def create(self, body: dict, results_root: str) -> dict:
        """A new batch of ``body["requests"]``; ``results_root`` is this server's URL."""
        requests = body["requests"]
        batch_id = f"msgbatch_{uuid.uuid4().hex[:24]}"
        self.batches[batch_id] = {
            "_requests": requests,
            "_started": time.monotonic(),
            "_url": f"{results_root}/v1/messages/batches/{batch_id}/results",
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "in_progress",
            "request_counts": {
                "processing": len(requests),
                "succeeded": 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            },  # fmt: skip
            "created_at": _now(),
            "expires_at": _now(),
            "ended_at": None,
            "cancel_initiated_at": None,
            "archived_at": None,
            "results_url": None,
        }
        return self.public(batch_id)

    def public(self, batch_id: str) -> dict:
        batch = self.batches[batch_id]
        if batch["processing_status"] != "ended":
            waited = time.monotonic() - batch["_started"]
            if batch["cancel_initiated_at"] or waited >= self.model.batch_delay_s:
                self._end(batch)
        return {k: v for k, v in batch.items() if not k.startswith("_")}

    def cancel(self, batch_id: str) -> dict:
        batch = self.batches[batch_id]
        if batch["processing_status"] == "in_progress":
            batch.update(processing_status="canceling", cancel_initiated_at=_now())
        return {k: v for k, v in batch.items() if not k.startswith("_")}

    def _end(self, batch: dict) -> None:
        lines, counts = [], batch["request_counts"]
        canceled = batch["cancel_initiated_at"] is not None
        for request in batch.pop("_requests"):
            params = request["params"]
            first = _text(params["messages"][0].get("content"))
            result: dict[str, Any]
            if canceled:
                result = {"type": "canceled"}
            elif "__FAULT_EXPIRE__" in first:
                result = {"type": "expired"}
            elif "__FAULT_500__" in first:
                error = {"type": "api_error", "message": "Internal server error"}
                result = {"type": "errored", "error": {"type": "error", "error": error}}
            else:
                markers = {m for m in MARKERS if m in first}
                result = {"type": "succeeded", "message": self.model.complete(params, markers)}
            counts[result["type"]] += 1
            lines.append(json.dumps({"custom_id": request["custom_id"], "result": result}))
        counts["processing"] = 0
        self.results[batch["id"]] = ("\n".join(lines) + "\n").encode()
        batch.update(processing_status="ended", ended_at=_now(), results_url=batch.pop("_url"))
