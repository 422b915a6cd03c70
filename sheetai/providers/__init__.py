"""Model providers behind one interface (:class:`~sheetai.providers.base.Provider`)."""

from .base import Estimate, Provider, RowInput, RowResult
from .registry import get_provider

__all__ = ["Estimate", "Provider", "RowInput", "RowResult", "get_provider"]
