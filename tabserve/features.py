"""The feature pipeline shared by training and serving: one definition, saved inside every model.

Imputation, derived features, scaling and one-hot encoding all live in the saved scikit-learn
Pipeline, so a served model can never preprocess differently from how it was trained.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, OneToOneFeatureMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import validate_data

from tabserve.codecs.columns import MISSING_CATEGORY
from tabserve.datasets import DatasetSpec


class RatioFeatures(TransformerMixin, BaseEstimator):
    """Append ``numerator / denominator * factor`` columns to a block of numeric columns.

    ``ratios`` holds ``(name, numerator, denominator | None, factor)`` tuples naming columns of
    ``columns``; plain tuples keep the pickled model independent of this package's dataclasses.
    """

    def __init__(self, columns: Sequence[str] = (), ratios: Sequence[tuple] = ()):
        self.columns = columns
        self.ratios = ratios

    def fit(self, X: Any, y: Any = None) -> RatioFeatures:
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        position = {name: i for i, name in enumerate(self.columns)}
        derived = []
        for _name, numerator, denominator, factor in self.ratios:
            column = X[:, position[numerator]] * factor
            if denominator is not None:
                column = column / X[:, position[denominator]]
            derived.append(column)
        return np.column_stack([X, *derived])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([*self.columns, *(r[0] for r in self.ratios)], dtype=object)


class MissingAsSentinel(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Spell every missing category (``None``, NaN, ``pd.NA``) as :data:`MISSING_CATEGORY`.

    Serving and training already send the sentinel; this step lets the saved Pipeline also take a
    dataset as pandas gives it (``bentoml.sklearn.load_model(tag).predict_proba(frame)``). Its
    output is an object array of strings: what the imputer after it expects.
    """

    def fit(self, X: Any, y: Any = None) -> MissingAsSentinel:
        validate_data(self, X, skip_check_array=True)
        return self

    def transform(self, X: Any) -> np.ndarray:
        validate_data(self, X, reset=False, skip_check_array=True)
        values = np.asarray(X, dtype=object)
        return np.where(pd.isna(values), MISSING_CATEGORY, values)


class MissingAsNaN(TransformerMixin, BaseEstimator):
    """Spell missing categories as NaN again, as pandas gives them: the step put in front of a Pipeline
    fitted outside this project (``models.py import-mlflow``), which never saw :data:`MISSING_CATEGORY`.

    Serving hands every Pipeline a DataFrame of the dataset's input columns with the sentinel; this
    step returns it with NaN in ``columns`` instead. It learns nothing, so it counts as fitted.
    """

    def __init__(self, columns: Sequence[str] = ()):
        self.columns = columns

    def fit(self, X: Any, y: Any = None) -> MissingAsNaN:
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        frame = X.copy()
        for name in self.columns:
            values = frame[name].astype(object)
            frame[name] = values.where(values != MISSING_CATEGORY, np.nan)
        return frame

    def __sklearn_is_fitted__(self) -> bool:
        return True


def build_preprocessor(spec: DatasetSpec) -> ColumnTransformer:
    """Imputation, derived features, scaling and one-hot encoding for ``spec``'s columns."""
    numeric_columns = [f.name for f in spec.numeric]
    ratios = tuple((d.name, d.numerator, d.denominator, d.factor) for d in spec.derived)
    numeric = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("derive", RatioFeatures(columns=tuple(numeric_columns), ratios=ratios)),
            ("scale", StandardScaler()),
        ]
    )
    categorical = Pipeline(
        [
            ("mark_missing", MissingAsSentinel()),
            ("impute", SimpleImputer(strategy="most_frequent", missing_values=MISSING_CATEGORY)),
            (
                "onehot",
                OneHotEncoder(
                    categories=[list(f.values) for f in spec.categorical],
                    handle_unknown="ignore",
                    sparse_output=False,
                ),
            ),
        ]
    )
    return ColumnTransformer(
        [
            ("numeric", numeric, numeric_columns),
            ("categorical", categorical, [f.name for f in spec.categorical]),
        ],
        verbose_feature_names_out=False,
    )


def build_pipeline(spec: DatasetSpec, classifier: ClassifierMixin) -> Pipeline:
    return Pipeline([("features", build_preprocessor(spec)), ("classifier", classifier)])
