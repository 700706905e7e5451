"""Every dataset's BentoML APIs, generated from the route table: the same code serves every dataset.

Each API takes its dataset's typed body, calls the data plane (``self.plane``, a
:class:`tabserve.serving.plane.DataPlane`) and returns what it declares; the model's tag goes into
the ``X-Model-Tag`` header through BentoML's context. ``/predict`` alone returns its declared
prediction already encoded, for throughput (see :func:`_predict`). Annotations are real objects here (no
``from __future__ import annotations``): BentoML reads them to build each API's schemas.
"""

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import bentoml
from bentoml.validators import ContentType
from pydantic_core import to_json
from starlette.responses import Response

from tabserve.codecs.schema import (
    FEATURES,
    ModelInfo,
    ModelList,
    batch_prediction_model,
    batch_rows_type,
    input_model,
    prediction_type,
    vector_rows_type,
)
from tabserve.datasets import DatasetSpec
from tabserve.http.api_errors import ApiError, json_errors
from tabserve.http.read_routes import ReadRoute
from tabserve.http.routes import Route
from tabserve.http.training import train_api
from tabserve.serving.memory import trim_after_large

MODEL_TAG_HEADER = "X-Model-Tag"
JSON = ContentType("application/json")


@dataclass(frozen=True)
class Schemas:
    """One dataset's request and response types, made once so every route shares them by name."""

    row: Any
    rows: Any
    vectors: Any
    prediction: Any
    batch_prediction: Any


@cache
def schemas(spec: DatasetSpec) -> Schemas:
    row = input_model(spec)
    prediction = prediction_type(spec)
    return Schemas(
        row=row,
        rows=batch_rows_type(row),
        vectors=vector_rows_type(spec, row) if spec.accepts_vectors else None,
        prediction=prediction,
        batch_prediction=batch_prediction_model(spec, prediction),
    )


def _answered_by(ctx: bentoml.Context, tag: str, rows: int) -> None:
    """Name the model in the response header; trim the heap once a large answer is sent."""
    ctx.response.headers[MODEL_TAG_HEADER] = tag
    trim_after_large(ctx.response.background, rows)


def _predict(spec: DatasetSpec) -> Callable[..., Any]:
    types, dataset = schemas(spec), spec.name

    async def predict(
        self: Any, row: types.row, /, *, ctx: bentoml.Context
    ) -> Annotated[types.prediction, JSON]:
        """Predict one row. Concurrent requests are batched adaptively into one model call."""
        prediction = await self.plane.predict(dataset, row)
        # The declared prediction, encoded here: BentoML's own output path (validating it again,
        # json.dumps, and a body sent in three ASGI messages) cost ~15% of /predict's throughput
        # (load_tests/compare.sh). tests/test_service.py checks the body against the declared type.
        return Response(
            to_json(prediction),
            media_type="application/json",
            headers={MODEL_TAG_HEADER: prediction["model"]},
        )

    return predict


def _predict_batch(spec: DatasetSpec) -> Callable[..., Any]:
    types, dataset, noun = schemas(spec), spec.name, spec.rows_noun

    def predict_batch(self: Any, *, ctx: bentoml.Context, **body: Any) -> types.batch_prediction:
        """Predict up to 10,000 rows in one call, answered by one model, in request order."""
        given = [rows for rows in body.values() if rows is not None]
        if len(given) != 1:
            raise ApiError(
                400, f"send the rows either as {noun!r} (objects) or as {FEATURES!r} (number lists)"
            )
        predictions = self.plane[dataset].predict_rows(given[0])
        tag = predictions[0]["model"]
        _answered_by(ctx, tag, len(predictions))
        # Built without validation: the data plane made these rows in the declared shape, and
        # validating 10,000 of them again cost ~100 ms (tests check the shape).
        return types.batch_prediction.model_construct(predictions=predictions, model=tag)

    # The body's keys are the parameters' names: {"penguins": [...]}, or {"rows": [...]} and
    # {"features": [[...]]} for a dataset of numbers alone (exactly one of the two).
    keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = [inspect.Parameter("self", keyword)]
    if types.vectors is None:
        parameters.append(inspect.Parameter(noun, keyword, annotation=types.rows))
    else:
        # Either may be left out (the default None is never validated), but neither may be null.
        parameters.append(inspect.Parameter(noun, keyword, default=None, annotation=types.rows))
        parameters.append(inspect.Parameter(FEATURES, keyword, default=None, annotation=types.vectors))
    ctx = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=bentoml.Context)
    predict_batch.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [*parameters, ctx], return_annotation=types.batch_prediction
    )
    return predict_batch


def _predict_csv(spec: DatasetSpec) -> Callable[..., Any]:
    dataset = spec.name

    def predict_csv(
        self: Any, file: Path, *, ctx: bentoml.Context
    ) -> Annotated[str, ContentType("text/csv")]:
        """Upload a CSV of rows (header row; unknown columns pass through); get it back with predictions."""
        data = file.read_bytes()
        tag, table = self.plane[dataset].predict_csv(data)
        _answered_by(ctx, tag, data.count(b"\n"))
        return table

    return predict_csv


def _select_model(spec: DatasetSpec) -> Callable[..., Any]:
    dataset = spec.name

    def select_model(self: Any, model: str, *, ctx: bentoml.Context) -> ModelInfo:
        """Switch this dataset's answering model by tag, name, algorithm or version; every worker follows."""
        return ModelInfo.model_validate(self.plane[dataset].select(model).record.info())

    return select_model


POST_APIS = {
    "predict": _predict,
    "predict_batch": _predict_batch,
    "predict_csv": _predict_csv,
    "select_model": _select_model,
}


def service_apis(routes: Iterable[Route]) -> type:
    """A base class with a BentoML API for every POST route (a task for a task route);
    ``@bentoml.service`` collects them."""
    namespace = {}
    for route in routes:
        if route.operation.task:
            func = train_api(route.spec)
            func.__name__ = func.__qualname__ = route.api_name
            namespace[route.api_name] = bentoml.task(route=route.path)(json_errors(func))
        elif route.operation.name in POST_APIS:
            func = POST_APIS[route.operation.name](route.spec)
            func.__name__ = func.__qualname__ = route.api_name
            namespace[route.api_name] = bentoml.api(route=route.path)(json_errors(func))
    return type("DatasetApis", (), namespace)


def read_routes(routes: Iterable[Route]) -> tuple[ReadRoute, ...]:
    """The GET routes (``/models``, ``/model_info``), answered from the running service's data plane."""

    def models(dataset: str) -> Callable[[Any], ModelList]:
        return lambda service: ModelList.model_validate(service.plane[dataset].listing())

    def model_info(dataset: str) -> Callable[[Any], ModelInfo]:
        return lambda service: ModelInfo.model_validate(service.plane[dataset].require_active().record.info())

    answers = {"models": (models, ModelList), "model_info": (model_info, ModelInfo)}
    return tuple(
        ReadRoute(route, answers[route.operation.name][0](route.spec.name), answers[route.operation.name][1])
        for route in routes
        if route.operation.name in answers
    )
