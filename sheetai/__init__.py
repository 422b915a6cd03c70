"""sheetai: an LLM behind every row of a spreadsheet.

Library use::

    from sheetai import open_backend, sync
    with open_backend("feedback.xlsx") as workbook:
        summary = sync(workbook)
"""

from .backends import open_backend
from .engine.summary import RunSummary, StepSummary
from .engine.sync import SyncOptions, sync
from .errors import SheetAIError
from .settings import Settings

__version__ = "0.1.0"

__all__ = [
    "open_backend",
    "sync",
    "SyncOptions",
    "RunSummary",
    "StepSummary",
    "Settings",
    "SheetAIError",
    "__version__",
]
