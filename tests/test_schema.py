"""Input validation: what the API accepts and the clear reasons it refuses the rest."""

import math

import pytest
from pydantic import ValidationError

from tabserve.codecs.schema import MAX_BATCH_ROWS, batch_rows_type, input_model
from tabserve.datasets import PENGUINS

Penguin = input_model(PENGUINS)
GOOD = dict(PENGUINS.example)


def test_the_documented_example_is_valid():
    assert Penguin(**GOOD).model_dump() == GOOD


@pytest.mark.parametrize(
    "changes",
    [
        {"sex": None},
        {"bill_length_mm": None, "bill_depth_mm": None, "flipper_length_mm": None, "body_mass_g": None},
        {"bill_length_mm": 40},  # a JSON integer is a number
        {"island": "Torgersen", "sex": "female"},
    ],
)
def test_missing_values_and_integers_are_accepted(changes):
    Penguin(**{**GOOD, **changes})


def test_absent_optional_fields_are_null():
    penguin = Penguin(island="Dream")
    assert penguin.sex is None and penguin.body_mass_g is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("bill_length_mm", 0),
        ("bill_length_mm", -5.0),
        ("bill_depth_mm", 1e6),
        ("flipper_length_mm", math.nan),
        ("body_mass_g", math.inf),
        ("body_mass_g", -math.inf),
        ("bill_length_mm", "39.1"),
        ("bill_length_mm", True),
        ("bill_length_mm", [39.1]),
        ("island", "Atlantis"),
        ("island", None),
        ("island", 3),
        ("sex", "unknown"),
        ("sex", "Male"),
        ("wingspan_mm", 12.0),
    ],
)
def test_impossible_values_wrong_types_and_unknown_fields_are_refused_by_name(field, value):
    with pytest.raises(ValidationError) as caught:
        Penguin(**{**GOOD, field: value})
    assert [error["loc"] for error in caught.value.errors()] == [(field,)]


def test_island_is_required():
    with pytest.raises(ValidationError) as caught:
        Penguin(bill_length_mm=39.1)
    assert caught.value.errors()[0]["loc"] == ("island",)


def test_oversized_batches_are_refused_before_rows_are_validated():
    from pydantic import TypeAdapter

    rows = TypeAdapter(batch_rows_type(Penguin))
    # Every row is invalid; a row-by-row validator would report 10,001 errors, not one.
    with pytest.raises(ValidationError) as caught:
        rows.validate_python([{"island": "Atlantis"}] * (MAX_BATCH_ROWS + 1))
    assert caught.value.error_count() == 1
    assert "at most 10000 rows" in str(caught.value)
    with pytest.raises(ValidationError):
        rows.validate_python([])
    assert len(rows.validate_python([GOOD] * MAX_BATCH_ROWS)) == MAX_BATCH_ROWS
