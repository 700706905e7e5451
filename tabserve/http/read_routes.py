"""Read-only GET routes (model listing, model info): a plain Starlette app mounted on the service.

BentoML APIs are POST-only. Its documented way to add GET routes is a mounted FastAPI app, but
importing FastAPI took ~0.3 s in each of ``bentoml serve``'s two processes, supervisor and worker:
a tenth of the time to /readyz. Starlette is BentoML's own web layer, already loaded. These routes
take no parameters, so all FastAPI added was their OpenAPI entries, which :meth:`ReadRoute.operation`
writes from the response model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import bentoml
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from tabserve.errors import ServingError
from tabserve.http.api_errors import as_api_error
from tabserve.http.routes import Route

SCHEMA_REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class ReadRoute:
    """``GET route.path``, answered by ``answer(service)`` on the running service instance."""

    route: Route
    answer: Callable[[Any], BaseModel]
    response_model: type[BaseModel]

    @property
    def path(self) -> str:
        return self.route.path

    def respond(self, request: Request) -> Response:
        # A sync endpoint: Starlette runs it in a worker thread, off the event loop.
        answer = self.answer(bentoml.get_current_service())
        return Response(answer.model_dump_json(), media_type="application/json")

    def operation(self) -> dict[str, Any]:
        """This route's OpenAPI operation (the 200 response; error statuses are added by ServiceDocs)."""
        schema = {"$ref": SCHEMA_REF.format(model=self.response_model.__name__)}
        return {
            "tags": [self.route.tag],
            "summary": self.route.operation.summary,
            "operationId": f"{self.route.api_name}{self.path.replace('/', '_')}_get",  # as FastAPI names it
            "responses": {
                "200": {
                    "description": "Successful Response",
                    "content": {"application/json": {"schema": schema}},
                }
            },
        }

    def schemas(self) -> dict[str, Any]:
        """The response model's JSON schema and those of the models it nests, by name."""
        schema = self.response_model.model_json_schema(ref_template=SCHEMA_REF, mode="serialization")
        nested = schema.pop("$defs", {})
        return {**nested, self.response_model.__name__: schema}


async def _serving_error(request: Request, exc: Exception) -> JSONResponse:
    error = as_api_error(exc)
    return JSONResponse(error.body(), status_code=error.status)


def read_only_app(routes: tuple[ReadRoute, ...]) -> Starlette:
    """The ASGI app serving ``routes``; a :class:`ServingError` becomes its JSON error response."""
    return Starlette(
        routes=[StarletteRoute(route.path, route.respond, methods=["GET"]) for route in routes],
        exception_handlers={ServingError: _serving_error},
    )
