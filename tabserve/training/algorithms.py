"""The classifier families we train, each with a full and a quick hyper-parameter grid.

scikit-learn is imported when an estimator is made, not with this module: the service checks a
training submission's algorithm ids without loading it into the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sklearn.base import ClassifierMixin


@dataclass(frozen=True)
class Algorithm:
    """A classifier family: ``make(seed)`` builds an untuned estimator; grids are for its step."""

    id: str
    title: str
    make: Callable[[int], ClassifierMixin]
    grid: dict[str, list[Any]]
    quick_grid: dict[str, list[Any]]

    def grid_for(self, *, quick: bool) -> dict[str, list[Any]]:
        """The values searched: the tiny grid for quick runs (tests, CI), else the full one."""
        return self.quick_grid if quick else self.grid


def _logistic_regression(seed: int) -> ClassifierMixin:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=5000, random_state=seed)


def _random_forest(seed: int) -> ClassifierMixin:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(random_state=seed, n_jobs=1)


def _svm(seed: int) -> ClassifierMixin:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC

    # scikit-learn 1.9 deprecates SVC(probability=True) in favour of this calibrated wrapper.
    return CalibratedClassifierCV(SVC(random_state=seed), ensemble=False)


def _gradient_boosting(seed: int) -> ClassifierMixin:
    from sklearn.ensemble import GradientBoostingClassifier

    return GradientBoostingClassifier(random_state=seed)


def _knn(seed: int) -> ClassifierMixin:
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier()


ALGORITHMS: dict[str, Algorithm] = {
    a.id: a
    for a in (
        Algorithm(
            "logistic_regression",
            "Logistic regression",
            _logistic_regression,
            {"C": [0.01, 0.1, 1.0, 10.0, 100.0]},
            {"C": [1.0]},
        ),
        Algorithm(
            "random_forest",
            "Random forest",
            _random_forest,
            {"n_estimators": [100, 200], "max_depth": [None, 8], "min_samples_leaf": [1, 3]},
            {"n_estimators": [20], "max_depth": [None]},
        ),
        Algorithm(
            "svm",
            "Support vector machine (RBF kernel, with probabilities)",
            _svm,
            {"estimator__C": [0.1, 1.0, 10.0], "estimator__gamma": ["scale", 0.01, 0.1]},
            {"estimator__C": [1.0]},
        ),
        Algorithm(
            "gradient_boosting",
            "Gradient boosting",
            _gradient_boosting,
            {"n_estimators": [100, 200], "learning_rate": [0.05, 0.1], "max_depth": [2, 3]},
            {"n_estimators": [20], "max_depth": [2]},
        ),
        Algorithm(
            "knn",
            "k-nearest neighbours",
            _knn,
            {"n_neighbors": [3, 5, 7, 11, 15], "weights": ["uniform", "distance"]},
            {"n_neighbors": [5]},
        ),
    )
}


def parse_algorithm_ids(text: str | None) -> list[str]:
    """Comma-separated ids to a validated list; ``None`` or empty means all, in the canonical order."""
    if not text:
        return list(ALGORITHMS)
    ids = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [i for i in ids if i not in ALGORITHMS]
    if unknown:
        raise ValueError(
            f"unknown algorithm id(s): {', '.join(unknown)}; choose from {', '.join(ALGORITHMS)}"
        )
    return list(dict.fromkeys(ids))
