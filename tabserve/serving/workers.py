"""Which of the service's worker processes are alive, so readiness can report a lost one.

``bentoml serve`` respawns a worker that dies; inside a container (``BENTOML_CONTAINERIZED``) it
does not, by design: the orchestrator restarts containers. There, with several workers, the
survivors would keep answering /readyz with 200 while capacity is gone. Each worker counts its
siblings (the supervisor's worker children) against the configured number instead.
"""

from __future__ import annotations

import logging
import os

import psutil

logger = logging.getLogger(__name__)

WORKER_MODULE = "_bentoml_impl.worker"


def configured_workers(service_name: str) -> int | None:
    """The number of workers BentoML starts for the service, from its configuration.

    Mirrors ``_bentoml_impl.server.allocator`` (an int, or ``cpu_count``), whose own allocator
    costs a quarter of a second of start-up probing for GPUs.
    """
    try:
        from bentoml._internal.configuration.containers import BentoMLContainer

        workers = BentoMLContainer.config.services.get()[service_name].get("workers") or 1
        return (os.cpu_count() or 1) if workers == "cpu_count" else int(workers)
    except Exception as exc:  # BentoML changed: no census rather than a wrong one
        logger.warning("Worker census off: %s", exc)
        return None


def respawned() -> bool:
    """Whether BentoML replaces dead workers here (it does not inside a container)."""
    return "BENTOML_CONTAINERIZED" not in os.environ


def worker_processes(supervisor: psutil.Process) -> list[psutil.Process]:
    """The live BentoML workers under ``supervisor`` (not a dead one awaiting its reaping).

    Raises :class:`psutil.Error` if the supervisor itself is gone.
    """
    found = []
    for child in supervisor.children():
        try:
            if WORKER_MODULE in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.Error:  # a zombie, or it exited while we looked
            continue
    return found


class WorkerCensus:
    """Counts the live workers under this worker's supervisor."""

    def __init__(self, expected: int | None):
        self.expected = expected
        self._supervisor = psutil.Process(os.getppid())
        self._reported: int | None = None

    def missing(self) -> int:
        """Workers configured but not running (0 when unknown); logs each change once."""
        if self.expected is None:
            return 0
        try:
            alive = len(worker_processes(self._supervisor))
        except psutil.Error:  # no supervisor to ask: no census
            return 0
        missing = max(self.expected - alive, 0)
        if missing != self._reported:
            self._reported = missing
            if missing:
                logger.error(
                    "%d of %d workers are not running%s",
                    missing,
                    self.expected,
                    "; BentoML is replacing them" if respawned() else "; restart the container",
                )
            else:
                logger.info("All %d workers are running", self.expected)
        return missing
