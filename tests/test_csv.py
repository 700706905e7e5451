"""CSV validation names the row and column of the first bad cell."""

import re

import numpy as np
import pytest

from tabserve.codecs.columns import MISSING_CATEGORY
from tabserve.codecs.csv_io import predictions_csv, read_csv, validated_columns
from tabserve.datasets import PENGUINS
from tabserve.errors import CsvError

HEADER = "island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex\n"


def parse(text: str):
    return validated_columns(PENGUINS, read_csv(PENGUINS, text.encode()))


def test_valid_rows_with_empty_cells_are_accepted():
    columns = parse(HEADER + "Biscoe,39.1,18.7,181,3750,male\nDream,,,,,\n")
    assert list(columns) == list(PENGUINS.input_columns)
    assert columns["bill_length_mm"][0] == 39.1 and np.isnan(columns["bill_length_mm"][1])
    assert columns["island"].tolist() == ["Biscoe", "Dream"]
    assert columns["sex"].tolist() == ["male", MISSING_CATEGORY]


def test_optional_columns_may_be_left_out():
    columns = parse("island,body_mass_g\nTorgersen,3400\n")
    assert columns["body_mass_g"].tolist() == [3400.0]
    assert np.isnan(columns["bill_length_mm"]).all() and columns["sex"].tolist() == [MISSING_CATEGORY]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Biscoe,abc,18.7,181,3750,male\n", "row 1 (line 2), column 'bill_length_mm'"),
        (
            "Biscoe,39.1,18.7,181,3750,male\nBiscoe,39.1,0,181,3750,male\n",
            "row 2 (line 3), column 'bill_depth_mm'",
        ),
        ("Biscoe,39.1,18.7,inf,3750,male\n", "column 'flipper_length_mm'"),
        ("Biscoe,39.1,18.7,181,nan,male\n", "column 'body_mass_g'"),
        ("Biscoe,39.1,18.7,181,3750,unknown\n", "column 'sex'"),
        ("Atlantis,39.1,18.7,181,3750,male\n", "column 'island'"),
        (",39.1,18.7,181,3750,male\n", "column 'island': a value is required"),
    ],
)
def test_bad_cells_are_reported_by_row_and_column(body, expected):
    with pytest.raises(CsvError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        parse(HEADER + body)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (HEADER.encode(), "no data rows"),
        (b"island,colour\nBiscoe,red\n", "unknown column"),
        (b"sex\nmale\n", "required column"),
        (HEADER.encode() + b"Biscoe,39.1,18.7,181,3750,m\xe4le\n", "not UTF-8"),
    ],
)
def test_unusable_files_are_refused_with_a_reason(data, expected):
    with pytest.raises(CsvError, match=expected):
        validated_columns(PENGUINS, read_csv(PENGUINS, data))


def test_predictions_are_appended_to_the_rows_as_sent():
    raw = read_csv(PENGUINS, (HEADER + "Biscoe,39.1,18.7,181,3750,male\n").encode())
    out = predictions_csv(PENGUINS, PENGUINS.classes, raw, np.array([[0.7, 0.2, 0.1]])).splitlines()
    assert out[0] == HEADER.strip() + (
        ",species,confidence,probability_Adelie,probability_Chinstrap,probability_Gentoo"
    )
    assert out[1] == "Biscoe,39.1,18.7,181,3750,male,Adelie,0.7,0.7,0.2,0.1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HEADER + "Biscoe,39.1,18.7,181,3750,male,extra\n", "line 2 has 7 cells but the header names 6"),
        (HEADER + "Biscoe,39.1,18.7,181,3750,male\n\n\nBiscoe,39.1,0,181,3750,male\n", "row 2 (line 5)"),
        ("island,island\nBiscoe,Dream\n", "named more than once: island"),
        (HEADER + 'Biscoe,"39.1,18.7,181,3750,male\n', "could not be parsed"),
    ],
)
def test_ragged_repeated_and_broken_files_are_refused_by_line(text, expected):
    with pytest.raises(CsvError, match=re.escape(expected)):
        parse(text)


def test_quoted_cells_and_short_rows_come_back_as_sent():
    text = HEADER + '"Biscoe", "39.1",18.7,181\nDream,,,,,"fe""male"\n'
    table = read_csv(PENGUINS, text.encode())
    assert table.rows[0] == ["Biscoe", "39.1", "18.7", "181", "", ""]  # missing trailing cells: empty
    with pytest.raises(CsvError, match="'fe\"male' is not one of"):
        validated_columns(PENGUINS, table)
    table = read_csv(PENGUINS, (HEADER + '"Biscoe", "39.1",18.7,181\n').encode())
    out = predictions_csv(PENGUINS, PENGUINS.classes, table, np.array([[0.1, 0.2, 0.7]])).splitlines()
    assert out[1] == "Biscoe,39.1,18.7,181,,,Gentoo,0.7,0.1,0.2,0.7"
