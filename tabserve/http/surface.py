"""Everything the service shows clients besides its APIs: GET routes, the Swagger page, the
OpenAPI document, and the guards that turn bad requests away before BentoML parses them."""

from __future__ import annotations

from typing import Any

from tabserve import __version__
from tabserve.http.docs_page import docs_page_app
from tabserve.http.guards import LimitBodySize, RequireAdminToken, RequireContentType, ValidateMultipart
from tabserve.http.middleware import RewriteJson, is_validation_error, readable_validation_error
from tabserve.http.openapi import DOCS_PATH, ServiceDocs, is_docs_request
from tabserve.http.read_routes import ReadRoute, read_only_app
from tabserve.http.reports import REPORTS_PATH, reports_app
from tabserve.http.routes import (
    ADMIN_TOKEN_ENV,
    MAX_BODY_MIB,
    Route,
    admin_paths,
    media_types,
    small_body_paths,
    task_routes,
)
from tabserve.http.training import CancelTraining, CheckTrainingSubmission

#: The OpenAPI document's title, shown on the Swagger page at / and in its browser tab.
TITLE = "Tabular classifiers (tabserve)"
DESCRIPTION = """\
Tuned classifiers for each dataset below, chosen at runtime from the versions in the BentoML
model store. Every dataset D has the same routes:

* `POST /D/predict`: one row, flat JSON (null or absent = unknown, imputed as in training).
* `POST /D/predict_batch`: up to 10,000 rows per request, answered in order by one model.
* `POST /D/predict_csv`: a CSV upload in the form field `file`; the CSV comes back with predictions.
* `GET /D/models`, `GET /D/model_info`: what can answer, and what answers now.
* `POST /D/select_model`: switch D's answering model by tag, model name, algorithm id or version
  (admin: `Authorization: Bearer <token>`, the server's `PENGUIN_ADMIN_TOKEN`).
* `POST /D/train/submit`: train new versions from a labelled CSV upload as a background task, then
  `GET /D/train/status` and `GET /D/train/get` with its `task_id` (admin, as above). Each run's
  report (confusion matrices, ROC curves) is at the `report_url` the result names, under `/reports/`.

Every prediction names its model in `model` and in the `X-Model-Tag` header. Every error is JSON:
`{"error": "what went wrong and what to do"}`.
"""


def describe(routes: tuple[Route, ...]) -> str:
    """The service's description: the routes every dataset has, then each dataset and where it is."""
    specs = {route.spec.name: route.spec for route in routes}
    at_root = {route.spec.name for route in routes if not route.prefix}
    lines = [DESCRIPTION, "Datasets:", ""]
    for name, spec in specs.items():
        where = f"`/{name}/...`" + (" and the root (`/predict`, ...)" if name in at_root else "")
        lines.append(f"* **{spec.title}** at {where}: {spec.description}")
    return "\n".join(lines) + "\n"


def install_http_surface(service: Any, routes: tuple[Route, ...], read_routes: tuple[ReadRoute, ...]) -> None:
    """Mount the GET routes and the Swagger page on ``service`` and add its middleware."""
    service.mount_asgi_app(read_only_app(read_routes), path="/")
    service.mount_asgi_app(docs_page_app(TITLE), path="/")
    service.mount_asgi_app(reports_app(), path=REPORTS_PATH)
    # Outermost first: refuse cheaply (auth, media type, size) before anything reads the body.
    service.add_asgi_middleware(RequireAdminToken, paths=admin_paths(routes), token_env=ADMIN_TOKEN_ENV)
    service.add_asgi_middleware(RequireContentType, media_types=media_types(routes))
    service.add_asgi_middleware(
        LimitBodySize, max_bytes=int(MAX_BODY_MIB * 2**20), per_path=small_body_paths(routes)
    )
    service.add_asgi_middleware(ValidateMultipart)
    service.add_asgi_middleware(CheckTrainingSubmission, routes=task_routes(routes))
    service.add_asgi_middleware(CancelTraining, routes=task_routes(routes))
    service.add_asgi_middleware(RewriteJson, select=is_validation_error, rewrite=readable_validation_error)
    service.add_asgi_middleware(
        RewriteJson,
        paths=frozenset({DOCS_PATH}),
        select=is_docs_request,
        rewrite=ServiceDocs(
            title=TITLE,
            version=__version__,
            description=describe(routes),
            routes=routes,
            read_routes=read_routes,
            admin_token_env=ADMIN_TOKEN_ENV,
            plain_text_errors={"/readyz": (503,)},
        ),
    )
