"""Wisconsin diagnostic breast cancer: ships inside scikit-learn, so loading needs no network.

Thirty measurements of the cell nuclei in a breast mass sample: ten measures, each as its mean, its
standard error and its worst (largest) value, named as scikit-learn's ``feature_names`` in snake_case
and in the same order, so a 30-number vector in scikit-learn's order maps onto them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from .spec import DatasetSpec, NumericFeature

#: (measure, description, largest possible value). The bounds refuse the impossible (negative values,
#: absurd magnitudes), not the merely unusual: each is several times the largest value in the data.
MEASURES = (
    ("radius", "mean distance from the centre to points on the perimeter", 100.0),
    ("texture", "standard deviation of grey-scale values", 200.0),
    ("perimeter", "perimeter of the nucleus", 1_000.0),
    ("area", "area of the nucleus", 50_000.0),
    ("smoothness", "local variation in radius lengths", 1.0),
    ("compactness", "perimeter² / area - 1", 10.0),
    ("concavity", "severity of concave portions of the contour", 10.0),
    ("concave points", "number of concave portions of the contour", 5.0),
    ("symmetry", "symmetry of the nucleus", 5.0),
    ("fractal dimension", '"coastline approximation" - 1', 1.0),
)
#: How each measure is summarised over the nuclei of a sample, as scikit-learn names it.
STATISTICS = (
    ("mean {}", "mean"),
    ("{} error", "standard error"),
    ("worst {}", "worst (mean of the three largest values)"),
)
#: The first sample of the dataset (malignant), in feature order: the documentation's example.
EXAMPLE = (
    17.99, 10.38, 122.8, 1001.0, 0.1184, 0.2776, 0.3001, 0.1471, 0.2419, 0.07871,
    1.095, 0.9053, 8.589, 153.4, 0.006399, 0.04904, 0.05373, 0.01587, 0.03003, 0.006193,
    25.38, 17.33, 184.6, 2019.0, 0.1622, 0.6656, 0.7119, 0.2654, 0.4601, 0.1189,
)  # fmt: skip


def _features() -> tuple[NumericFeature, ...]:
    """The 30 features in scikit-learn's order, each also accepted under scikit-learn's own name."""
    examples = iter(EXAMPLE)
    features = []
    for pattern, statistic in STATISTICS:
        for measure, description, maximum in MEASURES:
            original = pattern.format(measure)
            features.append(
                NumericFeature(
                    original.replace(" ", "_"),
                    f"{statistic.capitalize()} of the {description}",
                    0.0,
                    maximum,
                    next(examples),
                    aliases=(original,),
                )
            )
    return tuple(features)


def load_breast_cancer() -> pd.DataFrame:
    """The 569 samples with the API's column names and the diagnosis as a class name."""
    from sklearn.datasets import load_breast_cancer as _load

    data = _load(as_frame=True)
    frame = data.frame.rename(columns=lambda name: name.replace(" ", "_"))
    frame[BREAST_CANCER.target] = [str(data.target_names[code]) for code in data.target]
    return frame[[*BREAST_CANCER.input_columns, BREAST_CANCER.target]]


BREAST_CANCER = DatasetSpec(
    name="breast_cancer",
    title="Wisconsin breast cancer diagnosis",
    description="Diagnoses a breast mass as malignant or benign from 30 measurements of its cell nuclei "
    "(fine-needle aspirate images).",
    target="diagnosis",
    classes=("malignant", "benign"),  # scikit-learn's target names: target 0 is malignant
    numeric=_features(),
    load=load_breast_cancer,
    row_noun="sample",
    example_class="malignant",
)
