"""The datasets this bundle can train on and serve, by name."""

from .penguins import PENGUINS
from .spec import CategoricalFeature, DatasetSpec, NumericFeature, RatioFeature

DATASETS: dict[str, DatasetSpec] = {PENGUINS.name: PENGUINS}

__all__ = ["DATASETS", "PENGUINS", "CategoricalFeature", "DatasetSpec", "NumericFeature", "RatioFeature"]
