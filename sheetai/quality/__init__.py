"""Quality control: review samples, accuracy against gold labels, and the summary view.

``metrics`` and ``sampling`` are pure; ``data`` reads a workbook; ``review_tab``, ``report``
and ``summary_tab`` write the ``sheetai review``, ``sheetai qc`` and ``sheetai summary`` tabs.
"""

from .data import REVIEW_TAB, reviewed_examples, reviewed_labels

__all__ = ["REVIEW_TAB", "reviewed_examples", "reviewed_labels"]
