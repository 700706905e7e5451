"""Domain errors. Kept free of heavy imports: the HTTP layer maps them to status codes."""

from __future__ import annotations


class ServingError(Exception):
    """Base of the errors a client can be told about (see ``tabserve.http.api_errors``)."""


class ModelNotFound(ServingError, LookupError):
    """No servable model matches a selector."""

    def __init__(self, selector: str, choices: list[str]):
        self.selector, self.choices = selector, choices
        super().__init__(f"no model matches {selector!r}")


class AmbiguousSelector(ServingError, LookupError):
    """A selector matches more than one model."""

    def __init__(self, selector: str, candidates: list[str]):
        self.selector, self.candidates = selector, candidates
        super().__init__(f"{selector!r} matches {len(candidates)} models")


class WrongDataset(ServingError, LookupError):
    """A selector names a model of another dataset than the one being served."""

    def __init__(self, tag: str, dataset: str, expected: str):
        self.tag, self.dataset, self.expected = tag, dataset, expected
        super().__init__(f"{tag} is a {dataset} model, not a {expected} one")


class IntegrityError(ServingError, RuntimeError):
    """A model file is missing or its sha256 differs from the one recorded at save time."""


class ModelRefused(ServingError, RuntimeError):
    """A model exists but was refused at load time (integrity check or incompatible classes)."""

    def __init__(self, tag: str, reason: str):
        self.tag, self.reason = tag, reason
        super().__init__(f"{tag} cannot be served: {reason}")


class NoModelAvailable(ServingError, RuntimeError):
    """The store holds no loadable model for this dataset."""


class CsvError(ServingError, ValueError):
    """A CSV the service cannot use; the message names the row and column where possible."""


class StateUnavailable(ServingError, RuntimeError):
    """The shared state store (Redis) cannot be reached; the message says where and what to do."""
