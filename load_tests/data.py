"""Request bodies for load tests: real penguins from the dataset, some with values missing."""

from __future__ import annotations

import random
from functools import cache
from typing import Any

import pandas as pd

from tabserve.codecs.frames import normalise_frame, rows_from_frame, with_gaps
from tabserve.datasets import PENGUINS


@cache
def penguins() -> list[dict[str, Any]]:
    """Every penguin of the dataset plus copies with each optional field knocked out."""
    return rows_from_frame(PENGUINS, with_gaps(PENGUINS, normalise_frame(PENGUINS, PENGUINS.load()), 20))


def sample(count: int, rng: random.Random) -> list[dict[str, Any]]:
    return rng.choices(penguins(), k=count)


def csv_body(count: int, rng: random.Random) -> bytes:
    return pd.DataFrame(sample(count, rng), columns=list(PENGUINS.input_columns)).to_csv(index=False).encode()
