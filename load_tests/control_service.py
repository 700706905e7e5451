"""The control: same input schema and response shape as /predict, but a constant answer.

Served under the same load as the real service, it measures the ceiling of BentoML's typed-API
path on this machine, so the real service's throughput can be read as a fraction of it.
``bentoml serve load_tests.control_service:Control``
"""

from pathlib import Path
from typing import Any

import bentoml

from load_tests.server import SERVICE_NAME as REAL_SERVICE_NAME
from load_tests.server import derived_config
from tabserve.codecs.schema import input_model, prediction_model
from tabserve.datasets import PENGUINS

Penguin = input_model(PENGUINS)
PenguinPrediction = prediction_model(PENGUINS)

ANSWER = PenguinPrediction(
    species="Adelie",
    confidence=0.97,
    probabilities={"Adelie": 0.97, "Chinstrap": 0.02, "Gentoo": 0.01},
    model="control:constant",
)


SERVICE_NAME = "control"


def control_config(directory: Path) -> Path:
    """configuration.yaml with the real service's runtime settings applied to the control too.

    BentoML reads per-service settings (workers, threads, traffic, tracing) under the service's
    name, so without this the control would run on BentoML's defaults: not like for like.
    """

    def share(services: dict[str, Any]) -> None:
        services[SERVICE_NAME] = services[REAL_SERVICE_NAME]

    return derived_config(directory / "control-configuration.yaml", share)


@bentoml.service(name=SERVICE_NAME)
class Control:
    def __init__(self) -> None:
        # The same runtime tuning as the real service, so the comparison is like for like.
        from tabserve.serving.model_server import tune_garbage_collector

        tune_garbage_collector()

    @bentoml.api(route="/predict")
    async def predict(self, penguin: Penguin, /, *, ctx: bentoml.Context) -> PenguinPrediction:
        ctx.response.headers["X-Model-Tag"] = ANSWER.model
        return ANSWER
