"""Start and stop a real ``bentoml serve`` subprocess (tests, benchmarks)."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

from tabserve.serving.workers import worker_processes

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configuration.yaml"
#: The service's name in BentoML (and so in ``configuration.yaml``).
SERVICE_NAME = "tabserve"
BENTOML = Path(sys.executable).with_name("bentoml")
#: The service reads its admin token (for /select_model) from this variable.
ADMIN_TOKEN_ENV = "PENGUIN_ADMIN_TOKEN"


def admin_headers(token: str | None = None) -> dict[str, str]:
    """The Authorization header for admin routes: ``token``, else ``$PENGUIN_ADMIN_TOKEN``."""
    token = token or os.environ.get(ADMIN_TOKEN_ENV, "")
    return {"Authorization": f"Bearer {token}"} if token else {}


def derived_config(path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """``configuration.yaml`` with ``edit`` applied to its ``services`` settings, written to ``path``."""
    config = yaml.safe_load(CONFIG.read_text())
    edit(config["services"])
    path.write_text(yaml.safe_dump(config))
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(
    condition: Callable[[], bool],
    timeout: float = 90,
    interval: float = 0.2,
    given_up: Callable[[], bool] = lambda: False,
) -> bool:
    """Whether ``condition()`` held within ``timeout`` seconds (polled every ``interval``).

    False as soon as ``given_up()`` (a process that exited will never become ready).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not given_up():
        if condition():
            return True
        time.sleep(interval)
    return False


def answers_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until_ok(url: str, timeout: float, given_up: Callable[[], bool] = lambda: False) -> float | None:
    """Seconds until GET ``url`` answers 200, or None after ``timeout`` or once ``given_up()``."""
    started = time.monotonic()
    if wait_for(lambda: answers_ok(url), timeout, interval=0.05, given_up=given_up):
        return time.monotonic() - started
    return None


class Server:
    """``bentoml serve TARGET`` on a free port, with environment overrides and a log file.

    The server gets ``$PENGUIN_ADMIN_TOKEN`` if set (or an ``env`` override), else a random one:
    ``admin_token`` holds it.
    """

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        config: Path = CONFIG,
        target: str = "service:Svc",
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "BENTOML_CONFIG": str(config), "BENTOML_DO_NOT_TRACK": "true", **env}
        self.env.setdefault(ADMIN_TOKEN_ENV, secrets.token_urlsafe(24))
        self.admin_token = self.env[ADMIN_TOKEN_ENV]
        self.log_path, self.target = log_path, target
        self.process: subprocess.Popen[bytes] | None = None
        self.ready_seconds: float | None = None

    def start(self, timeout: float = 90, until: str = "/readyz") -> Server:
        """Start, and return once ``until`` answers 200 (``ready_seconds`` records how long)."""
        self.log = self.log_path.open("ab")
        started = time.monotonic()
        self.process = subprocess.Popen(
            [str(BENTOML), "serve", self.target, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = self.process
        waited = wait_until_ok(f"{self.url}{until}", timeout, lambda: process.poll() is not None)
        if waited is not None:
            self.ready_seconds = time.monotonic() - started
            return self
        if process.poll() is not None:
            raise RuntimeError(f"bentoml serve exited early; see {self.log_path}")
        self.stop()
        raise TimeoutError(f"server not ready after {timeout}s; see {self.log_path}")

    def workers(self) -> list[psutil.Process]:
        """The live worker processes (not the supervisor, not a dead worker awaiting its reaping)."""
        return worker_processes(psutil.Process(self.process.pid)) if self.process else []

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each worker process."""
        return [round(w.memory_info().rss / 2**20, 1) for w in self.workers()]

    def worker_peak_rss_mb(self) -> list[float]:
        """Highest resident memory each worker process has had (Linux's VmHWM)."""
        peaks = []
        for worker in self.workers():
            status = Path(f"/proc/{worker.pid}/status").read_text()
            kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
            peaks.append(round(kib / 2**10, 1))
        return peaks

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        return self.process.returncode
