"""Pydantic request and response models, generated from a :class:`DatasetSpec`.

Generating them keeps the HTTP contract, CSV validation and training on one definition of the
columns; for the penguins dataset the result is the flat ``Penguin`` body of the old API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    create_model,
    model_validator,
)
from typing_extensions import TypedDict

from tabserve.datasets import CategoricalFeature, DatasetSpec

#: The most rows one /predict_batch request may carry.
MAX_BATCH_ROWS = 10_000


def input_model(spec: DatasetSpec) -> type[BaseModel]:
    """One input row: bounded finite numbers (null = impute), closed categories, no unknown fields.

    A dataset whose features are all numbers also takes ``{"features": [...]}``: the values in the
    declared column order (scikit-learn's ``X`` row), instead of the named fields.
    """
    fields: dict[str, Any] = {}
    for feature in spec.fields_in_display_order:
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
    validators: dict[str, Any] = {}
    extra: dict[str, Any] = {"example": spec.example}
    if spec.accepts_vectors:
        fields[FEATURES] = (
            list[float | None] | None,
            Field(
                None,
                description=f"Instead of the named fields: all {len(spec.numeric)} values in this order: "
                + ", ".join(spec.input_columns),
                json_schema_extra=vector_schema(spec),
            ),
        )
        validators["named_from_vector"] = model_validator(mode="before")(_named_from_vector(spec))
        # Either the vector alone, or the named fields alone: the document says what the server does.
        extra["oneOf"] = [
            {"required": [FEATURES], "maxProperties": 1},
            {"not": {"required": [FEATURES]}},
        ]
    return create_model(
        spec.schema_name,
        __config__=ConfigDict(extra="forbid", json_schema_extra=extra),
        __doc__=f"One {spec.row_noun} to classify.",
        __validators__=validators,
        **fields,
    )


#: The field that carries a row as a bare list of numbers.
FEATURES = "features"


def vector_schema(spec: DatasetSpec) -> dict[str, Any]:
    """JSON Schema of a row as a number list: exactly one item per column, each within its bounds."""
    items = [
        {"anyOf": [{"type": "number", "minimum": f.minimum, "maximum": f.maximum}, {"type": "null"}]}
        for f in spec.numeric
    ]
    count = len(spec.numeric)
    # No `"items": false`: maxItems already forbids more, and `bentoml build` (BentoML 1.4.39's
    # `_flatten_field`) fails on a boolean subschema.
    return {"prefixItems": items, "minItems": count, "maxItems": count}


def _named_from_vector(spec: DatasetSpec) -> Any:
    """A before-validator turning ``{"features": [...]}`` into the named fields, in column order."""
    names = spec.input_columns

    def named(data: Any) -> Any:
        if not isinstance(data, dict) or data.get(FEATURES) is None:
            return data
        others = sorted(set(data) - {FEATURES})
        if others:
            raise ValueError(
                f"send either 'features' or named fields, not both (also got {', '.join(others)})"
            )
        values = data[FEATURES]
        if not isinstance(values, list) or len(values) != len(names):
            got = f"{len(values)} values" if isinstance(values, list) else type(values).__name__
            raise ValueError(
                f"'features' takes {len(names)} numbers, in the order of the named fields; got {got}"
            )
        return dict(zip(names, values, strict=True))

    return named


def vector_rows_type(spec: DatasetSpec, row: type[BaseModel]) -> Any:
    """A batch's ``features``: rows as number lists (see :func:`input_model`), 1 to MAX_BATCH_ROWS."""
    vector_row = Annotated[
        row,  # type: ignore[valid-type]
        BeforeValidator(lambda values: {FEATURES: values} if isinstance(values, list) else values),
        WithJsonSchema({"type": "array", **vector_schema(spec)}),
    ]
    return batch_rows_type(vector_row)


def prediction_type(spec: DatasetSpec) -> Any:
    """One prediction: the class, its probability, all class probabilities and the model used.

    A TypedDict, not a model: predictions are built as dicts in the data plane, and a batch of
    10,000 is serialised as it is, without constructing 10,000 objects first.
    """
    prediction = TypedDict(  # type: ignore[operator]
        f"{spec.schema_name}Prediction",
        {
            spec.target: Annotated[Literal[spec.classes], Field(description=f"Predicted {spec.target}")],  # type: ignore[valid-type]
            "confidence": Annotated[float, Field(ge=0, le=1, description="The largest class probability")],
            "probabilities": Annotated[
                dict[str, float], Field(description=f"Probability of every {spec.target}; they sum to 1")
            ],
            "model": Annotated[str, Field(description="Tag (name:version) of the model that answered")],
        },
    )
    prediction.__doc__ = f"The predicted {spec.target} of one {spec.row_noun}."
    return prediction


def batch_prediction_model(spec: DatasetSpec, prediction: Any) -> type[BaseModel]:
    return create_model(
        f"{spec.schema_name}BatchPrediction",
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
