"""The service's own OpenAPI document: its title, version, description, examples and error bodies."""

from __future__ import annotations

from typing import Any

from starlette.types import Scope

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
    404: "No model matches the selector; 'choices' lists what does",
    409: "The model exists but was refused when loading (integrity check)",
    500: "Unexpected server error; see the server log",
    503: "No model is loaded, or the server is overloaded; retry later",
}


def is_docs_request(scope: Scope, status: int) -> bool:
    return status == 200 and scope.get("path") == DOCS_PATH


class ServiceDocs:
    """Rewrites BentoML's generated document; call it with the parsed JSON."""

    def __init__(
        self,
        *,
        title: str,
        version: str,
        description: str,
        request_examples: dict[str, Any],
        error_statuses: dict[str, tuple[int, ...]],
    ):
        self.title, self.version, self.description = title, version, description
        self.request_examples = request_examples
        self.error_statuses = error_statuses

    def __call__(self, document: dict[str, Any]) -> dict[str, Any]:
        document["info"] = {
            "title": self.title,
            "version": self.version,
            "description": self.description,
        }
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for generic in ("InvalidArgument", "NotFound", "InternalServerError"):
            schemas.pop(generic, None)
        schemas["ErrorBody"] = ERROR_SCHEMA
        error_ref = {"$ref": "#/components/schemas/ErrorBody"}
        for route, item in document.get("paths", {}).items():
            operation = item.get("post")
            if operation is None:
                continue
            if route in self.request_examples:
                content = operation.get("requestBody", {}).get("content", {})
                if "application/json" in content:
                    content["application/json"]["example"] = self.request_examples[route]
            if route in self.error_statuses:
                responses = {k: v for k, v in operation["responses"].items() if k in ("200", 200)}
                for status in self.error_statuses[route]:
                    responses[str(status)] = {
                        "description": ERROR_DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": error_ref}},
                    }
                operation["responses"] = responses
        return document
