"""Domain errors to JSON HTTP errors, in one place.

BentoML renders exceptions raised from API code as a JSON *array* and logs a traceback at ERROR;
API methods decorated with :func:`json_errors` answer ``{"error": ..., "choices": ...}`` with the
right status instead, and log the client's mistake as one WARNING line.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse

from tabserve.errors import (
    AmbiguousSelector,
    CsvError,
    IntegrityError,
    ModelNotFound,
    ModelRefused,
    NoModelAvailable,
    StateUnavailable,
    WrongDataset,
)

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with an HTTP status and a JSON body that tells the client what to do."""

    def __init__(self, status: int, message: str, choices: list[str] | None = None):
        super().__init__(message)
        self.status, self.message, self.choices = status, message, choices

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message}
        if self.choices is not None:
            body["choices"] = self.choices
        return body


class Overloaded(ApiError):
    def __init__(self) -> None:
        super().__init__(503, "the server is overloaded; retry shortly")


def as_api_error(exc: Exception) -> ApiError | None:
    """The HTTP form of a known domain error, or None for an unexpected one."""
    match exc:
        case ApiError():
            return exc
        case ModelNotFound():
            return ApiError(
                404,
                f"no model matches {exc.selector!r}; use a tag (name:version), a model name or "
                "an algorithm id from 'choices'",
                exc.choices,
            )
        case AmbiguousSelector():
            return ApiError(
                400,
                f"{exc.selector!r} matches several models; send one of 'choices'",
                exc.candidates,
            )
        case WrongDataset():  # not found among this dataset's models, with where it is instead
            return ApiError(
                404,
                f"{exc.tag} belongs to the dataset {exc.dataset!r}, not {exc.expected!r}; "
                f"select it at /{exc.dataset}/select_model",
            )
        case ModelRefused() | IntegrityError():
            return ApiError(409, str(exc))
        case NoModelAvailable() | StateUnavailable():
            return ApiError(503, str(exc))
        case CsvError():
            return ApiError(400, str(exc))
    return None


def json_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Answer known errors raised by an API method as JSON with their status code.

    The method must take BentoML's context as ``ctx``: BentoML copies its status onto the response.
    The wrapper carries the method's signature ready-made: BentoML calls ``inspect.signature`` on
    every request, which otherwise unwraps and rebuilds it (~4% of a worker's CPU under load).
    """

    def respond(exc: Exception, ctx: Any) -> JSONResponse:
        if isinstance(exc, ValidationError):
            # Inputs were validated before the method ran: this is a server-side bug, not a 400.
            raise RuntimeError(f"{func.__name__} built an invalid response") from exc
        error = as_api_error(exc)
        if error is None:
            raise exc
        log = logger.warning if error.status < 500 else logger.error
        log("%s -> %d: %s", func.__name__, error.status, error.message)
        ctx.response.status_code = error.status
        return JSONResponse(error.body(), status_code=error.status)

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(self: Any, *args: Any, ctx: Any, **kwargs: Any) -> Any:
            try:
                return await func(self, *args, ctx=ctx, **kwargs)
            except Exception as exc:
                return respond(exc, ctx)

        async_wrapper.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
        return async_wrapper

    @functools.wraps(func)
    def wrapper(self: Any, *args: Any, ctx: Any, **kwargs: Any) -> Any:
        try:
            return func(self, *args, ctx=ctx, **kwargs)
        except Exception as exc:
            return respond(exc, ctx)

    wrapper.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
    return wrapper
