"""The service's own OpenAPI document: its title, version, description, examples and error bodies."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.types import Scope

if TYPE_CHECKING:
    from tabserve.http.read_routes import ReadRoute

DOCS_PATH = "/docs.json"

ERROR_SCHEMA: dict[str, Any] = {
    "title": "ErrorBody",
    "description": "What every error response of this service looks like",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "What went wrong and what to do about it"},
        "detail": {
            "type": "array",
            "items": {"type": "object"},
            "description": "For invalid input: one entry per problem, with its location ('loc')",
        },
        "choices": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Valid values, where that helps",
        },
    },
}

ERROR_DESCRIPTIONS = {
    400: "Invalid input; 'error' names each offending field, row or column",
    401: "Missing or wrong admin token; send 'Authorization: Bearer <token>'",
    403: "Admin endpoints are disabled: the server has no admin token configured",
    404: "No model matches the selector; 'choices' lists what does",
    409: "The model exists but was refused when loading (integrity check)",
    413: "The request body is over this route's size limit",
    415: "The body's Content-Type is not one this route reads",
    429: "Too many requests in flight; retry shortly",
    500: "Unexpected server error; see the server log",
    503: "No model can answer (none loaded, or the selected one was refused), or overloaded",
    504: "The request took longer than the configured timeout",
}


def is_docs_request(scope: Scope, status: int) -> bool:
    return status == 200 and scope.get("path") == DOCS_PATH


class ServiceDocs:
    """Rewrites BentoML's generated document; call it with the parsed JSON.

    ``error_statuses`` lists, per route, every error status it can answer (all of its methods),
    each with the ErrorBody schema, so the document tells the truth about error bodies.
    ``admin_routes`` declare the bearer-token scheme that ``tabserve.http.guards.RequireAdminToken``
    enforces, named after its environment variable ``admin_token_env``. ``read_routes`` (plain
    Starlette, invisible to BentoML's generator) are added with their response schemas.
    ``response_examples`` give, per route, a function building its 200 body (see
    :mod:`tabserve.http.examples`), called for each request of the document.
    """

    def __init__(
        self,
        *,
        title: str,
        version: str,
        description: str,
        request_examples: dict[str, Any],
        error_statuses: dict[str, tuple[int, ...]],
        admin_routes: frozenset[str] = frozenset(),
        admin_token_env: str = "",
        plain_text_errors: dict[str, tuple[int, ...]] | None = None,
        read_routes: tuple[ReadRoute, ...] = (),
        response_examples: dict[str, Callable[[], Any]] | None = None,
    ):
        self.title, self.version, self.description = title, version, description
        self.request_examples = request_examples
        self.error_statuses = error_statuses
        self.admin_routes, self.admin_token_env = admin_routes, admin_token_env
        self.plain_text_errors = plain_text_errors or {}
        self.read_routes = read_routes
        self.response_examples = response_examples or {}

    def __call__(self, document: dict[str, Any]) -> dict[str, Any]:
        document["info"] = {
            "title": self.title,
            "version": self.version,
            "description": self.description,
        }
        components = document.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for generic in ("InvalidArgument", "NotFound", "InternalServerError", "TaskStatusResponse"):
            schemas.pop(generic, None)
        schemas["ErrorBody"] = ERROR_SCHEMA
        paths = document.setdefault("paths", {})
        for read_route in self.read_routes:
            paths[read_route.path] = {"get": read_route.operation()}
            schemas.update(read_route.schemas())
        if self.admin_routes:
            components.setdefault("securitySchemes", {})["adminToken"] = {
                "type": "http",
                "scheme": "bearer",
                "description": f"The server's admin token: the environment variable {self.admin_token_env}",
            }
        for route, item in paths.items():
            for operation in item.values():
                self._rewrite_operation(route, operation)
        self._add_response_examples(paths)
        return document

    def _add_response_examples(self, paths: dict[str, Any]) -> None:
        """Show a real 200 body in every media type of the route's 200 response: Swagger UI
        otherwise invents one from the schema (``"additionalProp1"``, ``"string"``)."""
        for route, build in self.response_examples.items():
            for operation in paths.get(route, {}).values():
                for media in operation["responses"].get("200", {}).get("content", {}).values():
                    media["example"] = build()

    def _rewrite_operation(self, route: str, operation: dict[str, Any]) -> None:
        content = operation.get("requestBody", {}).get("content", {})
        if route in self.request_examples and "application/json" in content:
            content["application/json"]["example"] = self.request_examples[route]
        if route in self.admin_routes:
            operation["security"] = [{"adminToken": []}]
        responses = operation.setdefault("responses", {})
        if route in self.error_statuses:
            for status in list(responses):
                if str(status) != "200":
                    del responses[status]
            for status in self.error_statuses[route]:
                responses[str(status)] = {
                    "description": ERROR_DESCRIPTIONS[status],
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
                }
        for status in self.plain_text_errors.get(route, ()):
            responses[str(status)] = {
                "description": ERROR_DESCRIPTIONS[status],
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
