"""For every model, answers over HTTP equal the saved Pipeline's own on the held-out rows."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from tabserve.datasets import PENGUINS
from tabserve.features import MISSING_CATEGORY
from tabserve.registry import latest, load_pipeline
from tabserve.training import split_dataset
from tests.helpers import rows_as_json

SEED = 42  # train.py's default, so these rows were held out from every model under test


@pytest.fixture(scope="module")
def held_out():
    """The held-out rows, plus copies of some with values knocked out to exercise imputation."""
    test = split_dataset(PENGUINS, SEED).X_test
    gaps = test.head(len(PENGUINS.input_columns) * 2).copy().reset_index(drop=True)
    optional = [f.name for f in PENGUINS.numeric] + [f.name for f in PENGUINS.categorical if not f.required]
    for index in gaps.index:
        column = optional[index % len(optional)]
        is_category = column in {f.name for f in PENGUINS.categorical}
        gaps.loc[index, column] = MISSING_CATEGORY if is_category else np.nan
    frame = pd.concat([test, gaps], ignore_index=True)
    return frame, rows_as_json(frame)


def newest_per_algorithm(records):
    by_algorithm = {}
    for record in records:
        by_algorithm.setdefault(record.algorithm, []).append(record)
    return [latest(group) for group in by_algorithm.values()]


def test_held_out_rows_include_missing_values(held_out):
    _, rows = held_out
    assert any(None in row.values() for row in rows)


@pytest.mark.parametrize(
    "algorithm", ["logistic_regression", "random_forest", "svm", "gradient_boosting", "knn"]
)
def test_http_answers_equal_the_pipeline(client, trained, held_out, algorithm):
    record = next(r for r in newest_per_algorithm(trained) if r.algorithm == algorithm)
    frame, rows = held_out
    expected = load_pipeline(record).predict_proba(frame)
    expected_species = np.asarray(PENGUINS.classes)[expected.argmax(axis=1)]

    assert client.post("/select_model", json={"model": record.tag}).status_code == 200

    batch = client.post("/predict_batch", json={"penguins": rows}).json()
    assert batch["model"] == record.tag
    got = np.array([[p["probabilities"][c] for c in PENGUINS.classes] for p in batch["predictions"]])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert [p["species"] for p in batch["predictions"]] == expected_species.tolist()

    for index in range(0, len(rows), 7):
        single = client.post("/predict", json=rows[index]).json()
        assert single["model"] == record.tag
        got = [single["probabilities"][c] for c in PENGUINS.classes]
        np.testing.assert_allclose(got, expected[index], rtol=0, atol=1e-12)

    csv = pd.DataFrame(rows).to_csv(index=False)
    answer = client.post("/predict_csv", files={"file": ("held_out.csv", csv, "text/csv")})
    assert answer.status_code == 200
    table = pd.read_csv(io.StringIO(answer.text))
    probabilities = table[[f"probability_{c}" for c in PENGUINS.classes]].to_numpy()
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-12)
    assert table["species"].tolist() == expected_species.tolist()
