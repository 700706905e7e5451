"""What makes a tabular dataset servable: its columns, their valid ranges, derived features, classes.

Everything dataset-specific is declared once as a :class:`DatasetSpec`; training, the HTTP schema,
CSV validation and the model registry all read it, so they cannot disagree about a column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class NumericFeature:
    """A numeric input column; values outside ``[minimum, maximum]`` are physically impossible."""

    name: str
    description: str
    minimum: float
    maximum: float
    example: float


@dataclass(frozen=True)
class CategoricalFeature:
    """A categorical input column with a closed set of allowed values."""

    name: str
    description: str
    values: tuple[str, ...]
    example: str
    required: bool = False


@dataclass(frozen=True)
class RatioFeature:
    """A derived feature ``numerator / denominator * factor`` computed from imputed numeric inputs.

    ``denominator=None`` makes it a pure rescaling (``numerator * factor``).
    """

    name: str
    numerator: str
    denominator: str | None = None
    factor: float = 1.0

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"numerator": self.numerator, "factor": self.factor}
        if self.denominator is not None:
            described["denominator"] = self.denominator
        return described


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: how to load it and what its rows look like."""

    name: str
    title: str
    target: str
    classes: tuple[str, ...]
    numeric: tuple[NumericFeature, ...]
    categorical: tuple[CategoricalFeature, ...]
    derived: tuple[RatioFeature, ...]
    load: Callable[[], pd.DataFrame] = field(repr=False, compare=False)
    row_noun: str = "row"
    rows_noun: str = "rows"

    @property
    def input_columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.numeric) + tuple(f.name for f in self.categorical)

    @property
    def fields_in_display_order(self) -> tuple[NumericFeature | CategoricalFeature, ...]:
        """Required categories first, then the numbers, then optional categories (as users write rows)."""
        required = tuple(f for f in self.categorical if f.required)
        optional = tuple(f for f in self.categorical if not f.required)
        return (*required, *self.numeric, *optional)

    @property
    def example(self) -> dict[str, Any]:
        """One valid input row, used for documentation and request examples."""
        return {f.name: f.example for f in self.fields_in_display_order}

    def feature_schema(self) -> dict[str, Any]:
        """A JSON-serialisable description of the inputs, stored with every model."""
        return {
            "numeric": {
                f.name: {"minimum": f.minimum, "maximum": f.maximum, "description": f.description}
                for f in self.numeric
            },
            "categorical": {
                f.name: {
                    "values": list(f.values),
                    "required": f.required,
                    "description": f.description,
                }
                for f in self.categorical
            },
            "derived": {d.name: d.describe() for d in self.derived},
            "target": self.target,
            "classes": list(self.classes),
        }
