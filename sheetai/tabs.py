"""The names of the tabs sheetai keeps in a workbook beside the user's own sheets.

A neutral home: the backends size and skip these tabs, the engine and quality control write
them, and none of those parts should import another for a name.
"""

from __future__ import annotations

__all__ = ["STATE_TAB", "LOG_TAB", "REVIEW_TAB", "QC_TAB", "SUMMARY_TAB"]

STATE_TAB = "_sheetai_state"  # hidden: what each row's answer was, so unchanged rows cost nothing
LOG_TAB = "sheetai log"
REVIEW_TAB = "sheetai review"
QC_TAB = "sheetai qc"
SUMMARY_TAB = "sheetai summary"
