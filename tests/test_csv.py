"""CSV validation names the row and column of the first bad cell; files as people have them
(the dataset's own file, extra columns, NA cells, semicolons, tabs, BOM, CRLF) are read as meant."""

import csv
import io
import re
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from tabserve.codecs.columns import MISSING_CATEGORY
from tabserve.codecs.csv_io import (
    output_columns,
    predictions_csv,
    read_csv,
    sniff_delimiter,
    validated_columns,
)
from tabserve.datasets import PENGUINS
from tabserve.errors import CsvError

HEADER = "island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex\n"
#: The ``palmerpenguins`` package's own file, with its ``species`` and ``year`` columns and NA cells
#: (found without importing the package, which imports pandas).
PACKAGE_CSV = Path(find_spec("palmerpenguins").origin).parent / "data" / "penguins.csv"
OUTPUT = ["confidence", *(f"probability_{name}" for name in PENGUINS.classes)]


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
        ("Biscoe,39.1,18.7,181,1e999,male\n", "column 'body_mass_g'"),  # nan now means missing
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
        (b"\xef\xbb\xbf\r\n", "empty"),  # a byte-order mark alone
        (HEADER.encode(), "no data rows"),
        (b"colour,size\nred,3\n", "names none of the model's columns"),  # island,colour is fine now
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
        ("\n\r\n" + HEADER + "Biscoe,abc,18.7,181,3750,male\n", "row 1 (line 4)"),  # blank lines first
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


def fake_probabilities(rows: int) -> np.ndarray:
    """Deterministic, row-distinct probabilities: enough to check where each one lands."""
    scores = np.arange(rows * 3, dtype=np.float64).reshape(rows, 3) % 7 + 1
    return scores / scores.sum(axis=1, keepdims=True)


def test_the_packages_own_file_comes_back_with_its_columns_intact():
    data = PACKAGE_CSV.read_bytes()
    table = read_csv(PENGUINS, data)
    columns = validated_columns(PENGUINS, table)
    assert len(table.rows) == 344 and b"NA" in data
    assert np.isnan(columns["bill_length_mm"][3]) and columns["sex"][3] == MISSING_CATEGORY  # an all-NA row
    probabilities = fake_probabilities(344)
    out = list(csv.reader(io.StringIO(predictions_csv(PENGUINS, PENGUINS.classes, table, probabilities))))
    sent = list(csv.reader(io.StringIO(data.decode())))
    assert out[0] == [*sent[0], "predicted_species", *OUTPUT]
    assert len(out) == 345
    for got, row, scores in zip(out[1:], sent[1:], probabilities, strict=True):
        assert got[: len(row)] == row  # species, NA cells and year exactly as sent
        assert got[len(row)] == PENGUINS.classes[scores.argmax()]
        assert [float(cell) for cell in got[-3:]] == scores.tolist()


TOKENS = ["NA", "na", "Na", "NaN", "nan", "NAN", "null", "NULL", "Null", "None", "none", "NONE", "N/A", "n/a"]


@pytest.mark.parametrize("token", [*TOKENS, " NA ", ""])
def test_missing_tokens_mean_missing_in_numeric_and_categorical_cells(token):
    text = HEADER + f"Biscoe,{token},18.7,{token},3750,{token}\nDream,39.1,{token},181,{token},female\n"
    table = read_csv(PENGUINS, text.encode())
    columns = validated_columns(PENGUINS, table)
    assert np.isnan(columns["bill_length_mm"][0]) and np.isnan(columns["flipper_length_mm"][0])
    assert np.isnan(columns["bill_depth_mm"][1]) and np.isnan(columns["body_mass_g"][1])
    assert columns["bill_length_mm"][1] == 39.1 and columns["body_mass_g"][0] == 3750
    assert columns["sex"].tolist() == [MISSING_CATEGORY, "female"]
    out = predictions_csv(PENGUINS, PENGUINS.classes, table, fake_probabilities(2)).splitlines()
    sent = token.lstrip()  # as the csv module reads it: spaces after a delimiter are skipped
    assert out[1].startswith(f"Biscoe,{sent},18.7,{sent},3750,{sent},")


@pytest.mark.parametrize("token", TOKENS)
def test_a_missing_token_is_no_value_for_a_required_column(token):
    with pytest.raises(CsvError, match=re.escape("row 1 (line 2), column 'island': a value is required")):
        parse(HEADER + f"{token},39.1,18.7,181,3750,male\n")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("nil", "'nil' is not a finite number"), ("NA NA", "'NA NA' is not"), ("-nan", "'-nan' is not")],
)
def test_words_that_are_not_missing_tokens_are_still_refused(cell, expected):
    with pytest.raises(CsvError, match=re.escape(expected)):
        parse(HEADER + f"Biscoe,{cell},18.7,181,3750,male\n")


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_files_are_read_and_answered_in_their_delimiter(delimiter):
    rows = [["id", *HEADER.strip().split(",")], ["a,1", "Biscoe", "39.1", "18.7", "181", "3750", "male"]]
    rows.append(["b 2", "Dream", "NA", "", "NA", "", "NA"])
    text = "".join(delimiter.join(row) + "\n" for row in rows)
    table = read_csv(PENGUINS, text.encode())
    assert validated_columns(PENGUINS, table)["bill_length_mm"].tolist() == [
        39.1,
        pytest.approx(np.nan, nan_ok=True),
    ]
    out = predictions_csv(PENGUINS, PENGUINS.classes, table, fake_probabilities(2))
    got = list(csv.reader(io.StringIO(out), delimiter=delimiter))
    assert got[0] == [*rows[0], "species", *OUTPUT]
    assert [row[:7] for row in got[1:]] == rows[1:]
    assert out.splitlines()[1].startswith("a,1;Biscoe;" if delimiter == ";" else "a,1\tBiscoe\t")


