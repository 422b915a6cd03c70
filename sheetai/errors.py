"""Every error sheetai raises on purpose.

The tree::

    SheetAIError                 root; ``str()`` is the message a user reads
    ├── ConfigError              the config tab is wrong (carries the cell, e.g. ``sheetai!C2``)
    ├── WorkbookError            the workbook cannot be opened, read or saved
    │   └── WorkbookLockedError  Excel has the file open (``~$`` lock file beside it)
    ├── ProviderError            a model provider cannot be used at all (not per row)
    ├── MissingExtraError        an optional dependency is not installed
    └── RunInterrupted           Ctrl-C or SIGTERM: finished rows saved, the rest resumable

Errors carry *where* (sheet, cell, step) and *what to do next*; third-party exceptions are
translated at each backend's or provider's edge with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = [
    "SheetAIError",
    "ConfigError",
    "WorkbookError",
    "WorkbookLockedError",
    "ProviderError",
    "MissingExtraError",
    "RunInterrupted",
]


class SheetAIError(Exception):
    """Root of every error sheetai raises for a user to read."""

    exit_code = 2


class ConfigError(SheetAIError):
    """The config tab (or a CLI argument standing in for it) is wrong.

    Args:
        message: what is wrong and how to fix it.
        cell: the A1 address with its sheet, e.g. ``sheetai!C2``; None when no single cell is at
            fault.
    """

    def __init__(self, message: str, cell: str | None = None) -> None:
        self.cell = cell
        self.message = message
        super().__init__(f"{cell}: {message}" if cell else message)


class WorkbookError(SheetAIError):
    """The workbook cannot be opened, read or written."""


class WorkbookLockedError(WorkbookError):
    """Excel (or LibreOffice) has the file open, so writing would lose someone's work."""


class ProviderError(SheetAIError):
    """A model provider cannot serve a step at all (unknown model, missing key, no executor)."""


class MissingExtraError(SheetAIError):
    """A feature needs an optional dependency that is not installed."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the '{module}' package, which is not installed. "
            f'Run: pip install "sheetai[{extra}]"'
        )


class RunInterrupted(SheetAIError):
    """The run was stopped (Ctrl-C, SIGTERM) after saving every finished row.

    ``summary`` holds what was done; the next run picks up the rest.
    """

    exit_code = 130

    def __init__(self, summary: object) -> None:
        self.summary = summary
        super().__init__(
            "stopped: every finished row is saved; run the same command again to do the rest."
        )
