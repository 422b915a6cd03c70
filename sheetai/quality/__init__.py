"""Quality control: review samples, accuracy against gold labels, and the summary view.

``metrics`` and ``sampling`` are pure; ``data`` reads each step's answers and reviews from a
workbook loaded by :mod:`sheetai.engine.workbook`; ``review_tab``, ``report`` and
``summary_tab`` write the ``sheetai review``, ``sheetai qc`` and ``sheetai summary`` tabs.
"""

from ..engine.learning import REVIEW_TAB, reviewed_examples, reviewed_labels

__all__ = ["REVIEW_TAB", "reviewed_examples", "reviewed_labels"]
