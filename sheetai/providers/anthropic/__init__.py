"""Anthropic (Claude) through the official ``anthropic`` SDK.

Modules, one job each: ``client`` (settings -> SDK clients, key check, ``max_tokens`` per task,
JSON outputs or a forced tool), ``shapes`` (request bodies: the cached system block, the output
format, the re-ask), ``answers`` (reply -> row), ``request`` (one request, retried through the
throttle), ``runner`` (the async workers, budget and re-ask), ``batch`` (Message Batches),
``provider`` (the :class:`~sheetai.providers.base.Provider`). The schema, prompt, pacing and
loop thread are every vendor's: :mod:`sheetai.providers.llm`.
"""

from .provider import AnthropicProvider

__all__ = ["AnthropicProvider"]
