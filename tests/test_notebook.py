"""A stored model in your own code: ``bentoml.sklearn.load_model`` on the dataset as pandas gives it."""

from __future__ import annotations

import os
import subprocess
import sys

import bentoml
import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins

from load_tests.server import ROOT
from tabserve.codecs.frames import columns_from_frame, normalise_frame
from tabserve.datasets import PENGUINS
from tabserve.store.registry import PARITY_TOLERANCE, latest, load_engine
from tabserve.training.algorithms import ALGORITHMS
from tests.test_readme import FENCE


def with_none_for_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its text columns as Python objects and None (not NaN) where a value is missing."""
    text = frame.select_dtypes(exclude="number").columns
    return frame.astype({name: object for name in text}).where(frame.notna(), None)


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_the_loaded_pipeline_takes_the_raw_dataset_and_answers_as_the_service(trained, algorithm):
    record = latest([r for r in trained if r.algorithm == algorithm])
    raw = load_penguins()  # NaN for missing numbers and sexes, plus the species and year columns
    assert raw["sex"].isna().any() and raw[["bill_length_mm", "year"]].notna().any().all()
    served = load_engine(PENGUINS, record).predict_proba(
        columns_from_frame(PENGUINS, normalise_frame(PENGUINS, raw))
    )

    pipeline = bentoml.sklearn.load_model(record.tag)
    probabilities = pipeline.predict_proba(raw)

    np.testing.assert_allclose(probabilities, served, rtol=0, atol=PARITY_TOLERANCE)
    np.testing.assert_array_equal(pipeline.predict_proba(with_none_for_missing(raw)), probabilities)
    np.testing.assert_array_equal(pipeline.predict_proba(normalise_frame(PENGUINS, raw)), probabilities)
    np.testing.assert_array_equal(
        pipeline.predict(raw), np.asarray(pipeline.classes_)[probabilities.argmax(axis=1)]
    )


@pytest.mark.slow  # a subprocess or a server of its own
def test_the_readme_notebook_example_runs(trained):
    blocks = [code for lang, code in FENCE.findall((ROOT / "README.md").read_text()) if lang == "python"]
    (example,) = [code for code in blocks if "bentoml.sklearn.load_model" in code]
    result = subprocess.run(
        [sys.executable, "-c", example],
        cwd=ROOT,  # as the README says: unpickling the Pipeline imports the tabserve package
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ,  # the tests' temporary store, where penguins_svm:latest exists
    )
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.strip().splitlines()[-1]) > 0.9  # share of penguins named right