def test_a_quoted_cell_holding_the_delimiter_comes_back_quoted():
    table = read_csv(PENGUINS, b'note;island\n"a;b";Biscoe\n')
    assert table.delimiter == ";" and table.rows == [["a;b", "Biscoe"]]
    assert (
        predictions_csv(PENGUINS, PENGUINS.classes, table, fake_probabilities(1))
        .splitlines()[1]
        .startswith('"a;b";Biscoe;')
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("island,sex", ","),
        ("island;sex", ";"),
        ("island\tsex\tbill_length_mm", "\t"),
        ('"a,b,c";island;sex', ";"),  # quoted names do not count
        ("island", ","),  # one column: the default
        ("a,b;c", ","),  # a tie: comma
        ("island;sex\r\nBiscoe,x,y,z\r\n", ";"),  # only the header line counts
    ],
)
def test_the_delimiter_is_the_header_lines_most_common(header, expected):
    assert sniff_delimiter(header) == expected


def test_a_byte_order_mark_and_crlf_are_read_in_any_delimiter():
    data = b"\xef\xbb\xbf" + PACKAGE_CSV.read_bytes().replace(b",", b";").replace(b"\n", b"\r\n")
    table = read_csv(PENGUINS, data)
    assert table.header[0] == "species" and table.delimiter == ";" and len(table.rows) == 344
    assert table.rows[0] == ["Adelie", "Torgersen", "39.1", "18.7", "181", "3750", "male", "2007"]
    validated_columns(PENGUINS, table)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["island"], ["species", *OUTPUT]),
        (["species", "island"], ["predicted_species", *OUTPUT]),
        (
            ["island", "species", "predicted_species", "confidence", "probability_Gentoo"],
            [
                "predicted_predicted_species",
                "predicted_confidence",
                "probability_Adelie",
                "probability_Chinstrap",
                "predicted_probability_Gentoo",
            ],
        ),
    ],
)
def test_an_output_column_the_input_already_has_is_prefixed_predicted(header, expected):
    assert output_columns(PENGUINS, PENGUINS.classes, header) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("species,year\nAdelie,2007\n", "names none of the model's columns (it has 'species', 'year'); "),
        ("species,year\nAdelie,2007\n", "expected columns are island (required), bill_length_mm"),
        ("species;year;sex\nAdelie;2007;male\n", "required column(s) missing: island"),
        ("island,id,id\nBiscoe,1,2\n", "named more than once: id"),
        ("id;island\n1;Biscoe\n2;Dream;x\n", "line 3 has 3 cells but the header names 2"),
        ("id\tisland\n1\tAtlantis\n", "row 1 (line 2), column 'island': 'Atlantis' is not one of"),
    ],
)
def test_files_with_extra_columns_are_still_checked(text, expected):
    with pytest.raises(CsvError, match=re.escape(expected)):
        parse(text)


def test_the_packages_own_file_is_predicted_by_the_server(client):
    data = PACKAGE_CSV.read_bytes()
    response = client.post("/predict_csv", files={"file": ("penguins.csv", data, "text/csv")})
    assert response.status_code == 200, response.text
    out = list(csv.reader(io.StringIO(response.text)))
    sent = list(csv.reader(io.StringIO(data.decode())))
    assert out[0] == [*sent[0], "predicted_species", *OUTPUT] and len(out) == 345
    assert [row[: len(sent[0])] for row in out[1:]] == sent[1:]
    agree = sum(row[0] == row[len(sent[0])] for row in out[1:])
    assert agree / 344 > 0.9  # the model's columns reached the model, not the passed-through ones


def test_a_semicolon_file_with_bom_crlf_and_na_is_predicted_by_the_server(client):
    text = "\ufeffid;island;bill_length_mm;sex\r\n7;Biscoe;39.1;NA\r\n8;Dream;n/a;null\r\n"
    response = client.post("/predict_csv", files={"file": ("p.csv", text.encode(), "text/csv")})
    assert response.status_code == 200, response.text
    lines = response.text.splitlines()
    assert lines[0] == ";".join(["id", "island", "bill_length_mm", "sex", "species", *OUTPUT])
    assert lines[1].startswith("7;Biscoe;39.1;NA;") and lines[2].startswith("8;Dream;n/a;null;")
