"""Every declared dataset's classifiers as one BentoML service: ``bentoml serve service:Svc``.

Each dataset D answers at ``/D/predict``, ``/D/predict_batch``, ``/D/predict_csv``, ``/D/models``,
``/D/model_info`` and ``/D/select_model``; the first dataset also at the root. The APIs come from the
route table (``tabserve/http``), the models from the store, and the work from the data plane.
"""

import bentoml

from tabserve.datasets import AT_ROOT, DATASETS
from tabserve.http.apis import read_routes, service_apis
from tabserve.http.routes import service_routes
from tabserve.http.surface import DESCRIPTION, install_http_surface
from tabserve.image import service_image

ROUTES = service_routes(DATASETS.values(), at_root=AT_ROOT)


@bentoml.service(name="tabserve", description=DESCRIPTION, image=service_image())
class Svc(service_apis(ROUTES)):
    """Tuned classifiers for every declared dataset, from the BentoML model store."""

    def __init__(self) -> None:
        # Imported here: `bentoml serve` imports this module in its supervisor process too, which
        # only needs the API definitions; the worker alone loads numpy, ONNX Runtime and the models.
        from tabserve.http.middleware import configure_logging
        from tabserve.serving.model_server import tune_garbage_collector
        from tabserve.serving.plane import DataPlane
        from tabserve.serving.workers import WorkerCensus, configured_workers
        from tabserve.store.state import state_store

        configure_logging()
        self.plane = DataPlane(DATASETS.values(), state_store())
        self.census = WorkerCensus(configured_workers(Svc.name))
        tune_garbage_collector()

    def __is_ready__(self) -> bool:
        """/readyz: every dataset with models can answer, and no worker is missing."""
        return self.plane.ready and not self.census.missing()


install_http_surface(Svc, ROUTES, read_routes(ROUTES))
