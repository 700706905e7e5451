"""Schemathesis hooks for ``st run``: what a valid ``text/csv`` upload looks like.

The document declares ``/predict_csv``'s file part as ``text/csv`` with its rules in prose; no
JSON Schema keyword can generate such files, so this registers a generator for the media type
that follows those rules (schemathesis' documented way for custom media types). Load it with
``SCHEMATHESIS_HOOKS=tests/schemathesis_hooks.py`` and the project root on ``PYTHONPATH``.
"""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

from tabserve.datasets import DATASETS, CategoricalFeature, DatasetSpec, NumericFeature


def cells(feature: NumericFeature | CategoricalFeature) -> st.SearchStrategy[str]:
    """A valid cell: a number within bounds or a listed category; empty (unknown) unless required."""
    if isinstance(feature, NumericFeature):
        value = st.floats(feature.minimum, feature.maximum, allow_nan=False, allow_infinity=False).map(repr)
    else:
        value = st.sampled_from(feature.values)
    required = isinstance(feature, CategoricalFeature) and feature.required
    return value if required else st.one_of(st.just(""), value)


@st.composite
def csv_files(draw: st.DrawFn, specs: tuple[DatasetSpec, ...]) -> bytes:
    """A file every dataset's /predict_csv accepts: for each dataset its required columns and at
    least one column (the others' columns pass through), in any order; 1-5 rows; blank lines."""
    features = {f.name: f for spec in specs for f in (*spec.numeric, *spec.categorical)}
    chosen: list[str] = []
    for spec in specs:
        required = [f.name for f in spec.categorical if f.required]
        optional = [f.name for f in (*spec.numeric, *spec.categorical) if f.name not in required]
        chosen += required + draw(
            st.lists(st.sampled_from(optional), unique=True, min_size=0 if required else 1)
        )
    header = draw(st.permutations(chosen))
    rows = draw(st.lists(st.tuples(*(cells(features[name]) for name in header)), min_size=1, max_size=5))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [",".join(header), *(",".join(row) for row in rows)]
    if draw(st.booleans()):
        lines.insert(draw(st.integers(1, len(lines))), "")  # a blank line is skipped
    return (newline.join(lines) + newline).encode()


schemathesis.openapi.media_type("text/csv", csv_files(tuple(DATASETS.values())))
