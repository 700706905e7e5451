"""The model choices in Redis, for replicas on several machines (``TABSERVE_STATE_URL``).

Each dataset's choice is the key ``tabserve:active:<dataset>``, holding the same JSON as the state file
(``{"tag": ..., "selected_at": ...}``).

Requests never wait on Redis: each worker keeps the choices in memory, and one background thread per
worker re-reads them every :data:`POLL_SECONDS` (one ``MGET``), so every replica follows a choice made on
any other within a second. A short poll rather than pub/sub: nothing to resubscribe after a reconnect,
no message lost between a read and a subscription, and four tiny reads a second per worker.

Redis down: reads keep the last known choices, ``write`` raises :class:`StateUnavailable` (the API
answers 503), and the thread retries with backoff (up to :data:`MAX_BACKOFF_SECONDS` apart), so
everything recovers when Redis returns, without a restart.

Redis restarted without its data (no persistence, or a ``FLUSHALL``): the marker key
``tabserve:epoch`` is created, within a poll of the first choice, by a worker that has a choice, and is
never deleted by tabserve. A worker that finds it missing knows Redis lost its data, rather than a choice
being deleted on purpose, and writes back the choices it was serving (``SET NX``: the first replica to
notice wins, and a choice made meanwhile is kept) with the marker, in one transaction. A choice key
deleted on purpose while the marker stays (``DEL tabserve:active:penguins``) is followed: that dataset's
default answers. Choices nobody remembers (every replica restarted along with Redis) are gone: give Redis
persistence to keep those.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from tabserve.errors import StateUnavailable

logger = logging.getLogger(__name__)

#: How often each worker re-reads the choices: well inside the 1 s follow promised to operators.
POLL_SECONDS = 0.25
#: Longest wait between reconnection attempts while Redis is unreachable.
MAX_BACKOFF_SECONDS = 2.0
#: Socket connect and read timeout: a Redis that does not answer within this counts as down.
TIMEOUT_SECONDS = 1.0
KEY_PREFIX = "tabserve:active:"
#: Exists as long as Redis kept its data; see the module docstring.
EPOCH_KEY = "tabserve:epoch"


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:***@" if parts.username else ":***@"
    host = parts.hostname or ""
    netloc = f"{user}{host}:{parts.port}" if parts.port else f"{user}{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def _tag_of(value: bytes | None) -> str | None:
    """The tag in a stored choice, or None when there is none or it is damaged (as for the file)."""
    if value is None:
        return None
    try:
        tag = json.loads(value)["tag"]
    except (ValueError, KeyError, TypeError):
        return None
    return tag if isinstance(tag, str) else None


class RedisChoice:
    """One dataset's choice as this worker last saw it in Redis (see :class:`RedisStore`)."""

    def __init__(self, store: RedisStore, dataset: str):
        self.store, self.dataset = store, dataset

    def read(self) -> str | None:
        """The last known choice: from memory, never waiting on Redis."""
        return self.store.cached(self.dataset)

    def write(self, tag: str) -> None:
        self.store.write(self.dataset, tag)


