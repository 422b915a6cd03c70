"""The counters of one run of the OpenAI provider (apart, so reading them loads no SDK)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RunStats"]


@dataclass
class RunStats:
    """Counters for the run log and the ``--json`` summary."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    reasked: int = 0
    invalid: int = 0  # rows whose last answer still broke the schema (flagged INVALID_OUTPUT)
    logprob_confidences: int = 0
    self_confidences: int = 0
    throttle_wait_s: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    response_format: str = ""  # the mode the last answers came in (see .formats)
    output_cap: int = 0  # the max_completion_tokens the last requests were sent with
