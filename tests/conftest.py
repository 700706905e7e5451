"""Shared fixtures: a temporary model store trained with ``train.py --quick`` and a real server.

``BENTOML_HOME`` is set before anything imports BentoML, so no test touches the user's store.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
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


def run_train(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )


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
