"""Values shown as a spreadsheet shows them, for the text a model reads."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from sheetai.cell_values import CellError
from sheetai.display import display_text, is_date_format

MOMENT = datetime(2024, 1, 5, 14, 7, 9)


@pytest.mark.parametrize(
    ("value", "code", "shown"),
    [
        (datetime(2024, 1, 5), "yyyy-mm-dd", "2024-01-05"),
        (datetime(2024, 1, 5), "m/d/yyyy", "1/5/2024"),
        (datetime(2024, 1, 5), "d-mmm-yy", "5-Jan-24"),
        (datetime(2024, 1, 5), "dd/mm/yyyy", "05/01/2024"),
        (MOMENT, "dd/mm/yyyy hh:mm", "05/01/2024 14:07"),
        (MOMENT, "h:mm AM/PM", "2:07 PM"),
        (MOMENT, "hh:mm:ss", "14:07:09"),
        (MOMENT, "dddd, mmmm d, yyyy", "Friday, January 5, 2024"),
        (MOMENT, "mmm yyyy", "Jan 2024"),
        (MOMENT, "[$-409]d-mmm-yyyy", "5-Jan-2024"),
        (date(2024, 1, 5), "dd.mm.yy", "05.01.24"),
        (time(9, 30), "h:mm", "9:30"),
        (timedelta(hours=26, minutes=5), "[h]:mm", "26:05"),
        (45296, "yyyy-mm-dd", "2024-01-05"),  # a serial number with a date format
        (45296.5, "m/d/yyyy h:mm", "1/5/2024 12:00"),
    ],
)
def test_dates_and_times_follow_their_format(value: object, code: str, shown: str) -> None:
    assert display_text(value, code) == shown


@pytest.mark.parametrize(
    ("value", "code_or_id", "shown"),
    [
        (datetime(2024, 1, 5), 14, "2024-01-05"),  # locale short date: shown unambiguous
        (datetime(2024, 1, 5), "mm-dd-yy", "2024-01-05"),  # what openpyxl calls id 14
        (datetime(2024, 1, 5), 15, "5-Jan-24"),
        (datetime(2024, 1, 5, 8, 5), 22, "2024-01-05 8:05"),
        (0.25, 9, "25%"),
        (1234.5, 4, "1,234.50"),
        (-1234.5, 7, "($1,234.50)"),
        (0.5, 2, "0.50"),
    ],
)
def test_built_in_formats_by_id(value: object, code_or_id: object, shown: str) -> None:
    assert display_text(value, code_or_id) == shown  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "code", "shown"),
    [
        (0.125, "0%", "13%"),
        (0.125, "0.0%", "12.5%"),
        (1234567.891, "#,##0", "1,234,568"),
        (1234567.891, "#,##0.00", "1,234,567.89"),
        (2.5, "0", "3"),  # Excel rounds halves away from zero
        (3.14159, "0.000", "3.142"),
        (1.5, "0.##", "1.5"),
        (7, "000", "007"),
        (1234.5, '"$"#,##0.00', "$1,234.50"),
        (-1234.5, '"$"#,##0.00', "-$1,234.50"),
        (1234.5, "[$€-407] #,##0.00", "€ 1,234.50"),
        (1234.5, "#,##0.00 [$€-407]", "1,234.50 €"),
        (1234.5, "£#,##0", "£1,235"),
        (-42, "#,##0_);[Red](#,##0)", "(42)"),
        (0, '#,##0;-#,##0;"-"', "-"),
        (12345678, '#,##0,,"M"', "12M"),
        (0.000123, "0.00E+00", "1.23E-04"),
        (5, '0 "units"', "5 units"),
    ],
)
def test_numbers_follow_their_format(value: float, code: str, shown: str) -> None:
    assert display_text(value, code) == shown


def test_without_a_format_values_read_as_a_person_would_type_them() -> None:
    assert display_text(True) == "TRUE" and display_text(False) == "FALSE"
    assert display_text(0.30000000000000004) == "0.3"
    assert display_text(0.1 + 0.7) == "0.8"
    assert display_text(3.0) == "3" and display_text(-7) == "-7"
    assert display_text(datetime(2024, 1, 5)) == "2024-01-05"
    assert display_text(datetime(2024, 1, 5, 9, 30)) == "2024-01-05 09:30"
    assert display_text(date(2024, 1, 5)) == "2024-01-05"
    assert display_text(None) == "" and display_text("  text ") == "text"
    assert display_text(CellError("#N/A")) == "#N/A"


def test_unknown_or_unsuited_formats_fall_back_to_general() -> None:
    assert display_text(2.5, "# ?/?") == "2.5"  # fractions
    assert display_text(2.5, "@") == "2.5"
    assert display_text(2.5, "General") == "2.5"
    assert display_text(0.1 + 0.2, "no such format") == "0.3"  # not a code Excel would take
    assert display_text(datetime(2024, 1, 5), "0.00") == "2024-01-05"
    assert display_text(True, "0%") == "TRUE"
    assert display_text("12%", "0.0%") == "12%"  # text is shown as typed
    assert display_text(10**20, "yyyy-mm-dd") == "100000000000000000000"  # past Excel's dates


def test_which_codes_are_dates() -> None:
    assert all(map(is_date_format, ["yyyy-mm-dd", "h:mm", "[h]:mm:ss", "mmm-yy", "d"]))
    assert not any(map(is_date_format, ["0.00", '"$"#,##0', "General", "0%", '"days"0']))
