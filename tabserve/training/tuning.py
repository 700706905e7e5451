"""Cross-validated tuning and held-out evaluation of one classifier family on one dataset."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline

from tabserve.codecs.frames import normalise_frame
from tabserve.datasets import DatasetSpec
from tabserve.features import build_pipeline
from tabserve.training.algorithms import Algorithm
from tabserve.training.data import TEST_FRACTION


@dataclass(frozen=True)
class Split:
    """A stratified train/test split of a dataset, in the Pipeline's input form."""

    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray

    @property
    def train_sha256(self) -> str:
        """Fingerprint of the exact rows a model was fitted on (features and labels)."""
        table = self.X_train.assign(_target=self.y_train)
        return hashlib.sha256(table.to_csv(index=False).encode()).hexdigest()


def split_dataset(spec: DatasetSpec, seed: int) -> Split:
    """The packaged data, split at random (stratified) into training and held-out rows."""
    frame = spec.load().dropna(subset=[spec.target])  # a row without a label teaches nothing
    return split_rows(normalise_frame(spec, frame), frame[spec.target].astype(str).to_numpy(), seed)


def split_rows(X: pd.DataFrame, y: np.ndarray, seed: int) -> Split:
    """Hold out :data:`TEST_FRACTION` of the rows, stratified by class."""
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_FRACTION, stratify=y, random_state=seed
    )
    return Split(X_train.reset_index(drop=True), X_test.reset_index(drop=True), y_train, y_test)


@dataclass(frozen=True)
class TrainedModel:
    """A tuned, fitted Pipeline and how well it did."""

    algorithm: str
    pipeline: Pipeline
    metrics: dict[str, float]
    hyperparameters: dict[str, Any]
    training_seconds: float


def evaluate(pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray) -> dict[str, float]:
    """Held-out metrics, for two classes or more.

    ROC-AUC is ``roc_auc`` for two classes (the second class's probability as the score, as
    scikit-learn orders them) and the one-vs-rest macro average ``roc_auc_ovr`` for more.
    """
    classes = list(pipeline.classes_)
    probabilities = pipeline.predict_proba(X)
    predicted = np.asarray(classes)[probabilities.argmax(axis=1)]
    metrics = {
        "accuracy": float(accuracy_score(y, predicted)),
        "f1_macro": float(f1_score(y, predicted, average="macro", labels=classes)),
    }
    if len(classes) == 2:
        metrics["roc_auc"] = float(roc_auc_score(y == classes[1], probabilities[:, 1]))
    else:
        metrics["roc_auc_ovr"] = float(roc_auc_score(y, probabilities, multi_class="ovr", labels=classes))
    metrics["log_loss"] = float(log_loss(y, probabilities, labels=classes))
    return metrics


def roc_auc(metrics: dict[str, float]) -> float:
    """The ROC-AUC of a model's metrics, whichever kind its number of classes gave it."""
    return metrics.get("roc_auc", metrics.get("roc_auc_ovr", float("nan")))


def train_algorithm(
    spec: DatasetSpec,
    algorithm: Algorithm,
    split: Split,
    *,
    seed: int,
    cv_folds: int,
    quick: bool,
) -> TrainedModel:
    """Grid-search ``algorithm`` with stratified k-fold CV (macro F1), refit, evaluate on the test split."""
    grid = algorithm.grid_for(quick=quick)
    search = GridSearchCV(
        build_pipeline(spec, algorithm.make(seed)),
        {f"classifier__{name}": values for name, values in grid.items()},
        scoring="f1_macro",
        cv=StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=seed),
        n_jobs=1 if quick else -1,
        refit=True,
    )
    started = time.perf_counter()
    search.fit(split.X_train, split.y_train)
    elapsed = time.perf_counter() - started

    pipeline: Pipeline = search.best_estimator_
    if set(pipeline.classes_) != set(spec.classes):
        raise RuntimeError(
            f"training produced classes {list(pipeline.classes_)}, expected {list(spec.classes)}"
        )
    best = search.best_index_
    metrics = evaluate(pipeline, split.X_test, split.y_test)
    metrics["cv_f1_macro_mean"] = float(search.cv_results_["mean_test_score"][best])
    metrics["cv_f1_macro_std"] = float(search.cv_results_["std_test_score"][best])
    hyperparameters = {
        name.removeprefix("classifier__"): value for name, value in search.best_params_.items()
    }
    return TrainedModel(algorithm.id, pipeline, metrics, hyperparameters, elapsed)
