"""Where each dataset's active-model choice lives, shared by every worker and replica.

Two backends, picked from the environment by :func:`state_store`:

- a file per dataset (``file.py``, the default): every worker of one machine reads it with one ``stat``;
- Redis (``redis.py``) when ``$TABSERVE_STATE_URL`` is set, for replicas on several machines.

Both hand out one :class:`ModelChoice` per dataset. ``read()`` runs on every batch, so it never waits
on the network: the Redis backend answers from memory and follows changes in a background thread.
``write()`` records a choice for everyone, or raises :class:`tabserve.errors.StateUnavailable`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from tabserve.store.state.file import STATE_DIR_ENV, ActiveModelFile, default_state_dir

#: ``redis://host:6379/0`` keeps the model choices in Redis; unset, they stay in files.
STATE_URL_ENV = "TABSERVE_STATE_URL"

__all__ = [
    "STATE_DIR_ENV",
    "STATE_URL_ENV",
    "ActiveModelFile",
    "FileStore",
    "ModelChoice",
    "StateStore",
    "default_state_dir",
    "state_store",
]


class ModelChoice(Protocol):
    """One dataset's chosen model tag."""

    def read(self) -> str | None:
        """The chosen tag, or None when nobody has chosen; cheap enough for every batch."""
        ...

    def write(self, tag: str) -> None:
        """Record ``tag`` as the choice of every worker and replica."""
        ...


class StateStore(Protocol):
    """Hands out each dataset's :class:`ModelChoice`, and says where the choices are kept."""

    def choice(self, dataset: str) -> ModelChoice:
        """The choice a server reads on every batch (kept up to date for it)."""
        ...

    def current(self, dataset: str) -> str | None:
        """The choice as stored right now, for one-off readers such as ``models.py``."""
        ...

    def where(self, dataset: str) -> str:
        """Where ``dataset``'s choice is kept, for people (no password)."""
        ...


class FileStore:
    """One :class:`ActiveModelFile` per dataset in one folder: all a single machine needs."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def choice(self, dataset: str) -> ActiveModelFile:
        return ActiveModelFile(self.directory, dataset)

    def current(self, dataset: str) -> str | None:
        return self.choice(dataset).read()

    def where(self, dataset: str) -> str:
        return str(self.choice(dataset).path)


def state_store(state_dir: Path | None = None) -> StateStore:
    """Redis when ``$TABSERVE_STATE_URL`` is set, else files in ``state_dir`` (or ``default_state_dir()``)."""
    url = os.environ.get(STATE_URL_ENV)
    if url:
        # Imported only here: a single machine needs neither the client nor its import time.
        from tabserve.store.state.redis import RedisStore

        return RedisStore(url)
    return FileStore(state_dir or default_state_dir())
