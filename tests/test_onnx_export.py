"""The ONNX fast path: every family converts, matches the Pipeline, and falls back when it cannot."""

import os

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

from tabserve.codecs.frames import columns_from_frame, with_gaps
from tabserve.datasets import PENGUINS
from tabserve.features import build_pipeline
from tabserve.serving.engines import WIDE_ROWS, OnnxEngine, SklearnEngine
from tabserve.store.registry import PARITY_TOLERANCE
from tabserve.training.algorithms import ALGORITHMS
from tabserve.training.onnx_export import _round_thresholds_down, _trees, parity_gap, to_onnx
from tabserve.training.saving import onnx_fast_path
from tabserve.training.tuning import TrainedModel, split_dataset, train_algorithm


@pytest.fixture(scope="module")
def split():
    return split_dataset(PENGUINS, 42)


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_every_family_converts_within_tolerance(split, algorithm):
    trained = train_algorithm(PENGUINS, ALGORITHMS[algorithm], split, seed=42, cv_folds=3, quick=True)
    frame = with_gaps(PENGUINS, split.X_test)
    engine = OnnxEngine(PENGUINS, to_onnx(PENGUINS, trained.pipeline))
    probabilities = engine.predict_proba(columns_from_frame(PENGUINS, frame))
    assert probabilities.shape == (len(frame), 3)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert parity_gap(trained.pipeline, probabilities, frame) <= PARITY_TOLERANCE
    # Big batches run on the every-core session (float32 sums in another order): still within tolerance.
    many = pd.concat([frame] * (WIDE_ROWS // len(frame) + 1), ignore_index=True)
    assert engine.wide_session is not engine.session or len(os.sched_getaffinity(0)) == 1
    wide = engine.predict_proba(columns_from_frame(PENGUINS, many))
    assert parity_gap(trained.pipeline, wide, many) <= PARITY_TOLERANCE


def test_rounding_thresholds_down_keeps_every_split_decision(split):
    pipeline = build_pipeline(PENGUINS, RandomForestClassifier(n_estimators=30, random_state=0))
    pipeline.fit(split.X_train, split.y_train)
    before = pipeline.predict_proba(split.X_test)
    trees = _trees(pipeline.steps[-1][1])
    assert len(trees) == 30
    _round_thresholds_down(trees)
    assert all((t.threshold.astype(np.float32).astype(np.float64) == t.threshold).all() for t in trees)
    np.testing.assert_array_equal(pipeline.predict_proba(split.X_test), before)
    single = DecisionTreeClassifier(random_state=0).fit(np.eye(3), [0, 1, 2])
    assert len(_trees(single)) == 1


def test_a_model_that_does_not_convert_falls_back_to_sklearn(split):
    pipeline = build_pipeline(PENGUINS, HistGradientBoostingClassifier(max_iter=5)).fit(
        split.X_train, split.y_train
    )
    trained = TrainedModel("hist_gradient_boosting", pipeline, {}, {}, 0.0)
    model, serving = onnx_fast_path(PENGUINS, trained, split)
    if model is None:
        assert serving["engine"] == SklearnEngine.name
        assert serving["reason"]
    else:  # a newer skl2onnx converts it: then it must have passed the parity check
        assert serving["engine"] == OnnxEngine.name
        assert serving["parity_max_abs_diff"] <= PARITY_TOLERANCE
