"""Google Gemini through the official ``google-genai`` SDK.

Modules, one job each: ``client`` (the SDK client from the settings; reading its errors),
``request`` (what one request asks: contents, schema, token caps; what its answer says),
``runner`` (the async request loop: throttle, retries, re-ask, budget), ``batch`` (batch mode,
at half price), ``provider`` (the :class:`~sheetai.providers.base.Provider`).
"""

from .provider import GeminiProvider

__all__ = ["GeminiProvider"]
