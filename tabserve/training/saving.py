"""Saving trained models to the BentoML model store, with their checked ONNX conversion."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import bentoml
import joblib
import pandas as pd

from tabserve.codecs.frames import columns_from_frame, with_gaps
from tabserve.datasets import DatasetSpec
from tabserve.serving.engines import OnnxEngine, SklearnEngine
from tabserve.store.registry import (
    MODEL_FILE,
    MODEL_MODULE,
    ONNX_FILE,
    PARITY_TOLERANCE,
    ModelRecord,
    library_versions,
    model_name,
    sha256_file,
)
from tabserve.training.onnx_export import parity_gap, to_onnx
from tabserve.training.tuning import Split, TrainedModel


def onnx_fast_path(
    spec: DatasetSpec, trained: TrainedModel, split: Split
) -> tuple[bytes | None, dict[str, Any]]:
    """The ONNX model and how it compares with the Pipeline, or why there is none."""
    frame = with_gaps(spec, pd.concat([split.X_train, split.X_test], ignore_index=True))
    try:
        model = to_onnx(spec, trained.pipeline)
        probabilities = OnnxEngine(spec, model).predict_proba(columns_from_frame(spec, frame))
    except Exception as exc:  # a family skl2onnx cannot convert falls back to scikit-learn
        return None, {"engine": SklearnEngine.name, "reason": f"ONNX conversion failed: {exc}"[:500]}
    gap = parity_gap(trained.pipeline, probabilities, frame)
    if not gap <= PARITY_TOLERANCE:
        reason = f"ONNX probabilities differ by {gap:.2e} (> {PARITY_TOLERANCE:g}) on {len(frame)} rows"
        return None, {"engine": SklearnEngine.name, "reason": reason}
    return model, {"engine": OnnxEngine.name, "parity_max_abs_diff": gap, "parity_rows": len(frame)}


def save_trained(
    spec: DatasetSpec,
    trained: TrainedModel,
    split: Split,
    *,
    seed: int,
    cv_folds: int,
    grid: str,
    provenance: Mapping[str, Any] | None = None,
) -> ModelRecord:
    """Save a fitted Pipeline (and its checked ONNX conversion) as a new version in the store.

    ``provenance`` adds facts to ``metadata["training"]``: where the rows came from (an upload's
    sha256 and archived path), the MLflow run that tracked the model. It overrides the defaults;
    a None value removes one that does not apply (a model imported from MLflow was not fitted on
    ``split``'s training rows).
    """
    onnx_model, serving = onnx_fast_path(spec, trained, split)
    metadata: dict[str, Any] = {
        "metrics": trained.metrics,
        # One JSON text: BentoML's metadata refuses None (max_depth=None), JSON keeps it as null.
        "hyperparameters": json.dumps(trained.hyperparameters, sort_keys=True),
        # The Pipeline's own order (scikit-learn sorts them): its probability columns follow it.
        "classes": [str(name) for name in trained.pipeline.classes_],
        "input_schema": spec.feature_schema(),
        "training": {
            "seed": seed,
            "cv_folds": cv_folds,
            "grid": grid,
            "train_rows": len(split.X_train),
            "test_rows": len(split.X_test),
            "train_data_sha256": split.train_sha256,
            "training_seconds": round(trained.training_seconds, 3),
            "libraries": library_versions(),
        },
        "serving": serving,
    }
    training = metadata["training"]
    for key, value in (provenance or {}).items():
        if value is None:
            training.pop(key, None)
        else:
            training[key] = value
    with bentoml.models.create(
        model_name(spec.name, trained.algorithm),
        labels={"dataset": spec.name, "algorithm": trained.algorithm},
        metadata=metadata,
        module=MODEL_MODULE,
    ) as model:
        path = Path(model.path_of(MODEL_FILE))
        joblib.dump(trained.pipeline, path)
        model.info.metadata["model_sha256"] = sha256_file(path)
        if onnx_model is not None:
            onnx_path = Path(model.path_of(ONNX_FILE))
            onnx_path.write_bytes(onnx_model)
            model.info.metadata["serving"]["onnx_sha256"] = sha256_file(onnx_path)
    return ModelRecord.from_model(bentoml.models.get(model.tag))
