"""The service's one route table: every dataset's routes, and what guards and documents each.

Every dataset D gets the same six operations at ``/D/...``; one dataset (the first declared) is also
served at the root, where its routes have always been. The guards (admin token, media types, body
limits) and the OpenAPI document are all derived from this table, so a route cannot be guarded
without being documented, or the other way round.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from tabserve.datasets import DatasetSpec

#: The routes that change what the service serves need ``Authorization: Bearer $PENGUIN_ADMIN_TOKEN``.
ADMIN_TOKEN_ENV = "PENGUIN_ADMIN_TOKEN"
JSON = ("application/json",)
MULTIPART = ("multipart/form-data",)
#: Largest request body in MiB: 10,000 JSON rows take ~1.5 MiB (~6 MiB with 30 columns), 100,000
#: CSV rows ~5 MiB.
MAX_BODY_MIB = float(os.environ.get("TABSERVE_MAX_BODY_MB", "16"))
#: Routes that take one small object get a tight limit.
SMALL_BODY_BYTES = 64 * 2**10
PREDICTION_ERRORS = (400, 413, 415, 429, 500, 503, 504)


@dataclass(frozen=True)
class Operation:
    """One kind of route that every dataset has."""

    #: The route's last path segment and the API's name.
    name: str
    method: str
    summary: str
    #: Media types a POST body may have; empty for GET.
    media_types: tuple[str, ...] = ()
    small_body: bool = False
    admin: bool = False
    #: Every error status the route can answer, each documented with the error body.
    errors: tuple[int, ...] = ()


OPERATIONS = (
    Operation("predict", "POST", "Predict one row", JSON, small_body=True, errors=PREDICTION_ERRORS),
    Operation("predict_batch", "POST", "Predict up to 10,000 rows", JSON, errors=PREDICTION_ERRORS),
    Operation("predict_csv", "POST", "Predict a CSV file", MULTIPART, errors=PREDICTION_ERRORS),
    Operation("models", "GET", "List the model versions", errors=(429, 500, 504)),
    Operation("model_info", "GET", "Describe the answering model", errors=(429, 500, 503, 504)),
    Operation(
        "select_model",
        "POST",
        "Choose the answering model",
        JSON,
        small_body=True,
        admin=True,
        errors=(400, 401, 403, 404, 409, 413, 415, 429, 500, 504),
    ),
)


@dataclass(frozen=True)
class Route:
    """One operation of one dataset at one path."""

    spec: DatasetSpec
    operation: Operation
    prefix: str

    @property
    def path(self) -> str:
        return f"{self.prefix}/{self.operation.name}"

    @property
    def api_name(self) -> str:
        """The BentoML API's (and the Python client's method's) name: unique across the service."""
        return f"{self.prefix.strip('/')}_{self.operation.name}" if self.prefix else self.operation.name

    @property
    def tag(self) -> str:
        """The OpenAPI tag grouping a dataset's routes on the Swagger page."""
        return self.spec.title + ("" if self.prefix else " (at the root)")


def service_routes(datasets: Iterable[DatasetSpec], at_root: DatasetSpec | None) -> tuple[Route, ...]:
    """Every dataset's operations under ``/<name>``, and ``at_root``'s also at the root."""
    routes = [Route(spec, operation, f"/{spec.name}") for spec in datasets for operation in OPERATIONS]
    if at_root is not None:
        routes = [Route(at_root, operation, "") for operation in OPERATIONS] + routes
    return tuple(routes)


def admin_paths(routes: Iterable[Route]) -> frozenset[str]:
    return frozenset(route.path for route in routes if route.operation.admin)


def media_types(routes: Iterable[Route]) -> dict[str, tuple[str, ...]]:
    return {route.path: route.operation.media_types for route in routes if route.operation.media_types}


def small_body_paths(routes: Iterable[Route]) -> dict[str, int]:
    return {route.path: SMALL_BODY_BYTES for route in routes if route.operation.small_body}
