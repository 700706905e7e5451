"""The Pipeline's input as plain columns: what serving builds per request, with numpy only.

Numbers are float64 with NaN for missing; categories are strings with :data:`MISSING_CATEGORY`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tabserve.datasets import DatasetSpec

#: How a missing categorical value is spelled inside the Pipeline. A string (not NaN) keeps the
#: categorical columns a single dtype, which ONNX converters and the imputer both require.
MISSING_CATEGORY = "__missing__"

Columns = dict[str, np.ndarray]


def columns_from_rows(spec: DatasetSpec, rows: Iterable[Any]) -> Columns:
    """The Pipeline's input columns from validated row objects (attributes named like the columns)."""
    rows = list(rows)
    columns: Columns = {}
    for feature in spec.numeric:
        values = [getattr(row, feature.name) for row in rows]
        columns[feature.name] = np.array([np.nan if v is None else v for v in values], np.float64)
    for feature in spec.categorical:
        values = [getattr(row, feature.name) for row in rows]
        columns[feature.name] = np.array([MISSING_CATEGORY if v is None else v for v in values], dtype=object)
    return columns
