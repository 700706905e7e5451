"""The Pipeline's input as pandas DataFrames: for training, the scikit-learn fallback and checks.

Serving never needs these otherwise (see :mod:`tabserve.codecs.columns` and
:mod:`tabserve.codecs.csv_io`), so a worker whose models all run on ONNX Runtime never imports pandas.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tabserve.codecs.columns import MISSING_CATEGORY, Columns
from tabserve.datasets import DatasetSpec


def normalise_frame(spec: DatasetSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """The Pipeline's input: ``spec``'s columns in order, floats with NaN, strings with a sentinel."""
    columns: dict[str, np.ndarray] = {}
    for feature in spec.numeric:
        columns[feature.name] = pd.to_numeric(frame[feature.name]).to_numpy(np.float64, na_value=np.nan)
    for feature in spec.categorical:
        values = frame[feature.name].astype(object)
        columns[feature.name] = values.where(values.notna(), MISSING_CATEGORY).to_numpy(object)
    return pd.DataFrame(columns, columns=list(spec.input_columns))


def columns_from_frame(spec: DatasetSpec, frame: pd.DataFrame) -> Columns:
    """The columns of a :func:`normalise_frame` result."""
    return {name: frame[name].to_numpy() for name in spec.input_columns}


def frame_from_columns(spec: DatasetSpec, columns: Columns) -> pd.DataFrame:
    return pd.DataFrame(columns, columns=list(spec.input_columns))


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