class RedisStore:
    """Every dataset's choice in one Redis, cached per worker and followed by one background thread."""

    def __init__(self, url: str):
        self.url = redacted(url)
        # One quick retry covers a pooled connection that went stale; the follower does the rest.
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 1),
        )
        self._lock = threading.Lock()  # one sync or write at a time: a write is never undone by an older read
        self._values: dict[str, bytes | None] = {}
        self._tags: dict[str, str | None] = {}
        self._reachable = True
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None

    # --- the StateStore interface ---------------------------------------------------------------

    def choice(self, dataset: str) -> RedisChoice:
        """``dataset``'s choice, read now (if Redis answers) and followed from then on."""
        with self._lock:
            self._values.setdefault(dataset, None)
            self._tags.setdefault(dataset, None)
        self._sync_logged()
        if self._follower is None:
            self._follower = threading.Thread(target=self._follow, name="tabserve-state", daemon=True)
            self._follower.start()
        return RedisChoice(self, dataset)

    def current(self, dataset: str) -> str | None:
        try:
            return _tag_of(self._client.get(KEY_PREFIX + dataset))
        except RedisError as exc:
            raise StateUnavailable(
                f"the shared state store, Redis at {self.url}, is unreachable ({exc}); start Redis or "
                "fix TABSERVE_STATE_URL"
            ) from exc

    def where(self, dataset: str) -> str:
        return f"Redis at {self.url}, key {KEY_PREFIX}{dataset}"

    # --- reading and writing ----------------------------------------------------------------------

    def cached(self, dataset: str) -> str | None:
        return self._tags.get(dataset)

    def write(self, dataset: str, tag: str) -> None:
        """Record ``tag`` in Redis; this worker answers with it at once, the others within a second."""
        value = json.dumps({"tag": tag, "selected_at": datetime.now(UTC).isoformat()}).encode()
        with self._lock:
            try:
                self._client.set(KEY_PREFIX + dataset, value)
            except RedisError as exc:
                raise StateUnavailable(
                    f"the shared state store, Redis at {self.url}, is unreachable ({exc}), so the choice "
                    "was not recorded; every replica keeps serving its last known choice. Start Redis (or "
                    "fix TABSERVE_STATE_URL) and retry: the servers reconnect by themselves."
                ) from exc
            self._values[dataset], self._tags[dataset] = value, tag

    def _sync(self) -> None:
        """Re-read every followed choice, first restoring them if Redis lost its data."""
        with self._lock:
            datasets = list(self._values)
            keys = [KEY_PREFIX + name for name in datasets]
            epoch, *values = self._client.mget([EPOCH_KEY, *keys])
            if epoch is None and self._restore(datasets):
                epoch, *values = self._client.mget([EPOCH_KEY, *keys])
            for name, value in zip(datasets, values, strict=True):
                if value != self._values[name]:
                    self._values[name], self._tags[name] = value, _tag_of(value)
                    logger.info("Model choice for %s is now %s (from %s)", name, self._tags[name], self.url)

    def _restore(self, datasets: list[str]) -> bool:
        """Write back the choices this worker serves, then the marker, in one transaction; whether
        there was anything to write back.

        A worker that remembers no choice (one started after Redis lost its data) leaves the marker
        alone: creating it would make the workers that do remember take their missing choices for
        deleted ones.
        """
        remembered = {name: value for name in datasets if (value := self._values[name]) is not None}
        if not remembered:
            return False
        with self._client.pipeline(transaction=True) as pipe:
            for name, value in remembered.items():
                pipe.set(KEY_PREFIX + name, value, nx=True)
            pipe.set(EPOCH_KEY, datetime.now(UTC).isoformat(), nx=True)
            *written, _ = pipe.execute()
        restored = [name for name, done in zip(remembered, written, strict=True) if done]
        if restored:
            logger.warning("Redis at %s had lost its data; restored %s", self.url, ", ".join(restored))
        return True

    def _sync_logged(self) -> bool:
        """``_sync``, logging only the changes between reachable and unreachable; whether it worked."""
        try:
            self._sync()
        except RedisError as exc:
            if self._reachable:
                logger.warning("Redis at %s unreachable (%s); keeping the last known choices", self.url, exc)
            self._reachable = False
            return False
        if not self._reachable:
            logger.warning("Redis at %s is reachable again; following model choices", self.url)
        self._reachable = True
        return True

    def _follow(self) -> None:
        """Poll every POLL_SECONDS; while Redis is down, back off up to MAX_BACKOFF_SECONDS."""
        delay = POLL_SECONDS
        while not self._stop.wait(delay):
            delay = POLL_SECONDS if self._sync_logged() else min(delay * 2, MAX_BACKOFF_SECONDS)

    @property
    def reachable(self) -> bool:
        """Whether the last read of Redis worked."""
        return self._reachable

    def close(self) -> None:
        """Stop following and drop the connections (tests; workers simply exit)."""
        self._stop.set()
        if self._follower is not None:
            self._follower.join()
        self._client.close()
