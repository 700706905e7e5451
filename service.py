"""The Palmer Penguins classifier service: ``bentoml serve service:Svc``.

Thin wiring only: schemas come from the dataset spec, models from the store, and every piece of
logic lives in the ``tabserve`` package.
"""

import os
from functools import partial
from pathlib import Path
from typing import Annotated

import bentoml
from bentoml.validators import ContentType
from pydantic_core import to_json
from starlette.responses import Response

from tabserve import __version__
from tabserve.codecs.schema import (
    ModelInfo,
    ModelList,
    batch_prediction_model,
    batch_rows_type,
    input_model,
    prediction_model,
)
from tabserve.datasets import PENGUINS
from tabserve.http.api_errors import json_errors
from tabserve.http.docs_page import docs_page_app
from tabserve.http.examples import ResponseExamples
from tabserve.http.guards import (
    LimitBodySize,
    RequireAdminToken,
    RequireContentType,
    ValidateMultipart,
)
from tabserve.http.middleware import (
    RewriteJson,
    configure_logging,
    is_validation_error,
    readable_validation_error,
)
from tabserve.http.openapi import DOCS_PATH, ServiceDocs, csv_upload, is_docs_request
from tabserve.http.read_routes import ReadRoute, read_only_app
from tabserve.image import service_image
from tabserve.serving.memory import after_large_request
from tabserve.store.state import ActiveModelFile, default_state_dir

SPEC = PENGUINS
Penguin = input_model(SPEC)
PenguinPrediction = prediction_model(SPEC)
PenguinBatchPrediction = batch_prediction_model(SPEC, PenguinPrediction)
PenguinRows = batch_rows_type(Penguin)

#: Largest number of single-row requests answered by one model call.
MAX_BATCH_SIZE = 64
#: A queued single-row request older than this is shed with 503 instead of piling up.
MAX_LATENCY_MS = 10_000

#: Routes that change what the service serves: they need ``Authorization: Bearer $PENGUIN_ADMIN_TOKEN``.
ADMIN_TOKEN_ENV = "PENGUIN_ADMIN_TOKEN"
ADMIN_ROUTES = frozenset({"/select_model"})
#: Largest request body in MiB: 10,000 JSON rows take ~1.5 MiB, 100,000 CSV rows ~5 MiB.
MAX_BODY_MIB = float(os.environ.get("TABSERVE_MAX_BODY_MB", "16"))
#: Routes that take one small object get a tight limit.
SMALL_BODY_BYTES = 64 * 2**10
JSON = ("application/json",)
CONTENT_TYPES = {
    "/predict": JSON,
    "/predict_batch": JSON,
    "/select_model": JSON,
    "/predict_csv": ("multipart/form-data",),
}

#: The OpenAPI document's title, shown on the Swagger page at / and in its browser tab.
TITLE = "Penguin species classifier"
#: The request examples' rows, and what a trained model answers for them (tests/test_swagger_page.py checks).
EXAMPLE_ROWS = (SPEC.example, {"island": "Dream", "bill_length_mm": 49.5, "sex": None})
EXAMPLES = ResponseExamples(SPEC, EXAMPLE_ROWS, labels=("Adelie", "Chinstrap"))
SELECT_EXAMPLE = "random_forest"
DESCRIPTION = """\
Predicts the species of a Palmer penguin (Adelie, Chinstrap or Gentoo) from its island, bill,
flipper, body mass and sex, with a choice of tuned classifiers from the BentoML model store.

* `POST /predict`: one penguin, flat JSON. Any measurement and `sex` may be null or absent.
* `POST /predict_batch`: `{"penguins": [...]}`, up to 10,000 per request.
* `POST /predict_csv`: a CSV upload in the form field `file`; the CSV comes back with predictions.
* `GET /models`, `GET /model_info`: what can answer, and what answers now.
* `POST /select_model`: switch the answering model by tag, model name or algorithm id
  (admin: `Authorization: Bearer <token>`, the server's `PENGUIN_ADMIN_TOKEN`).

Every prediction names its model in `model` and in the `X-Model-Tag` header. Every error is JSON:
`{"error": "what went wrong and what to do"}`.
"""


