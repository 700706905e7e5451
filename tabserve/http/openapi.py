"""The service's own OpenAPI document: its title, version, description, examples and error bodies.

BentoML 1.4 generates a document that says ``openapi: 3.0.2`` but is not valid OpenAPI 3.0, and
that does not tell the truth about what the server accepts. :class:`ServiceDocs` publishes it as
OpenAPI **3.1** instead, because 3.1's schemas are JSON Schema 2020-12, which is what Pydantic
writes: ``null`` unions (``anyOf: [..., {"type": "null"}]``), numeric ``exclusiveMinimum`` and the
like are kept as they are, while a 3.0 document would need each rewritten to ``nullable`` (lossy
for ``$ref`` and enum members). openapi-spec-validator, openapi-python-client and schemathesis all
read 3.1 (BentoML's Swagger UI 5 too), so the three tools the tests run agree on one document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.types import Scope

from tabserve.codecs.schema import FEATURES
from tabserve.http.routes import TASK_ENDPOINTS

if TYPE_CHECKING:
    from tabserve.datasets import DatasetSpec
    from tabserve.http.read_routes import ReadRoute
    from tabserve.http.routes import Route, TaskEndpoint

DOCS_PATH = "/docs.json"
OPENAPI_VERSION = "3.1.0"
SCHEMA_REF = "#/components/schemas/"
#: Schema keywords whose value is data, not a schema.
VALUE_KEYWORDS = frozenset({"example", "examples", "default", "enum", "const"})

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


#: BentoML's task status (``/train/status``; ``submit``, ``retry`` and ``cancel`` answer the first two).
TASK_STATUS_SCHEMA: dict[str, Any] = {
    "title": "TaskStatus",
    "description": "A training task's state, as BentoML keeps it",
    "type": "object",
    "required": ["task_id", "status"],
    "properties": {
        "task_id": {"type": "string", "description": "Poll /train/status and /train/get with it"},
        "status": {"type": "string", "enum": ["pending", "in_progress", "completed", "failed", "canceled"]},
        "created_at": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "executed_at": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
}

#: What each of a training task's endpoints does, for the document.
TASK_DESCRIPTIONS = {
    "submit": "Check the form and its files, then start training in a separate process and answer at "
    "once with the task's id (admin). A file that cannot train is answered 400 here, naming the row and "
    "column, and nothing runs or is saved. `file` (a labelled CSV; without it the packaged data) is "
    "split at random (20% held out) unless `test_file` is given; `algorithms` are comma-separated ids "
    "(default: all); `quick` uses tiny grids; `activate=best` makes the best new model the active one.",
    "status": "The task's status: in_progress, then completed or failed (canceled while a cancel stops it).",
    "get": "The finished task's result: the new versions (selectable at once) and their held-out metrics, "
    "the rows used and the uploads' sha256. A failed task answers its error: 400 for data that cannot "
    "train, 409 when it was canceled; nothing was saved then.",
    "cancel": "Stop a task in progress: its training process is killed and nothing is saved (a task "
    "already saving its models finishes). 404 for an unknown task, 409 for one already finished.",
    "retry": "Run a finished task again with the same form and files; answers the new task's id.",
}


#: The training form's text fields.
FORM_FIELDS = {
    "algorithms": "Comma-separated algorithm ids, as train.py --algorithms takes them (empty: every "
    "algorithm); an unknown id is answered 400 with the valid ones.",
    "quick": "Tiny hyper-parameter grids: the whole run in seconds",
    "activate": "none: the active model stays; best: the new model with the best held-out macro F1 "
    "becomes the active one, on every worker",
}


def training_uploads(spec: DatasetSpec) -> tuple[FileUpload, FileUpload]:
    """The labelled CSV uploads of ``spec``'s training task: read like ``/predict_csv``'s, plus labels."""
    from tabserve.training.data import rows_needed

    labels = (
        f"plus the label column {spec.target!r} ({', '.join(spec.classes)}); rows with a missing label "
        "are skipped, an unknown label is refused."
    )
    rows = rows_needed(5, held_out_file=False), rows_needed(5, held_out_file=True)
    return (
        FileUpload(
            "file",
            "text/csv",
            f"Labelled training rows (optional: without it the packaged data trains). The columns and cells "
            f"of a /predict_csv upload, {labels} Every class needs at least {rows[0]} labelled rows "
            f"({rows[1]} with a test_file).",
        ),
        FileUpload(
            "test_file",
            "text/csv",
            f"Optional held-out rows, evaluated instead of a random 20% of the training rows: the same "
            f"columns, {labels} Every class at least once.",
        ),
    )


def is_docs_request(scope: Scope, status: int) -> bool:
    return status == 200 and scope.get("path") == DOCS_PATH


@dataclass(frozen=True)
class FileUpload:
    """A multipart form field that carries a file: its media type and what the server checks in it.

    BentoML declares a ``Path`` parameter as ``format: binary``, i.e. any bytes, so fuzzers sent
    PNGs as "valid" uploads. The media type goes into the part's ``encoding`` and the field's
    ``contentMediaType``. The rules go into its description, not a ``pattern``: a regular
    expression cannot say "these columns in any order, each at most once, every cell in range", and
    a narrower one would call valid files invalid.
    """

    field: str
    media_type: str
    description: str


def csv_upload(spec: DatasetSpec, field: str = "file") -> FileUpload:
    """The CSV upload of ``spec``'s rows, described by the rules ``tabserve.codecs.csv_io`` enforces."""
    required = [f.name for f in spec.categorical if f.required]
    return FileUpload(
        field,
        "text/csv",
        f"A UTF-8 CSV file, comma-, semicolon- or tab-separated. First a header row naming at least one "
        f"of {', '.join(spec.input_columns)} (any order, each at most once; "
        f"{' and '.join(required) or 'none'} required); other columns are passed through unchanged. "
        f"Then one row per {spec.row_noun}, at least one. Cells follow the JSON fields' rules (numbers "
        "within their bounds, categories from their values); an empty cell, NA, NaN, null, None or N/A "
        "(any case) is unknown, blank lines are skipped. Anything else is answered 400, naming the row "
        "and column.",
    )


