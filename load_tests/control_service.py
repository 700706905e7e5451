"""The control: every dataset's /predict with the same input schema and response shape, a constant answer.

Served under the same load as the real service, it measures the ceiling of BentoML's typed-API
path on this machine, so the real service's throughput can be read as a fraction of it. Its routes
are the real service's ``predict`` routes (the root dataset's at the root too), from the same table.
``bentoml serve load_tests.control_service:Control``
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import bentoml

from load_tests.server import SERVICE_NAME as REAL_SERVICE_NAME
from load_tests.server import derived_config
from tabserve.datasets import AT_ROOT, DATASETS, DatasetSpec
from tabserve.http.apis import MODEL_TAG_HEADER, schemas
from tabserve.http.routes import service_routes

SERVICE_NAME = "control"
CONTROL_TAG = "control:constant"
CONFIDENCE = 0.97


def constant_answer(spec: DatasetSpec) -> dict[str, Any]:
    """A valid prediction of ``spec``: its example class at 97%, the rest shared by the other classes."""
    answer = spec.example_class or spec.classes[0]
    others = round((1 - CONFIDENCE) / max(len(spec.classes) - 1, 1), 6)
    probabilities = {name: CONFIDENCE if name == answer else others for name in spec.classes}
    return {
        spec.target: answer,
        "confidence": CONFIDENCE,
        "probabilities": probabilities,
        "model": CONTROL_TAG,
    }


def control_config(directory: Path) -> Path:
    """configuration.yaml with the real service's runtime settings applied to the control too.

    BentoML reads per-service settings (workers, threads, traffic, tracing) under the service's
    name, so without this the control would run on BentoML's defaults: not like for like.
    """

    def share(services: dict[str, Any]) -> None:
        services[SERVICE_NAME] = services[REAL_SERVICE_NAME]

    return derived_config(directory / "control-configuration.yaml", share)


def _constant_predict(spec: DatasetSpec) -> Callable[..., Any]:
    """An API typed like the real ``predict`` of ``spec`` (BentoML reads the annotations)."""
    types, answer = schemas(spec), constant_answer(spec)

    async def predict(self: Any, row: types.row, /, *, ctx: bentoml.Context) -> types.prediction:
        ctx.response.headers[MODEL_TAG_HEADER] = CONTROL_TAG
        return answer

    return predict


def control_apis() -> type:
    """A base class with a constant-answer API at every ``predict`` route of the real service."""
    namespace = {}
    for route in service_routes(DATASETS.values(), at_root=AT_ROOT):
        if route.operation.name == "predict":
            func = _constant_predict(route.spec)
            func.__name__ = func.__qualname__ = route.api_name
            namespace[route.api_name] = bentoml.api(route=route.path)(func)
    return type("ControlApis", (), namespace)


@bentoml.service(name=SERVICE_NAME)
class Control(control_apis()):
    def __init__(self) -> None:
        # The same runtime tuning as the real service, so the comparison is like for like.
        from tabserve.serving.model_server import tune_garbage_collector

        tune_garbage_collector()
