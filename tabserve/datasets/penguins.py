"""Palmer Penguins: the dataset ships inside the ``palmerpenguins`` package, so loading needs no network."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from .spec import CategoricalFeature, DatasetSpec, NumericFeature, RatioFeature


def load_penguins() -> pd.DataFrame:
    """The raw table with rows lacking a species dropped; every other gap is left for the Pipeline."""
    from palmerpenguins import load_penguins as _load

    frame = _load()
    frame = frame.dropna(subset=["species"]).reset_index(drop=True)
    return frame[[*PENGUINS.input_columns, PENGUINS.target]]


PENGUINS = DatasetSpec(
    name="penguins",
    title="Palmer Penguins species",
    description="Predicts the species of a Palmer penguin (Adelie, Chinstrap or Gentoo) from its island, "
    "bill, flipper, body mass and sex.",
    target="species",
    classes=("Adelie", "Chinstrap", "Gentoo"),
    load=load_penguins,
    numeric=(
        # Bounds reject the impossible (zero, negative, absurdly large), not the merely unusual.
        NumericFeature("bill_length_mm", "Culmen length in millimetres", 1.0, 200.0, 39.1),
        NumericFeature("bill_depth_mm", "Culmen depth in millimetres", 1.0, 100.0, 18.7),
        NumericFeature("flipper_length_mm", "Flipper length in millimetres", 10.0, 400.0, 181.0),
        NumericFeature("body_mass_g", "Body mass in grams", 100.0, 20000.0, 3750.0),
    ),
    categorical=(
        CategoricalFeature(
            "island",
            "Island in the Palmer Archipelago",
            ("Biscoe", "Dream", "Torgersen"),
            "Biscoe",
            required=True,
        ),
        CategoricalFeature(
            "sex", "Sex of the penguin (null or absent when unknown)", ("female", "male"), "male"
        ),
    ),
    derived=(
        RatioFeature("bill_ratio", "bill_length_mm", "bill_depth_mm"),
        RatioFeature("body_mass_kg", "body_mass_g", None, 0.001),
        RatioFeature("mass_flipper_ratio", "body_mass_g", "flipper_length_mm"),
    ),
    row_noun="penguin",
    rows_noun="penguins",
    example_class="Adelie",
)
