"""The counters of one run of the OpenAI provider (apart, so reading them loads no SDK)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..llm.answers import Counters

__all__ = ["RunStats"]


@dataclass
class RunStats(Counters):
    """The shared counters, and what only OpenAI-compatible servers tell."""

    logprob_confidences: int = 0
    self_confidences: int = 0
    throttle_wait_s: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    response_format: str = ""  # the mode the last answers came in (see .formats)
    output_cap: int = 0  # the max_completion_tokens the last requests were sent with
    cut_offs: int = 0  # answers cut off at the output cap (asked again with room)
