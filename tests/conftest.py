"""Shared fixtures: a temporary model store trained with ``train.py --quick`` and a real server.

``BENTOML_HOME`` is set before anything imports BentoML, so no test touches the user's store.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

HOME = Path(tempfile.mkdtemp(prefix="tabserve-tests-"))
os.environ["BENTOML_HOME"] = str(HOME / "bentoml")
os.environ["BENTOML_DO_NOT_TRACK"] = "true"
os.environ["TABSERVE_STATE_DIR"] = str(HOME / "state")

from load_tests.server import ADMIN_TOKEN_ENV, ROOT, SERVICE_NAME, Server, admin_headers, derived_config  # noqa: E402
from tabserve.datasets import AT_ROOT, DATASETS  # noqa: E402
from tabserve.image import latest_tags  # noqa: E402
from tabserve.store.registry import ModelRecord, list_records  # noqa: E402

#: Every server the tests start inherits this admin token; ``ADMIN`` is the header that sends it.
ADMIN_TOKEN = "test-admin-token-4f9c2b7e"
os.environ[ADMIN_TOKEN_ENV] = ADMIN_TOKEN
ADMIN = admin_headers(ADMIN_TOKEN)


#: Fixtures that start a real server: every test that uses one (even indirectly) is marked slow.
SERVER_FIXTURES = frozenset({"server"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests that need a running server ``slow``; modules that start their own say so themselves."""
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def service_config(directory: Path, name: str, **settings: object) -> Path:
    """A copy of configuration.yaml with ``services.tabserve`` settings replaced."""

    def replace(services: dict[str, Any]) -> None:
        service = services[SERVICE_NAME]
        for key, value in settings.items():
            if isinstance(value, dict):
                service.setdefault(key, {}).update(value)
            else:
                service[key] = value

    return derived_config(directory / f"{name}.yaml", replace)


def run_cli(
    script: str, *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """One of the project's command lines (``train.py``, ``models.py``) as a user runs it, 200 columns."""
    return subprocess.run(
        [sys.executable, script, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def run_train(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("train.py", *args)


@pytest.fixture(scope="session")
def trained_datasets() -> dict[str, list[ModelRecord]]:
    """One quick-trained version of every algorithm of every dataset in the temporary store."""
    result = run_train("--quick")
    assert result.returncode == 0, result.stdout + result.stderr
    return {name: list_records(name) for name in DATASETS}


@pytest.fixture(scope="session")
def trained(trained_datasets: dict[str, list[ModelRecord]]) -> list[ModelRecord]:
    """The models of the dataset served at the root (the routes most tests call)."""
    return trained_datasets[AT_ROOT.name]


@pytest.fixture(scope="session")
def logs() -> Path:
    path = HOME / "logs"
    path.mkdir(exist_ok=True)
    return path


def server_on_copy(name: str, logs: Path) -> Server:
    """A server of its own on a copy of the trained store (``HOME/<name>``), with its own state and
    data folders: for tests that train new versions, which other tests must not see."""
    home = HOME / name
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(HOME / "bentoml" / "models", home / "bentoml" / "models")
    env = {"BENTOML_HOME": str(home / "bentoml"), "TABSERVE_STATE_DIR": str(home / "state")}
    return Server(env, logs / f"{name}.log").start()


@pytest.fixture(scope="session")
def server(trained: list[ModelRecord], logs: Path) -> Iterator[Server]:
    """One worker, the project's configuration.yaml, the shared temporary store and state."""
    running = Server({}, logs / "server.log").start()
    yield running
    running.stop()


@pytest.fixture()
def client(server: Server) -> Iterator[httpx.Client]:
    """An operator's HTTP client (admin token included) on a server whose active model is the
    default (no choice recorded)."""
    for name in DATASETS:
        (HOME / "state" / f"active-{name}.json").unlink(missing_ok=True)
    with httpx.Client(base_url=server.url, timeout=60, headers=ADMIN) as http:
        yield http


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=600)


def docker_available() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


#: For modules that need a Docker engine: skipped without one, unless TABSERVE_REQUIRE_DOCKER=1 (CI sets it,
#: after docker/start-engine.sh), in which case they fail.
needs_docker = pytest.mark.skipif(
    not docker_available() and os.environ.get("TABSERVE_REQUIRE_DOCKER") != "1",
    reason="no Docker engine (docker/start-engine.sh starts one on Debian)",
)


@pytest.fixture(scope="session")
def packaged(trained_datasets: dict[str, list[ModelRecord]]) -> dict[str, set[str]]:
    """Per dataset, the models the image must hold: each algorithm's newest version in the test store
    when the image is built."""
    return {name: set(latest_tags(list_records(name))) for name in DATASETS}


@pytest.fixture(scope="session")
def image(packaged: dict[str, set[str]]) -> Iterator[str]:
    """The image built by docker/containerize.sh from the test store's models, once per session: the
    container and the swarm tests share it."""
    tag = f"tabserve:test-{uuid.uuid4().hex[:8]}"
    built = subprocess.run(
        ["bash", "docker/containerize.sh", tag], cwd=ROOT, capture_output=True, text=True, timeout=1800
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    yield tag
    docker("rmi", "-f", tag, check=False)
