"""The feature pipeline shared by training and serving: one definition, saved inside every model.

Imputation, derived features, scaling and one-hot encoding all live in the saved scikit-learn
Pipeline, so a served model can never preprocess differently from how it was trained.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .datasets import DatasetSpec

#: How a missing categorical value is spelled inside the Pipeline. A string (not NaN) keeps the
#: categorical columns a single dtype, which ONNX converters and the imputer both require.
MISSING_CATEGORY = "__missing__"


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


def normalise_frame(spec: DatasetSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """The Pipeline's input: ``spec``'s columns in order, floats with NaN, strings with a sentinel."""
    columns: dict[str, np.ndarray] = {}
    for feature in spec.numeric:
        columns[feature.name] = pd.to_numeric(frame[feature.name]).to_numpy(np.float64, na_value=np.nan)
    for feature in spec.categorical:
        values = frame[feature.name].astype(object)
        columns[feature.name] = values.where(values.notna(), MISSING_CATEGORY).to_numpy(object)
    return pd.DataFrame(columns, columns=list(spec.input_columns))


def columns_from_rows(spec: DatasetSpec, rows: Iterable[Any]) -> dict[str, np.ndarray]:
    """The Pipeline's input columns from validated row objects (attributes named like the columns)."""
    rows = list(rows)
    columns: dict[str, np.ndarray] = {}
    for feature in spec.numeric:
        values = [getattr(row, feature.name) for row in rows]
        columns[feature.name] = np.array([np.nan if v is None else v for v in values], np.float64)
    for feature in spec.categorical:
        values = [getattr(row, feature.name) for row in rows]
        columns[feature.name] = np.array([MISSING_CATEGORY if v is None else v for v in values], dtype=object)
    return columns


def columns_from_frame(spec: DatasetSpec, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The columns of a :func:`normalise_frame` result."""
    return {name: frame[name].to_numpy() for name in spec.input_columns}


def frame_from_columns(spec: DatasetSpec, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame(columns, columns=list(spec.input_columns))


def frame_from_rows(spec: DatasetSpec, rows: Iterable[Any]) -> pd.DataFrame:
    return frame_from_columns(spec, columns_from_rows(spec, rows))


def _is_missing(value: Any) -> bool:
    return value is None or value == MISSING_CATEGORY or (isinstance(value, float) and np.isnan(value))


def rows_from_frame(spec: DatasetSpec, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Pipeline-input rows as API request bodies: missing numbers and categories become null."""
    return [
        {name: None if _is_missing(value) else value for name, value in record.items()}
        for record in frame[list(spec.input_columns)].to_dict(orient="records")
    ]


def with_gaps(spec: DatasetSpec, frame: pd.DataFrame, rows_per_column: int = 5) -> pd.DataFrame:
    """``frame`` plus copies of its first rows with each optional column knocked out in turn.

    Real data has few gaps; checks of the imputation path (ONNX parity, tests) need many.
    """
    copies = []
    for feature in (*spec.numeric, *(f for f in spec.categorical if not f.required)):
        copy = frame.head(rows_per_column).copy()
        copy[feature.name] = MISSING_CATEGORY if feature in spec.categorical else np.nan
        copies.append(copy)
    return pd.concat([frame, *copies], ignore_index=True)
