"""Small helpers shared by the HTTP tests."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from tabserve.features import MISSING_CATEGORY


def rows_as_json(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Pipeline-input rows as API bodies: missing numbers and categories become null."""
    rows = []
    for record in frame.to_dict(orient="records"):
        rows.append(
            {
                key: None
                if value == MISSING_CATEGORY or (isinstance(value, float) and math.isnan(value))
                else value
                for key, value in record.items()
            }
        )
    return rows