class ServiceDocs:
    """Rewrites BentoML's generated document from the route table; call it with the parsed JSON.

    For every route of ``routes``: its dataset's tag (the Swagger page groups by dataset), request
    and 200 examples (:mod:`tabserve.http.examples`, built when the document is asked for), every
    error status it can answer with the ErrorBody schema, the bearer-token scheme on admin routes
    (``RequireAdminToken`` enforces it, from ``admin_token_env``) and the CSV upload's rules.
    ``read_routes`` (plain Starlette, invisible to BentoML's generator) are added with their schemas.
    """

    def __init__(
        self,
        *,
        title: str,
        version: str,
        description: str,
        routes: tuple[Route, ...],
        read_routes: tuple[ReadRoute, ...] = (),
        admin_token_env: str = "",
        plain_text_errors: dict[str, tuple[int, ...]] | None = None,
    ):
        self.title, self.version, self.description = title, version, description
        self.routes = {route.path: route for route in routes if not route.operation.task}
        #: A task's own path is refused (it trains only as a task); its endpoints are documented.
        self.task_paths = frozenset(route.path for route in routes if route.operation.task)
        self.task_endpoints = {
            route.task_path(endpoint.name): (route, endpoint)
            for route in routes
            if route.operation.task
            for endpoint in TASK_ENDPOINTS
        }
        self.read_routes = read_routes
        self.admin_token_env = admin_token_env
        self.plain_text_errors = plain_text_errors or {}

    def __call__(self, document: dict[str, Any]) -> dict[str, Any]:
        # Only when the document is asked for.
        from tabserve.http.examples import examples, task_example

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
        if self.task_endpoints:
            schemas["TaskStatus"] = TASK_STATUS_SCHEMA
        for path in self.task_paths:
            paths.pop(path, None)
        for read_route in self.read_routes:
            paths[read_route.path] = {"get": read_route.operation()}
            schemas.update(read_route.schemas())
        if self.task_endpoints or any(route.operation.admin for route in self.routes.values()):
            components.setdefault("securitySchemes", {})["adminToken"] = {
                "type": "http",
                "scheme": "bearer",
                "description": f"The server's admin token: the environment variable {self.admin_token_env}",
            }
        for path, item in paths.items():
            route = self.routes.get(path)
            for operation in item.values():
                if route is not None:
                    self._describe_route(route, operation)
                self._add_plain_text_errors(path, operation)
                _declare_request_body(operation)
                _restore_schemas(operation, schemas)
                _text_responses_are_strings(operation)
                kind = route.operation.name if route is not None else None
                if kind == "predict_csv":
                    _describe_upload(operation, csv_upload(route.spec), schemas)
                if kind in ("predict", "predict_batch") and route.spec.accepts_vectors:
                    _one_way_of_sending_rows(operation, route.spec, schemas, batch=kind == "predict_batch")
                if path in self.task_endpoints:
                    _describe_task_endpoint(*self.task_endpoints[path], operation, schemas)
        _drop_bentoml_keywords(document)
        document["openapi"] = OPENAPI_VERSION
        tags = {route.tag: route.spec.description for route in self.routes.values()}
        document["tags"] = [{"name": tag, "description": text} for tag, text in tags.items()]
        for path, item in paths.items():
            if path in self.routes:
                _add_examples(item, examples(self.routes[path]))
            elif path in self.task_endpoints:
                route, endpoint = self.task_endpoints[path]
                _add_examples(item, task_example(route, endpoint.name))
        return document

    def _describe_route(self, route: Route, operation: dict[str, Any]) -> None:
        operation["tags"] = [route.tag]
        operation["summary"] = f"{route.operation.summary} ({route.spec.name})"
        if route.operation.admin:
            operation["security"] = [{"adminToken": []}]
        _error_responses(operation, route.operation.errors)

    def _add_plain_text_errors(self, path: str, operation: dict[str, Any]) -> None:
        for status in self.plain_text_errors.get(path, ()):
            operation.setdefault("responses", {})[str(status)] = {
                "description": ERROR_DESCRIPTIONS[status],
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }


