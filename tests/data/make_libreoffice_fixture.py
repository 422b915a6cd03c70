"""Build tests/data/libreoffice.xlsx: a workbook LibreOffice Calc wrote (run once, by hand).

CI has no LibreOffice, so the file is committed. Needs `soffice` on PATH:
    python tests/data/make_libreoffice_fixture.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import openpyxl

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent.parent))

from tests.conftest import CONFIG_HEADER, REVIEWS, sentiment_step  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = "Feedback"
        sheet.append(["Review", "Length"])
        for i, text in enumerate(REVIEWS[:4], start=2):
            sheet.append([text, f"=LEN(A{i})"])
        sheet["A1"].font = openpyxl.styles.Font(bold=True)
        config = book.create_sheet("sheetai")
        config.append(CONFIG_HEADER)
        config.append(sentiment_step())
        book.save(work / "source.xlsx")
        # Through .ods and back, so every part of the result is LibreOffice's own writing
        # (its shared strings, styles, cached formula results).
        for source, target in (("source.xlsx", "ods"), ("source.ods", "xlsx")):
            subprocess.run(
                [
                    "soffice",
                    "--headless",
                    "--convert-to",
                    target,
                    "--outdir",
                    str(work),
                    str(work / source),
                ],
                check=True,
                capture_output=True,
                timeout=180,
            )
        shutil.copy(work / "source.xlsx", HERE / "libreoffice.xlsx")


if __name__ == "__main__":
    main()
