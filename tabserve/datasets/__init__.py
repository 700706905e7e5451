"""The datasets this bundle can train on and serve, by name.

Adding one is one declaration (a :class:`DatasetSpec`) and one line in ``DATASETS``; see the README's
"Add your own dataset".
"""

from .breast_cancer import BREAST_CANCER
from .penguins import PENGUINS
from .spec import CategoricalFeature, DatasetSpec, NumericFeature, RatioFeature

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (PENGUINS, BREAST_CANCER)}

__all__ = [
    "BREAST_CANCER",
    "DATASETS",
    "PENGUINS",
    "CategoricalFeature",
    "DatasetSpec",
    "NumericFeature",
    "RatioFeature",
]
