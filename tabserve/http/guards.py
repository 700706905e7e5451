"""ASGI middleware that turns requests away before BentoML parses them.

Each guard answers a JSON ``{"error": ...}`` with a 4xx and one WARNING line, and never passes a
refused request on: an unauthenticated state change, a body of the wrong media type, a body too
large to parse (BentoML has no limit), or a multipart upload BentoML would answer with a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import AsyncIterator, Mapping

from python_multipart.exceptions import FormParserError
from starlette.datastructures import Headers
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)


async def refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> None:
    logger.warning("%s %s -> %d: %s", scope.get("method"), scope.get("path"), status, message)
    await JSONResponse({"error": message}, status_code=status, headers=headers)(scope, receive, send)


def _digest(secret: bytes) -> bytes:
    return hashlib.sha256(secret).digest()


class RequireAdminToken:
    """``Authorization: Bearer <token>`` on the routes that change what the service serves.

    The token comes from the environment variable ``token_env``. Without one, those routes answer
    403 and say how to enable them. Tokens are compared as sha256 digests in constant time (no
    timing or length leak) and never logged.
    """

    def __init__(self, app: ASGIApp, *, paths: frozenset[str], token_env: str):
        self.app, self.paths, self.token_env = app, paths, token_env
        token = os.environ.get(token_env, "").strip()
        self._expected = _digest(token.encode()) if token else None
        if self._expected is None:
            logger.warning("%s is not set: %s answer 403", token_env, ", ".join(sorted(paths)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        if self._expected is None:
            await refuse(
                scope,
                receive,
                send,
                403,
                f"{scope['path']} is disabled: start the server with {self.token_env}=<secret> and send "
                "'Authorization: Bearer <secret>'",
            )
            return
        scheme, _, credentials = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            await refuse(
                scope,
                receive,
                send,
                401,
                f"{scope['path']} needs 'Authorization: Bearer <token>' (the server's {self.token_env})",
                {"WWW-Authenticate": 'Bearer realm="admin"'},
            )
            return
        if not hmac.compare_digest(_digest(credentials.strip().encode()), self._expected):
            await refuse(
                scope,
                receive,
                send,
                401,
                f"the bearer token does not match the server's {self.token_env}",
                {"WWW-Authenticate": 'Bearer realm="admin", error="invalid_token"'},
            )
            return
        await self.app(scope, receive, send)


def media_type(headers: Headers) -> str | None:
    value = headers.get("content-type")
    return value.split(";")[0].strip().lower() if value is not None else None


class RequireContentType:
    """415 for a POST whose body is not of a media type its route reads.

    BentoML parses any other type as JSON (or as a form), so ``text/plain`` JSON was accepted and a
    form post answered with confusing field errors. A JSON route without a Content-Type is read as
    JSON, as BentoML does.
    """

    def __init__(self, app: ASGIApp, *, media_types: Mapping[str, tuple[str, ...]]):
        self.app, self.media_types = app, media_types

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        accepted = self.media_types.get(scope["path"]) if scope["type"] == "http" else None
        if accepted is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        sent = media_type(Headers(scope=scope))
        if sent in accepted or (sent is None and "application/json" in accepted):
            await self.app(scope, receive, send)
            return
        await refuse(
            scope,
            receive,
            send,
            415,
            f"{scope['path']} reads {' or '.join(accepted)}, not {sent or 'a body without Content-Type'}",
        )


#: Form fields that carry a file upload (``/predict_csv``'s ``file``, ``/train``'s ``test_file``).
FILE_FIELDS = frozenset({"file", "test_file"})


class ValidateMultipart:
    """400 for a ``multipart/form-data`` body that cannot be parsed.

    BentoML parses uploads with Starlette's form parser but answers its errors (no boundary, a
    malformed part, a part without a name, too many parts) with a 500. This guard runs the same
    parser first (a few ms for a 5 MB upload) and answers its complaint as a 400. It must sit inside
    :class:`LimitBodySize`, which bounds what is read here.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope) if scope["type"] == "http" else None
        if headers is None or media_type(headers) != "multipart/form-data":
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:
            return  # the client went away
        problem = await multipart_problem(headers, body)
        if problem:
            await refuse(scope, receive, send, 400, f"unreadable multipart/form-data upload: {problem}")
            return
        await self.app(scope, replay(body, receive), send)


async def multipart_problem(headers: Headers, body: bytes) -> str | None:
    """What Starlette's form parser finds wrong with a multipart body, or None."""

    async def stream() -> AsyncIterator[bytes]:
        yield body

    try:
        form = await MultiPartParser(headers, stream()).parse()
    except MultiPartException as exc:
        return exc.message
    except FormParserError as exc:
        return str(exc)
    # BentoML reads a text part sent for a file field as a URL and downloads it: refuse it here.
    texts = sorted(
        {name for name, value in form.multi_items() if name in FILE_FIELDS and isinstance(value, str)}
    )
    await form.close()
    if texts:
        return (
            f"the field(s) {', '.join(texts)} must be file uploads (curl -F {texts[0]}=@data.csv), not text"
        )
    return None


async def read_body(receive: Receive, limit: float = float("inf")) -> bytes | None:
    """The whole request body; None if the client disconnected; a prefix past ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit or not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app ``body`` (already read) and then the client's messages."""
    replayed = False

    async def receive_again() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive_again


class LimitBodySize:
    """413 for a request body larger than its route's limit, before anything parses it.

    A declared ``Content-Length`` over the limit is refused without reading the body. A chunked body
    is read up to the limit (BentoML would buffer it whole anyway) and refused once it passes it.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, per_path: Mapping[str, int] | None = None):
        self.app, self.max_bytes, self.per_path = app, max_bytes, dict(per_path or {})

    def limit(self, path: str) -> int:
        return self.per_path.get(path, self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope["path"])
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None:
            # The HTTP parser already holds the body to its Content-Length.
            if declared.isdigit() and int(declared) > limit:
                await self.too_large(scope, receive, send, limit)
                return
            await self.app(scope, receive, send)
            return
        body = await read_body(receive, limit)
        if body is None:
            return  # the client went away
        if len(body) > limit:
            await self.too_large(scope, receive, send, limit)
            return
        await self.app(scope, replay(body, receive), send)

    async def too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        await refuse(
            scope,
            receive,
            send,
            413,
            f"the request body is over the {limit / 2**20:g} MiB limit of {scope['path']}; "
            "send fewer rows per request",
        )
