"""ASGI middleware and logging hooks that fix what BentoML shows clients and operators.

* Validation errors: BentoML answers ``{"error": "2 validation error for PenguinIODescriptor",
  "detail": [...]}``; clients need the field names in the message itself.
* The OpenAPI document: BentoML fills it with its own placeholder README and generic error schemas.
* Logs: BentoML logs every client validation error at ERROR with a full traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Selector = Callable[[Scope, int], bool]


class RewriteJson:
    """Let ``rewrite`` replace the JSON body of the responses ``select(scope, status)`` picks.

    With ``paths``, responses to other paths pass straight through, without the cost of watching them.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        select: Selector,
        rewrite: Callable[[Any], Any],
        paths: frozenset[str] | None = None,
    ):
        self.app, self.select, self.rewrite, self.paths = app, select, rewrite, paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.paths is not None and scope["path"] not in self.paths):
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        chunks: list[bytes] = []

        async def intercept(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and self.select(scope, message["status"]):
                held = message
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            with contextlib.suppress(ValueError):  # not JSON after all: pass it through untouched
                body = json.dumps(self.rewrite(json.loads(body))).encode()
            headers = [(k, v) for k, v in held["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**held, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, intercept)


def is_validation_error(scope: Scope, status: int) -> bool:
    return status == 400 and scope.get("method") == "POST"


def _location(loc: list[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def readable_validation_error(body: Any) -> Any:
    """Name every invalid field in ``error``; keep BentoML's ``detail`` list as it was."""
    if not isinstance(body, dict) or not isinstance(body.get("detail"), list):
        return body
    problems = [
        f"{_location(item.get('loc', []))}: {item.get('msg', 'invalid')}"
        for item in body["detail"]
        if isinstance(item, dict)
    ]
    shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
    return {**body, "error": f"invalid input: {shown}"}


class ClientErrorsAsWarnings(logging.Filter):
    """Turn BentoML's ERROR-with-traceback for a client's validation error into one WARNING line."""

    def filter(self, record: logging.LogRecord) -> bool:
        from pydantic import ValidationError

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, ValidationError):
            fields = ", ".join(_location(list(e["loc"])) for e in exc.errors()[:10])
            record.msg = f"{record.getMessage()}: client sent invalid input ({fields})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def configure_logging() -> None:
    """Route this package's logs through BentoML's handlers and quiet client errors.

    Call it from the service's ``__init__``: BentoML configures its handlers when a worker starts.
    """
    logging.getLogger("bentoml._internal.server.http_app").addFilter(ClientErrorsAsWarnings())
    package = logging.getLogger("tabserve")
    package.setLevel(logging.INFO)
    for handler in logging.getLogger("bentoml").handlers:
        if handler not in package.handlers:
            package.addHandler(handler)
    package.propagate = not package.handlers
