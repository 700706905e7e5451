"""The datasets this bundle can train on and serve, by name.

A dataset is one :class:`DatasetSpec` declaration. Declare it here (a module beside ``penguins.py``,
one line in ``BUILT_IN``), or in a module of your own named by ``$TABSERVE_DATASETS``
(comma-separated importable module names): every ``DatasetSpec`` at the top level of those modules is
served and trained like the built-in ones, with no change to this project's files.
"""

from __future__ import annotations

import importlib
import os

from .breast_cancer import BREAST_CANCER
from .penguins import PENGUINS
from .spec import CategoricalFeature, DatasetSpec, NumericFeature, RatioFeature

BUILT_IN = (PENGUINS, BREAST_CANCER)
#: Modules with more declarations, imported when this package is.
DATASETS_ENV = "TABSERVE_DATASETS"


def declared_datasets(modules: str) -> dict[str, DatasetSpec]:
    """The built-in datasets and those declared in ``modules``, by name; a clash of names is an error."""
    specs = list(BUILT_IN)
    for module_name in filter(None, (part.strip() for part in modules.split(","))):
        module = importlib.import_module(module_name)
        specs += [value for value in vars(module).values() if isinstance(value, DatasetSpec)]
    found: dict[str, DatasetSpec] = {}
    for spec in specs:
        if found.setdefault(spec.name, spec) is not spec:
            raise ValueError(f"two datasets are named {spec.name!r}; rename one ({DATASETS_ENV})")
    return found


DATASETS: dict[str, DatasetSpec] = declared_datasets(os.environ.get(DATASETS_ENV, ""))


def chosen_datasets(text: str | None) -> list[DatasetSpec]:
    """Comma-separated dataset names to their declarations; ``None`` or empty means every dataset."""
    names = [part.strip() for part in (text or "").split(",") if part.strip()] or list(DATASETS)
    unknown = [name for name in names if name not in DATASETS]
    if unknown:
        raise ValueError(f"unknown dataset(s) {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    return [DATASETS[name] for name in dict.fromkeys(names)]


#: Also served at the root (``/predict``...), where the service answered before it served many datasets.
AT_ROOT = PENGUINS

__all__ = [
    "AT_ROOT",
    "BREAST_CANCER",
    "DATASETS",
    "PENGUINS",
    "CategoricalFeature",
    "DatasetSpec",
    "NumericFeature",
    "RatioFeature",
    "chosen_datasets",
]
