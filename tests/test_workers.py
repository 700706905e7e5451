"""With several worker processes the model choice is shared, switches safely and survives restarts."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest

from load_tests.server import Server
from tests.conftest import ADMIN, service_config

pytestmark = pytest.mark.slow

EXAMPLE = {"island": "Biscoe", "bill_length_mm": 39.1, "bill_depth_mm": 18.7, "sex": "male"}


@pytest.fixture(scope="module")
def two_worker_config(tmp_path_factory) -> Path:
    return service_config(tmp_path_factory.mktemp("config"), "two-workers", workers=2)


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("state")


def start(config: Path, state_dir: Path, logs: Path) -> Server:
    return Server({"TABSERVE_STATE_DIR": str(state_dir)}, logs / "two-workers.log", config).start()


def tags_of(url: str, requests: int) -> Counter:
    """Model tags of many requests over fresh connections, so both workers answer some."""
    tags: Counter = Counter()
    for _ in range(requests):
        with httpx.Client(base_url=url, timeout=30) as fresh:
            tags[fresh.post("/predict", json=EXAMPLE).json()["model"]] += 1
    return tags


def test_choice_is_shared_by_workers_kept_under_load_and_survives_restart(
    trained, two_worker_config, state_dir, logs
):
    server = start(two_worker_config, state_dir, logs)
    try:
        with httpx.Client(base_url=server.url, timeout=30, headers=ADMIN) as http:
            knn = http.post("/select_model", json={"model": "knn"}).json()["tag"]
            assert tags_of(server.url, 24) == Counter({knn: 24})

            svm = http.post("/select_model", json={"model": "svm"}).json()["tag"]
            assert tags_of(server.url, 24) == Counter({svm: 24})

            # Switch back and forth while eight clients keep predicting: nothing fails, and every
            # answer comes from one of the two models.
            stop, seen, failures = threading.Event(), Counter(), []

            def predict_until_stopped() -> None:
                with httpx.Client(base_url=server.url, timeout=30) as client:
                    while not stop.is_set():
                        response = client.post("/predict", json=EXAMPLE)
                        if response.status_code != 200:
                            failures.append(response.status_code)
                        else:
                            seen[response.json()["model"]] += 1

            threads = [threading.Thread(target=predict_until_stopped) for _ in range(8)]
            for thread in threads:
                thread.start()
            for round_ in range(10):
                chosen = "knn" if round_ % 2 == 0 else "svm"
                assert http.post("/select_model", json={"model": chosen}).status_code == 200
            stop.set()
            for thread in threads:
                thread.join()
            assert failures == []
            assert set(seen) <= {knn, svm} and sum(seen.values()) > 0
            final = http.get("/model_info").json()["tag"]
            assert final == svm
    finally:
        assert server.stop() == 0  # SIGTERM: a clean shutdown

    restarted = start(two_worker_config, state_dir, logs)
    try:
        assert tags_of(restarted.url, 8) == Counter({svm: 8})
        assert httpx.get(f"{restarted.url}/models").json()["active"] == svm
    finally:
        restarted.stop()
    assert (Path(state_dir) / "active-penguins.json").exists()
