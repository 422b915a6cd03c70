"""What a batch submission that stopped part way means, the same for every vendor's Batch API.

A batch that was created is billed, so it is handed over and tracked even when creating the
next one failed; only when none was created does the step stop with the vendor's reason.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...errors import ProviderError

__all__ = ["partly_submitted"]


def partly_submitted(
    step: str, what: str, created: Mapping[str, list[str]], reason: str, cause: BaseException
) -> str:
    """The problem to report when creating ``what`` (e.g. "the Message Batch") stopped after
    ``created``; raises :class:`ProviderError` when nothing was created.

    >>> partly_submitted("s", "the batch", {"b1": ["k"]}, "APIError", RuntimeError())[:50]
    "step 's': 1 batch(es) created, then creating the n"
    """
    if not created:
        raise ProviderError(f"step '{step}': {what} could not be created ({reason}).") from cause
    return (
        f"step '{step}': {len(created)} batch(es) created, then creating the next failed "
        f"({reason}); the rows not submitted run on the next run."
    )
