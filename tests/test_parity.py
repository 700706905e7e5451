"""For every model, answers over HTTP equal the saved Pipeline's own on the held-out rows.

Models served by the ONNX fast path may differ by float rounding (at most PARITY_TOLERANCE);
models served by scikit-learn must match exactly.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from tabserve.codecs.frames import rows_from_frame, with_gaps
from tabserve.datasets import PENGUINS
from tabserve.serving.engines import WIDE_ROWS
from tabserve.store.registry import PARITY_TOLERANCE, latest, load_pipeline
from tabserve.training.algorithms import ALGORITHMS
from tabserve.training.tuning import split_dataset

SEED = 42  # train.py's default, so these rows were held out from every model under test


@pytest.fixture(scope="module")
def held_out():
    """The held-out rows, plus copies with values knocked out to exercise imputation."""
    frame = with_gaps(PENGUINS, split_dataset(PENGUINS, SEED).X_test)
    return frame, rows_from_frame(PENGUINS, frame)


def test_held_out_rows_include_missing_values(held_out):
    _, rows = held_out
    assert any(None in row.values() for row in rows)


def assert_same(got: np.ndarray, expected: np.ndarray, tolerance: float) -> None:
    np.testing.assert_allclose(got, expected, rtol=0, atol=tolerance)
    ordered = np.sort(expected, axis=1)
    clear = ordered[:, -1] - ordered[:, -2] > 2 * tolerance  # not a near-tie
    assert np.array_equal(got.argmax(axis=1)[clear], expected.argmax(axis=1)[clear])


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_http_answers_equal_the_pipeline(client, trained, held_out, algorithm):
    record = latest([r for r in trained if r.algorithm == algorithm])
    fast = record.metadata["serving"]["engine"] == "onnxruntime"
    tolerance = PARITY_TOLERANCE if fast else 1e-12
    frame, rows = held_out
    expected = load_pipeline(record).predict_proba(frame)

    assert client.post("/select_model", json={"model": record.tag}).status_code == 200

    batch = client.post("/predict_batch", json={"penguins": rows}).json()
    assert batch["model"] == record.tag
    got = np.array([[p["probabilities"][c] for c in PENGUINS.classes] for p in batch["predictions"]])
    assert_same(got, expected, tolerance)
    species = [PENGUINS.classes.index(p["species"]) for p in batch["predictions"]]
    assert species == got.argmax(axis=1).tolist()

    singles = []
    for index in range(0, len(rows), 5):
        single = client.post("/predict", json=rows[index]).json()
        assert single["model"] == record.tag
        singles.append([single["probabilities"][c] for c in PENGUINS.classes])
    assert_same(np.array(singles), expected[::5], tolerance)

    # As a CSV, repeated past WIDE_ROWS: big inputs run on ONNX Runtime's every-core session.
    copies = WIDE_ROWS // len(rows) + 1
    csv = pd.DataFrame(rows * copies).to_csv(index=False)
    answer = client.post("/predict_csv", files={"file": ("held_out.csv", csv, "text/csv")})
    assert answer.status_code == 200
    table = pd.read_csv(io.StringIO(answer.text))
    got = table[[f"probability_{c}" for c in PENGUINS.classes]].to_numpy()
    assert_same(got, np.tile(expected, (copies, 1)), tolerance)
