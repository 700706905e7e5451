"""CSV validation names the row and column of the first bad cell."""

import pytest

from tabserve.csv_io import predictions_csv, read_csv, validated_frame
from tabserve.datasets import PENGUINS
from tabserve.errors import CsvError

HEADER = "island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex\n"


def parse(text: str):
    return validated_frame(PENGUINS, read_csv(PENGUINS, text.encode()))


def test_valid_rows_with_empty_cells_are_accepted():
    frame = parse(HEADER + "Biscoe,39.1,18.7,181,3750,male\nDream,,,,,\n")
    assert len(frame) == 2
    assert frame.loc[1, "bill_length_mm"] != frame.loc[1, "bill_length_mm"]  # NaN


def test_optional_columns_may_be_left_out():
    assert len(parse("island,body_mass_g\nTorgersen,3400\n")) == 1


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
        validated_frame(PENGUINS, read_csv(PENGUINS, data))


def test_predictions_are_appended_to_the_rows_as_sent():
    import numpy as np

    raw = read_csv(PENGUINS, (HEADER + "Biscoe,39.1,18.7,181,3750,male\n").encode())
    out = predictions_csv(PENGUINS, raw, np.array([[0.7, 0.2, 0.1]])).splitlines()
    assert out[0] == HEADER.strip() + (
        ",species,confidence,probability_Adelie,probability_Chinstrap,probability_Gentoo"
    )
    assert out[1] == "Biscoe,39.1,18.7,181,3750,male,Adelie,0.7,0.7,0.2,0.1"
