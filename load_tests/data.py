"""What the load tests send, for any declared dataset: real rows (some with values missing), paths.

The dataset is chosen by name (``$TABSERVE_LOAD_DATASET`` in the locustfile, ``--dataset`` on the
runners); the root dataset (``AT_ROOT``) is driven at the root paths, where its figures have always
been measured, every other dataset at ``/<name>/...``.
"""

from __future__ import annotations

import os
import random
from functools import cache
from typing import Any

import pandas as pd

from tabserve.codecs.frames import normalise_frame, rows_from_frame, with_gaps
from tabserve.datasets import AT_ROOT, DatasetSpec, chosen_datasets
from tabserve.http.routes import OPERATIONS, Route

#: Names the dataset the Locust users send (default: the root dataset).
LOAD_DATASET_ENV = "TABSERVE_LOAD_DATASET"
#: Copies of real rows with one column knocked out, per column: at most this many...
GAP_ROWS_PER_COLUMN = 20
#: ...and together at most half as many as the real rows (a dataset of 30 columns stays mostly real).
GAP_SHARE = 0.5


def load_dataset() -> DatasetSpec:
    """The dataset named by ``$TABSERVE_LOAD_DATASET``, else the root dataset."""
    name = os.environ.get(LOAD_DATASET_ENV, "").strip()
    if not name:
        return AT_ROOT
    if "," in name:
        raise ValueError(f"${LOAD_DATASET_ENV} names one dataset, got {name!r}")
    return chosen_datasets(name)[0]


def scenario_label(spec: DatasetSpec, scenario: str) -> str:
    """A scenario's name in reports: the root dataset's names as they always were, others suffixed."""
    return scenario if spec.name == AT_ROOT.name else f"{scenario} ({spec.name})"


def paths(spec: DatasetSpec) -> dict[str, str]:
    """Each operation's path (``predict`` → ``/predict`` or ``/<name>/predict``), from the route table."""
    prefix = "" if spec.name == AT_ROOT.name else f"/{spec.name}"
    return {operation.name: Route(spec, operation, prefix).path for operation in OPERATIONS}


@cache
def rows(spec: DatasetSpec) -> list[dict[str, Any]]:
    """Every row of the dataset plus copies with each optional field knocked out."""
    frame = normalise_frame(spec, spec.load())
    per_column = int(len(frame) * GAP_SHARE) // len(spec.input_columns)
    gaps = max(1, min(GAP_ROWS_PER_COLUMN, per_column))
    return rows_from_frame(spec, with_gaps(spec, frame, gaps))


def sample(count: int, rng: random.Random, spec: DatasetSpec = AT_ROOT) -> list[dict[str, Any]]:
    return rng.choices(rows(spec), k=count)


def csv_body(count: int, rng: random.Random, spec: DatasetSpec = AT_ROOT) -> bytes:
    return (
        pd.DataFrame(sample(count, rng, spec), columns=list(spec.input_columns)).to_csv(index=False).encode()
    )
