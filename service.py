"""The Palmer Penguins classifier service: ``bentoml serve service:Svc``.

Thin wiring only: schemas come from the dataset spec, models from the store, and every piece of
logic lives in the ``tabserve`` package.
"""

from pathlib import Path
from typing import Annotated

import bentoml
from bentoml.validators import ContentType
from fastapi import FastAPI
from starlette.responses import Response

from tabserve.api_errors import json_errors
from tabserve.batching import AdaptiveBatcher
from tabserve.csv_io import predictions_csv, read_csv, validated_frame
from tabserve.datasets import PENGUINS
from tabserve.schema import (
    ModelInfo,
    ModelList,
    batch_prediction_model,
    batch_rows_type,
    input_model,
    prediction_model,
)
from tabserve.serving import ModelServer
from tabserve.state import ActiveModelFile, default_state_dir

SPEC = PENGUINS
Penguin = input_model(SPEC)
PenguinPrediction = prediction_model(SPEC)
PenguinBatchPrediction = batch_prediction_model(SPEC, PenguinPrediction)
PenguinRows = batch_rows_type(Penguin)

#: Largest number of single-row requests answered by one model call.
MAX_BATCH_SIZE = 64
#: A queued single-row request older than this is shed with 503 instead of piling up.
MAX_LATENCY_MS = 10_000

read_only = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@bentoml.service(
    name="penguin_classifier",
    description="Predict the species of a Palmer penguin with a choice of tuned classifiers.",
)
@bentoml.asgi_app(read_only, path="/")
class Svc:
    """Palmer Penguins species classifiers from the BentoML model store."""

    def __init__(self) -> None:
        self.models = ModelServer(SPEC, ActiveModelFile(default_state_dir(), SPEC.name))
        self.batcher = AdaptiveBatcher(
            self.models.predict_rows, max_batch_size=MAX_BATCH_SIZE, max_latency_ms=MAX_LATENCY_MS
        )

    @bentoml.api(route="/predict")
    @json_errors
    async def predict(self, penguin: Penguin, /, *, ctx: bentoml.Context) -> PenguinPrediction:
        """Predict one penguin's species. Concurrent requests are batched adaptively."""
        prediction = await self.batcher(penguin)
        ctx.response.headers["X-Model-Tag"] = prediction["model"]
        return prediction

    @bentoml.api(route="/predict_batch")
    @json_errors
    def predict_batch(self, penguins: PenguinRows, *, ctx: bentoml.Context) -> PenguinBatchPrediction:
        """Predict up to 10,000 penguins in one call, answered by one model, in request order."""
        predictions = self.models.predict_rows(penguins)
        tag = predictions[0]["model"]
        ctx.response.headers["X-Model-Tag"] = tag
        return {"predictions": predictions, "model": tag}

    @bentoml.api(route="/predict_csv")
    @json_errors
    def predict_csv(
        self, file: Annotated[Path, ContentType("text/csv")], *, ctx: bentoml.Context
    ) -> Annotated[Path, ContentType("text/csv")]:
        """Upload a CSV of penguins (header row, empty cell = unknown); get it back with predictions."""
        frame = read_csv(SPEC, file.read_bytes())
        model, probabilities = self.models.predict_proba(validated_frame(SPEC, frame))
        return Response(
            predictions_csv(SPEC, frame, probabilities),
            media_type="text/csv",
            headers={"X-Model-Tag": model.tag},
        )

    @bentoml.api(route="/select_model")
    @json_errors
    def select_model(self, model: str, *, ctx: bentoml.Context) -> ModelInfo:
        """Switch the active model by tag, model name or algorithm id; every worker follows."""
        return self.models.select(model).record.info()

    @read_only.get("/models", response_model=ModelList, tags=["Models"])
    def list_models(self) -> ModelList:
        """Every servable model version, newest first, and which one is active."""
        active = self.models.active()
        active_tag = active.tag if active else None
        return ModelList(
            active=active_tag,
            models=[
                {"tag": r.tag, "algorithm": r.algorithm, "metrics": r.metrics,
                 "created": r.created, "active": r.tag == active_tag}
                for r in self.models.refresh()
            ],
        )

    @read_only.get("/model_info", response_model=ModelInfo, tags=["Models"])
    def model_info(self) -> ModelInfo:
        """The active model: tag, algorithm, metrics, hyper-parameters, classes and input schema."""
        return ModelInfo(**self.models.require_active().record.info())
