"""Pydantic request and response models, generated from a :class:`DatasetSpec`.

Generating them keeps the HTTP contract, CSV validation and training on one definition of the
columns; for the penguins dataset the result is the flat ``Penguin`` body of the old API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from tabserve.datasets import CategoricalFeature, DatasetSpec

#: The most rows one /predict_batch request may carry.
MAX_BATCH_ROWS = 10_000


def input_model(spec: DatasetSpec) -> type[BaseModel]:
    """One input row: bounded finite numbers (null = impute), closed categories, no unknown fields."""
    fields: dict[str, Any] = {}
    for feature in spec.fields_in_display_order:
        # OpenAPI 3.0 (BentoML's schema classes) knows `example`, not JSON Schema's `examples`.
        example = {"example": feature.example}
        if isinstance(feature, CategoricalFeature):
            kind = Literal[feature.values]  # type: ignore[valid-type]
            if feature.required:
                field = Field(description=feature.description, json_schema_extra=example)
                fields[feature.name] = (kind, field)
            else:
                field = Field(None, description=feature.description, json_schema_extra=example)
                fields[feature.name] = (kind | None, field)
            continue
        description = f"{feature.description}; {feature.minimum:g} to {feature.maximum:g}, null = unknown"
        fields[feature.name] = (
            float | None,
            Field(
                None,
                ge=feature.minimum,
                le=feature.maximum,
                strict=True,
                allow_inf_nan=False,
                description=description,
                json_schema_extra=example,
            ),
        )
    return create_model(
        spec.row_noun.capitalize(),
        __config__=ConfigDict(extra="forbid", json_schema_extra={"example": spec.example}),
        __doc__=f"One {spec.row_noun} to classify.",
        **fields,
    )


def prediction_model(spec: DatasetSpec) -> type[BaseModel]:
    """One prediction: the class, its probability, all class probabilities and the model used."""
    return create_model(
        f"{spec.row_noun.capitalize()}Prediction",
        __doc__=f"The predicted {spec.target} of one {spec.row_noun}.",
        **{
            spec.target: (Literal[spec.classes], Field(description=f"Predicted {spec.target}")),  # type: ignore[valid-type]
            "confidence": (float, Field(ge=0, le=1, description="The largest class probability")),
            "probabilities": (
                dict[str, float],
                Field(description=f"Probability of every {spec.target}; they sum to 1"),
            ),
            "model": (str, Field(description="Tag (name:version) of the model that answered")),
        },
    )


def batch_prediction_model(spec: DatasetSpec, prediction: type[BaseModel]) -> type[BaseModel]:
    return create_model(
        f"{spec.row_noun.capitalize()}BatchPrediction",
        __doc__=f"Predictions for a batch of {spec.rows_noun}, in request order.",
        predictions=(list[prediction], Field(description="One prediction per input row, in order")),  # type: ignore[valid-type]
        model=(str, Field(description="Tag (name:version) of the model that answered")),
    )


def _reject_oversized(rows: Any) -> Any:
    """Refuse an oversized batch before any of its rows is validated."""
    if isinstance(rows, list) and len(rows) > MAX_BATCH_ROWS:
        raise ValueError(
            f"at most {MAX_BATCH_ROWS} rows per request, got {len(rows)}; split the batch or use /predict_csv"
        )
    return rows


def batch_rows_type(row: type[BaseModel]) -> Any:
    """The annotation of a batch's row list: 1 to MAX_BATCH_ROWS rows, length checked first."""
    return Annotated[
        list[row],  # type: ignore[valid-type]
        BeforeValidator(_reject_oversized),
        Field(min_length=1, max_length=MAX_BATCH_ROWS),
    ]


class ModelSummary(BaseModel):
    """One servable model version."""

    tag: str = Field(description="name:version in the BentoML model store")
    algorithm: str
    metrics: dict[str, float] = Field(description="Held-out test and cross-validation metrics")
    created: datetime
    active: bool = Field(description="Whether this model answers predictions now")
    servable: bool = Field(True, description="False when the model was refused at load time")
    refused: str | None = Field(None, description="Why it was refused (e.g. its sha256 does not match)")


class ModelList(BaseModel):
    active: str | None = Field(description="Tag of the model answering predictions")
    selected: str | None = Field(
        None, description="Tag chosen with /select_model; null when the default model answers"
    )
    models: list[ModelSummary]


class ModelInfo(BaseModel):
    """Everything the store records about a model, without the model itself."""

    tag: str
    dataset: str
    algorithm: str
    created: datetime
    metrics: dict[str, float]
    hyperparameters: dict[str, Any]
    classes: list[str]
    input_schema: dict[str, Any] = Field(description="Columns, ranges and derived features")
    training: dict[str, Any] = Field(description="Seed, folds, rows, data hash, library versions")
    model_sha256: str
    serving: dict[str, Any] = Field(
        description="Inference engine (onnxruntime fast path or sklearn) and its parity check"
    )
