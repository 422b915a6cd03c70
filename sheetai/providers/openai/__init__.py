"""OpenAI, Azure OpenAI and OpenAI-compatible servers (vLLM, Ollama, llama.cpp server).

Modules, one job each: ``client`` (endpoints, keys, SDK clients), ``schema`` (the answer model
built from the step), ``prompt`` (messages), ``throttle`` (RPM/TPM pacing), ``runner`` (the
async request loop and its workers), ``bridge`` (that loop's thread), ``request`` (one request,
retried), ``replies`` (reading failed replies), ``answers`` (completion -> row result),
``pricing``, ``batch`` (Batch API), ``provider`` (the :class:`~sheetai.providers.base.Provider`).
"""

from .provider import BatchSubmission, OpenAIProvider

__all__ = ["OpenAIProvider", "BatchSubmission"]
