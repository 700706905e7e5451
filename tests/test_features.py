"""The shared feature pipeline: derived features, missing values, one definition for both sides."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from tabserve.codecs.columns import MISSING_CATEGORY, columns_from_rows
from tabserve.codecs.frames import frame_from_columns, normalise_frame
from tabserve.codecs.schema import input_model
from tabserve.datasets import PENGUINS
from tabserve.features import RatioFeatures, build_pipeline

Penguin = input_model(PENGUINS)


def test_ratio_features_compute_the_specified_derived_columns():
    columns = tuple(f.name for f in PENGUINS.numeric)
    ratios = tuple((d.name, d.numerator, d.denominator, d.factor) for d in PENGUINS.derived)
    transformer = RatioFeatures(columns=columns, ratios=ratios)
    row = np.array([[39.1, 18.7, 181.0, 3750.0]])
    out = transformer.fit_transform(row)
    assert out.shape == (1, 7)
    assert out[0, :4].tolist() == row[0].tolist()
    assert out[0, 4] == pytest.approx(39.1 / 18.7)  # bill_ratio
    assert out[0, 5] == pytest.approx(3.75)  # body_mass_kg
    assert out[0, 6] == pytest.approx(3750.0 / 181.0)  # mass_flipper_ratio
    assert list(transformer.get_feature_names_out()) == [
        *columns,
        "bill_ratio",
        "body_mass_kg",
        "mass_flipper_ratio",
    ]


def test_frames_from_rows_and_from_tables_are_identical():
    rows = [Penguin(**PENGUINS.example), Penguin(island="Dream")]
    table = pd.DataFrame(
        [PENGUINS.example, {"island": "Dream", "sex": None, "bill_length_mm": None}],
    )
    from_rows = frame_from_columns(PENGUINS, columns_from_rows(PENGUINS, rows))
    from_table = normalise_frame(PENGUINS, table.reindex(columns=list(PENGUINS.input_columns)))
    pd.testing.assert_frame_equal(from_rows, from_table, check_dtype=False)
    assert from_rows.loc[1, "sex"] == MISSING_CATEGORY
    assert math.isnan(from_rows.loc[1, "bill_length_mm"])
    assert list(from_rows.columns) == list(PENGUINS.input_columns)


def test_pipeline_imputes_missing_values_instead_of_failing():
    data = PENGUINS.load()
    X, y = normalise_frame(PENGUINS, data), data["species"].to_numpy()
    pipeline = build_pipeline(PENGUINS, LogisticRegression(max_iter=2000)).fit(X, y)
    sparse = frame_from_columns(PENGUINS, columns_from_rows(PENGUINS, [Penguin(island="Torgersen")]))
    probabilities = pipeline.predict_proba(sparse)
    assert probabilities.shape == (1, 3)
    assert probabilities.sum() == pytest.approx(1.0)
    names = list(pipeline[:-1].get_feature_names_out())
    assert {"bill_ratio", "body_mass_kg", "mass_flipper_ratio", "island_Biscoe", "sex_male"} <= set(names)


def test_dataset_loads_offline_without_unlabelled_rows():
    data = PENGUINS.load()
    assert len(data) == 344
    assert data["species"].notna().all()
    assert set(data["species"]) == set(PENGUINS.classes)
    assert list(data.columns) == [*PENGUINS.input_columns, "species"]


def test_missing_categories_may_be_the_sentinel_none_nan_or_pandas_na():
    data = PENGUINS.load()
    X, y = normalise_frame(PENGUINS, data), data["species"].to_numpy()
    pipeline = build_pipeline(PENGUINS, LogisticRegression(max_iter=2000)).fit(X, y)
    raw = data.drop(columns="species")  # as pandas gives it: NaN for a missing sex
    assert raw["sex"].isna().any()
    spellings = [
        raw,
        raw.astype({"sex": object}).where(raw.notna(), None),
        raw.astype({"sex": "string", "island": "string"}),  # pd.NA
    ]
    for frame in spellings:
        np.testing.assert_array_equal(pipeline.predict_proba(frame), pipeline.predict_proba(X))
