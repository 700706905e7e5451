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
    #: A BentoML task: served only through :data:`TASK_ENDPOINTS` below the route's path.
    task: bool = False


@dataclass(frozen=True)
class TaskEndpoint:
    """One of the endpoints BentoML serves below a task's route (``/train/submit``, ...)."""

    name: str
    method: str
    summary: str
    errors: tuple[int, ...]


#: What BentoML 1.4 serves for a task at ``<route>``; the route itself (a synchronous call) is
#: refused, so a training always runs as a task. Every one of them needs the admin token.
TASK_ENDPOINTS = (
    TaskEndpoint("submit", "POST", "Start a training task", (400, 401, 403, 413, 415, 429, 500, 504)),
    TaskEndpoint("status", "GET", "A training task's status", (400, 401, 403, 404, 429, 500, 504)),
    TaskEndpoint("get", "GET", "A training task's result", (400, 401, 403, 404, 409, 429, 500, 504)),
    TaskEndpoint("cancel", "PUT", "Cancel a training task", (400, 401, 403, 404, 409, 429, 500, 504)),
    TaskEndpoint("retry", "POST", "Run a finished training task again", (400, 401, 403, 404, 429, 500, 504)),
)


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
    Operation("train", "POST", "Retrain from labelled rows", MULTIPART, admin=True, task=True),
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

    def task_path(self, endpoint: str) -> str:
        """Where BentoML serves ``endpoint`` (one of :data:`TASK_ENDPOINTS`) of this task route."""
        return f"{self.path}/{endpoint}"

    @property
    def served_paths(self) -> tuple[str, ...]:
        """Every path this route answers at: its own, or a task's endpoints (and its own, refused)."""
        if not self.operation.task:
            return (self.path,)
        return (self.path, *(self.task_path(endpoint.name) for endpoint in TASK_ENDPOINTS))

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
    return frozenset(path for route in routes if route.operation.admin for path in route.served_paths)


def media_types(routes: Iterable[Route]) -> dict[str, tuple[str, ...]]:
    """What each POST body may be: a task's is what its submission (and its direct route) read."""
    types = {route.path: route.operation.media_types for route in routes if route.operation.media_types}
    types.update({route.task_path("submit"): types[route.path] for route in routes if route.operation.task})
    return types


def task_routes(routes: Iterable[Route]) -> tuple[Route, ...]:
    return tuple(route for route in routes if route.operation.task)


def small_body_paths(routes: Iterable[Route]) -> dict[str, int]:
    return {route.path: SMALL_BODY_BYTES for route in routes if route.operation.small_body}