def _error_responses(operation: dict[str, Any], errors: tuple[int, ...]) -> None:
    """Keep the 200 response; document each of ``errors`` with the ErrorBody schema."""
    responses = operation.setdefault("responses", {})
    for status in list(responses):
        if str(status) != "200":
            del responses[status]
    for status in errors:
        responses[str(status)] = {
            "description": ERROR_DESCRIPTIONS[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        }


def _describe_task_endpoint(
    route: Route, endpoint: TaskEndpoint, operation: dict[str, Any], schemas: dict[str, Any]
) -> None:
    """One endpoint of a training task: admin-only, its errors, its own operationId (BentoML gives
    ``cancel`` the same one as ``retry``), and for ``submit`` the form's fields and files."""
    service = operation["operationId"].split("__")[0]
    operation.update(
        tags=[route.tag],
        summary=f"{endpoint.summary} ({route.spec.name})",
        description=TASK_DESCRIPTIONS[endpoint.name],
        operationId=f"{service}__{route.api_name}_{endpoint.name}",
        security=[{"adminToken": []}],
    )
    operation["x-bentoml-name"] = f"{route.api_name}_{endpoint.name}"
    _error_responses(operation, endpoint.errors)
    if endpoint.name != "get":
        operation["responses"]["200"]["content"] = {
            "application/json": {"schema": {"$ref": SCHEMA_REF + "TaskStatus"}}
        }
    if endpoint.name == "submit":
        body = operation["requestBody"]
        body["required"] = True  # a form, even an empty one: it says what to train
        form = f"{route.api_name}__Input"  # the task's own form (its direct route is not published)
        body["content"]["multipart/form-data"]["schema"] = {"$ref": SCHEMA_REF + form}
        for name, text in FORM_FIELDS.items():
            schemas[form]["properties"][name]["description"] = text
        for upload in training_uploads(route.spec):
            _describe_upload(operation, upload, schemas)


def _add_examples(item: dict[str, Any], route_examples: Any) -> None:
    """Real request and 200 bodies: Swagger UI otherwise invents them from the schemas
    (``"additionalProp1"``, ``"string"``), and "Try it out" starts from the request example."""
    for operation in item.values():
        content = operation.get("requestBody", {}).get("content", {})
        if route_examples.request is not None and "application/json" in content:
            content["application/json"]["example"] = route_examples.request
        for media in operation["responses"].get("200", {}).get("content", {}).values():
            media["example"] = route_examples.response


def _one_way_of_sending_rows(
    operation: dict[str, Any], spec: DatasetSpec, schemas: dict[str, Any], *, batch: bool
) -> None:
    """A numbers-only dataset's rows come named or as number lists (``features``), never both.

    Said with ``if``/``then`` and ``dependentSchemas`` (JSON Schema 2020-12, OpenAPI 3.1): a ``oneOf``
    of typeless schemas makes client generators fail, and BentoML's schema classes, which build the
    document, know neither keyword, so they are added here.
    """
    body = operation["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = schemas[schema["$ref"].removeprefix(SCHEMA_REF)]
    if not batch:  # one row, alone or in a batch: the vector alone, or named fields alone
        for name in (spec.schema_name, f"{spec.schema_name}IODescriptor"):
            schemas[name]["dependentSchemas"] = {FEATURES: {"maxProperties": 1}}
        return
    body["required"] = True
    for name in (spec.rows_noun, FEATURES):  # may be left out, but not null: no null default
        schema["properties"][name].pop("default", None)
    schema["if"] = {"not": {"required": [spec.rows_noun]}}
    schema["then"] = {"required": [FEATURES]}
    schema["dependentSchemas"] = {spec.rows_noun: {"not": {"required": [FEATURES]}}}


def _declare_request_body(operation: dict[str, Any]) -> None:
    """Say whether the body is required: BentoML reads an empty body as ``{}``, so exactly when its
    schema requires a field. Without ``required: true`` an empty body is valid, yet answered 400."""
    body = operation.get("requestBody")
    if body is not None:
        body["required"] = any(bool(media["schema"].get("required")) for media in body["content"].values())


def _restore_schemas(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Point every body at its full schema.

    BentoML inlines request and response schemas with every ``anyOf`` cut to its first member,
    which drops ``null`` from ``/predict``'s optional fields (a generated client refused
    ``"sex": None``, and fuzzers called an accepted null invalid). The components hold the same
    schemas uncut, under the inline title (``<api>__Input`` for BentoML's own ``Input`` models).
    """
    bodies = [operation.get("requestBody", {}), *operation.get("responses", {}).values()]
    for media in (media for body in bodies for media in body.get("content", {}).values()):
        title = media.get("schema", {}).get("title")
        for name in (title, f"{operation.get('x-bentoml-name')}__{title}"):
            if name in schemas:
                media["schema"] = {"$ref": SCHEMA_REF + name}
                break


def _text_responses_are_strings(operation: dict[str, Any]) -> None:
    """A ``text/*`` response is a string, not BentoML's ``format: binary`` for a returned file:
    openapi-python-client reads ``text/*`` as ``str`` and then fails wrapping it as bytes."""
    for response in operation.get("responses", {}).values():
        for media_type, media in response.get("content", {}).items():
            if media_type.startswith("text/") and media.get("schema", {}).get("format") == "binary":
                del media["schema"]["format"]


def _describe_upload(operation: dict[str, Any], upload: FileUpload, schemas: dict[str, Any]) -> None:
    """Declare the file part's media type (the part's ``encoding``) and rules (its schema)."""
    media = operation["requestBody"]["content"]["multipart/form-data"]
    media.setdefault("encoding", {})[upload.field] = {"contentType": upload.media_type}
    schema = media["schema"]
    if "$ref" in schema:
        schema = schemas[schema["$ref"].removeprefix(SCHEMA_REF)]
    field = schema["properties"][upload.field]
    field.update(contentMediaType=upload.media_type, description=upload.description)
    field.pop("default", None)  # an optional file may be left out, but is never null


def _drop_bentoml_keywords(node: Any) -> None:
    """Remove what BentoML adds that no OpenAPI version knows: ``root_input: true`` (its own marker
    for a body that is the parameter itself) and ``type: file`` (a file part is a binary string).

    Walks the whole document but not the values (examples, defaults) it holds: a property named
    ``root_input`` or an example with ``"type": "file"`` stay.
    """
    if isinstance(node, dict):
        if node.get("root_input") is True:
            del node["root_input"]
        if node.get("type") == "file":
            node.update(type="string", format="binary")
        for key, value in node.items():
            if key not in VALUE_KEYWORDS:
                _drop_bentoml_keywords(value)
    elif isinstance(node, list):
        for value in node:
            _drop_bentoml_keywords(value)