@bentoml.service(
    name="penguin_classifier",
    description="Predict the species of a Palmer penguin with a choice of tuned classifiers.",
    image=service_image(),
)
class Svc:
    """Palmer Penguins species classifiers from the BentoML model store."""

    def __init__(self) -> None:
        # Imported here, not at the top: `bentoml serve` imports this module in its supervisor
        # process too, which only needs the API definitions; the worker alone loads numpy,
        # ONNX Runtime and the models. This keeps start-up (time to /readyz) short.
        from tabserve.serving.batching import AdaptiveBatcher
        from tabserve.serving.model_server import ModelServer, tune_garbage_collector
        from tabserve.serving.workers import WorkerCensus, configured_workers

        configure_logging()
        self.models = ModelServer(SPEC, ActiveModelFile(default_state_dir(), SPEC.name))
        self.batcher = AdaptiveBatcher(
            self.models.predict_rows,
            inline=self.models.active_runs_inline,
            max_batch_size=MAX_BATCH_SIZE,
            max_latency_ms=MAX_LATENCY_MS,
        )
        self.census = WorkerCensus(configured_workers(Svc.name))
        tune_garbage_collector()

    def __is_ready__(self) -> bool:
        """/readyz is 200 only while the active model can answer and no worker is missing."""
        return self.models.ready and not self.census.missing()

    @bentoml.api(route="/predict")
    @json_errors
    async def predict(self, penguin: Penguin, /, *, ctx: bentoml.Context) -> PenguinPrediction:
        """Predict one penguin's species. Concurrent requests are batched adaptively."""
        prediction = await self.batcher(penguin)
        # Encoded directly, like /predict_batch: the batcher's objects have the response's shape
        # (tests/test_service.py checks), and validating and serialising them through BentoML cost
        # ~5% of a worker's CPU under load.
        return Response(
            to_json(prediction), media_type="application/json", headers={"X-Model-Tag": prediction["model"]}
        )

    @bentoml.api(route="/predict_batch")
    @json_errors
    def predict_batch(self, penguins: PenguinRows, *, ctx: bentoml.Context) -> PenguinBatchPrediction:
        """Predict up to 10,000 penguins in one call, answered by one model, in request order."""
        predictions = self.models.predict_rows(penguins)
        tag = predictions[0]["model"]
        # Serialised directly (pydantic-core's encoder): validating the 10,000 response objects we
        # just built cost ~100 ms, json.dumps ~30 ms.
        body = to_json({"predictions": predictions, "model": tag})
        return Response(
            body,
            media_type="application/json",
            headers={"X-Model-Tag": tag},
            background=after_large_request(len(penguins)),
        )

    @bentoml.api(route="/predict_csv")
    @json_errors
    def predict_csv(self, file: Path, *, ctx: bentoml.Context) -> Annotated[Path, ContentType("text/csv")]:
        """Upload a CSV of penguins (header row, empty cell = unknown); get it back with predictions."""
        data = file.read_bytes()
        tag, table = self.models.predict_csv(data)
        return Response(
            table,
            media_type="text/csv",
            headers={"X-Model-Tag": tag},
            background=after_large_request(data.count(b"\n")),
        )

    @bentoml.api(route="/select_model")
    @json_errors
    def select_model(self, model: str, *, ctx: bentoml.Context) -> ModelInfo:
        """Switch the active model by tag, model name or algorithm id; every worker follows."""
        return ModelInfo.model_validate(self.models.select(model).record.info())

    def list_models(self) -> ModelList:
        """Every servable model version, newest first, and which one is active."""
        records = self.models.refresh()  # includes models trained since the server started
        active = self.models.active()
        active_tag = active.tag if active else None
        return ModelList(
            active=active_tag,
            selected=self.models.state.read(),
            models=[
                {
                    "tag": r.tag,
                    "algorithm": r.algorithm,
                    "metrics": r.metrics,
                    "created": r.created,
                    "active": r.tag == active_tag,
                    "servable": self.models.refusal(r.tag) is None,
                    "refused": self.models.refusal(r.tag),
                }
                for r in records
            ],
        )

    def model_info(self) -> ModelInfo:
        """The active model: tag, algorithm, metrics, hyper-parameters, classes and input schema."""
        return ModelInfo(**self.models.require_active().record.info())


#: GET routes, answered by the methods above on the running instance.
READ_ROUTES = (
    ReadRoute("/models", Svc.inner.list_models, ModelList, tag="Models"),
    ReadRoute("/model_info", Svc.inner.model_info, ModelInfo, tag="Models"),
)
Svc.mount_asgi_app(read_only_app(READ_ROUTES), path="/")
Svc.mount_asgi_app(docs_page_app(TITLE), path="/")

PREDICTION_ERRORS = (400, 413, 415, 429, 500, 503, 504)
# Outermost first: refuse cheaply (auth, media type, size) before anything reads the body.
Svc.add_asgi_middleware(RequireAdminToken, paths=ADMIN_ROUTES, token_env=ADMIN_TOKEN_ENV)
Svc.add_asgi_middleware(RequireContentType, media_types=CONTENT_TYPES)
Svc.add_asgi_middleware(
    LimitBodySize,
    max_bytes=int(MAX_BODY_MIB * 2**20),
    per_path={"/predict": SMALL_BODY_BYTES, "/select_model": SMALL_BODY_BYTES},
)
Svc.add_asgi_middleware(ValidateMultipart)
Svc.add_asgi_middleware(RewriteJson, select=is_validation_error, rewrite=readable_validation_error)
Svc.add_asgi_middleware(
    RewriteJson,
    paths=frozenset({DOCS_PATH}),
    select=is_docs_request,
    rewrite=ServiceDocs(
        title=TITLE,
        version=__version__,
        description=DESCRIPTION,
        request_examples={
            "/predict": SPEC.example,
            "/predict_batch": {SPEC.rows_noun: list(EXAMPLE_ROWS)},
            "/select_model": {"model": SELECT_EXAMPLE},
        },
        error_statuses={
            "/predict": PREDICTION_ERRORS,
            "/predict_batch": PREDICTION_ERRORS,
            "/predict_csv": PREDICTION_ERRORS,
            "/select_model": (400, 401, 403, 404, 409, 413, 415, 429, 500, 504),
            "/models": (429, 500, 504),
            "/model_info": (429, 500, 503, 504),
        },
        plain_text_errors={"/readyz": (503,)},
        admin_routes=ADMIN_ROUTES,
        admin_token_env=ADMIN_TOKEN_ENV,
        read_routes=READ_ROUTES,
        response_examples={
            "/predict": EXAMPLES.prediction,
            "/predict_batch": EXAMPLES.batch_prediction,
            "/predict_csv": EXAMPLES.csv,
            "/select_model": partial(EXAMPLES.model_info, SELECT_EXAMPLE),
            "/models": EXAMPLES.model_list,
            "/model_info": EXAMPLES.model_info,
        },
        uploads={"/predict_csv": csv_upload(SPEC)},
    ),
)
