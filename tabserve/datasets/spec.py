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
    #: Other column names a CSV upload may use for it (e.g. the original data's spelling).
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class CategoricalFeature:
    """A categorical input column with a closed set of allowed values."""

    name: str
    description: str
    values: tuple[str, ...]
    example: str
    required: bool = False
    #: Other column names a CSV upload may use for it.
    aliases: tuple[str, ...] = ()


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

    #: Identifier: the store's ``dataset`` label, the prefix of model names and of the routes.
    name: str
    title: str
    #: What the classifier predicts from what, for the service's documentation.
    description: str
    #: The predicted field in responses and the label column in training data.
    target: str
    classes: tuple[str, ...]
    load: Callable[[], pd.DataFrame] = field(repr=False, compare=False)
    numeric: tuple[NumericFeature, ...] = ()
    categorical: tuple[CategoricalFeature, ...] = ()
    derived: tuple[RatioFeature, ...] = ()
    #: What one input row is (names the schema: ``Penguin``, ``PenguinPrediction``).
    row_noun: str = "row"
    #: The key of the row list in a batch request: ``{"rows": [...]}``.
    rows_noun: str = "rows"
    #: The class of ``example`` (the documentation shows it as the example answer).
    example_class: str | None = None

    @property
    def input_columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.numeric) + tuple(f.name for f in self.categorical)

    @property
    def schema_name(self) -> str:
        """Prefix of this dataset's schema names; the dataset's own name when rows are just "rows"."""
        noun = self.name if self.row_noun == "row" else self.row_noun
        return "".join(part.capitalize() for part in noun.split("_"))

    @property
    def accepts_vectors(self) -> bool:
        """Whether rows may also come as bare number lists in column order (all features numeric)."""
        return not self.categorical

    @property
    def column_names(self) -> dict[str, str]:
        """Every name a CSV column may have, mapped to the input column it is."""
        names = {f.name: f.name for f in (*self.numeric, *self.categorical)}
        names.update({alias: f.name for f in (*self.numeric, *self.categorical) for alias in f.aliases})
        return names

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
