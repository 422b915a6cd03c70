"""Spreadsheet backends behind one interface (:class:`~sheetai.backends.base.Backend`)."""

from .base import Backend, CellBlock
from .open import open_backend

__all__ = ["Backend", "CellBlock", "open_backend"]
