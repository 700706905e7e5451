"""The control: same input schema and response shape as /predict, but a constant answer.

Served under the same load as the real service, it measures the ceiling of BentoML's typed-API
path on this machine, so the real service's throughput can be read as a fraction of it.
``bentoml serve load_tests.control_service:Control``
"""

import bentoml

from tabserve.datasets import PENGUINS
from tabserve.schema import input_model, prediction_model

Penguin = input_model(PENGUINS)
PenguinPrediction = prediction_model(PENGUINS)

ANSWER = PenguinPrediction(
    species="Adelie",
    confidence=0.97,
    probabilities={"Adelie": 0.97, "Chinstrap": 0.02, "Gentoo": 0.01},
    model="control:constant",
)


@bentoml.service(name="control")
class Control:
    def __init__(self) -> None:
        # The same runtime tuning as the real service, so the comparison is like for like.
        from tabserve.serving import tune_garbage_collector

        tune_garbage_collector()

    @bentoml.api(route="/predict")
    async def predict(self, penguin: Penguin, /, *, ctx: bentoml.Context) -> PenguinPrediction:
        ctx.response.headers["X-Model-Tag"] = ANSWER.model
        return ANSWER
