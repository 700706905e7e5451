"""The Docker image end to end: build, run as non-root, every dataset's latest models packaged and
answering, every endpoint like the local server, the model choice surviving a container restart, a
short Locust run with no failure, teardown.

Needs a Docker engine. Without one these tests are skipped, unless TABSERVE_REQUIRE_DOCKER=1
(CI sets it, after docker/start-engine.sh), in which case they fail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator

import httpx
import pytest

from load_tests.server import ROOT, free_port, wait_for, wait_until_ok
from tabserve.datasets import DATASETS
from tests.conftest import ADMIN, ADMIN_TOKEN, HOME, docker, needs_docker
from tests.test_service import CSV_HEADER, EXAMPLE, GENTOO

pytestmark = [pytest.mark.slow, needs_docker]


class Container:
    """One container of the image, on a free port, with a named volume for the state folder."""

    def __init__(self, image: str, volume: str):
        self.image, self.volume = image, volume
        self.name = f"tabserve-test-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, *options: str) -> float:
        docker(
            "run", "-d", "--name", self.name, "-p", f"127.0.0.1:{self.port}:3000", *options,
            "-v", f"{self.volume}:/home/bentoml/state", "-e", f"PENGUIN_ADMIN_TOKEN={ADMIN_TOKEN}",
            self.image,
        )  # fmt: skip
        return self.wait_ready()

    def wait_ready(self, timeout: float = 120) -> float:
        waited = wait_until_ok(f"{self.url}/readyz", timeout)
        if waited is None:
            raise TimeoutError(docker("logs", self.name, check=False).stdout[-3000:])
        return waited

    def remove(self) -> None:
        docker("rm", "-f", self.name, check=False)

    def worker_pid(self) -> int:
        """The host PID of the container's BentoML worker process."""
        listing = docker("top", self.name, "-eo", "pid,args").stdout.splitlines()[1:]
        return next(int(line.split()[0]) for line in listing if "_bentoml_impl.worker" in line)

    def restarts(self) -> int:
        return int(docker("inspect", "-f", "{{.RestartCount}}", self.name).stdout)


@pytest.fixture(scope="module")
def container(image) -> Iterator[Container]:
    volume = f"tabserve-test-state-{uuid.uuid4().hex[:8]}"
    running = Container(image, volume)
    running.start()
    yield running
    running.remove()
    docker("volume", "rm", "-f", volume, check=False)


def test_image_runs_as_a_non_root_user_and_is_slim(image, container):
    assert docker("exec", container.name, "id", "-u").stdout.strip() != "0"
    size = int(docker("image", "inspect", "-f", "{{.Size}}", image).stdout)
    # ~730 MB serving alone; matplotlib and its packages (training reports from /train) add ~100 MB.
    assert size <= 900e6, f"image is {size / 1e6:.0f} MB"


def test_container_answers_like_the_local_server(container, server):
    with (
        httpx.Client(base_url=container.url, timeout=60, headers=ADMIN) as box,
        httpx.Client(base_url=server.url, headers=ADMIN) as local,
    ):
        for http in (box, local):
            assert http.post("/select_model", json={"model": "svm"}).status_code == 200
        assert box.get("/models").json()["active"] == local.get("/models").json()["active"]
        for path, body in (("/predict", EXAMPLE), ("/predict_batch", {"penguins": [EXAMPLE, GENTOO]})):
            got, expected = box.post(path, json=body), local.post(path, json=body)
            assert got.status_code == 200, got.text
            assert got.json() == expected.json()
            assert got.headers["X-Model-Tag"] == expected.headers["X-Model-Tag"]
        table = f"{CSV_HEADER}\nBiscoe,39.1,18.7,181,3750,male\nDream,,,,,\n"
        files = {"file": ("p.csv", table, "text/csv")}
        assert box.post("/predict_csv", files=files).text == local.post("/predict_csv", files=files).text
        assert box.post("/predict", json={**EXAMPLE, "sex": "x"}).status_code == 400
        assert box.get("/model_info").json()["tag"] == local.get("/model_info").json()["tag"]
        assert box.get("/metrics").status_code == 200


def test_the_image_holds_every_datasets_latest_models_and_nothing_else(container, packaged):
    assert all(packaged.values()), packaged  # the test store has models for every dataset
    for name, tags in packaged.items():
        listed = httpx.get(f"{container.url}/{name}/models", timeout=30)
        assert listed.status_code == 200, listed.text
        assert {model["tag"] for model in listed.json()["models"]} == tags


def test_every_dataset_answers_in_the_container_like_the_local_server(container, server):
    try:
        with (
            httpx.Client(base_url=container.url, timeout=60, headers=ADMIN) as box,
            httpx.Client(base_url=server.url, headers=ADMIN) as local,
        ):
            for name, spec in DATASETS.items():
                for http in (box, local):
                    assert http.post(f"/{name}/select_model", json={"model": "svm"}).status_code == 200
                for path, body in (
                    (f"/{name}/predict", spec.example),
                    (f"/{name}/predict_batch", {spec.rows_noun: [spec.example, spec.example]}),
                ):
                    got, expected = box.post(path, json=body), local.post(path, json=body)
                    assert got.status_code == 200, got.text
                    assert got.json() == expected.json()
                    assert got.headers["X-Model-Tag"] == expected.headers["X-Model-Tag"]
    finally:  # the local server answers with its default models again
        for name in DATASETS:
            (HOME / "state" / f"active-{name}.json").unlink(missing_ok=True)


def test_model_choice_survives_a_container_restart(container):
    selected = httpx.post(f"{container.url}/select_model", json={"model": "knn"}, headers=ADMIN, timeout=30)
    chosen = selected.json()["tag"]
    docker("restart", container.name)
    container.wait_ready()
    assert httpx.get(f"{container.url}/model_info", timeout=30).json()["tag"] == chosen
    prediction = httpx.post(f"{container.url}/predict", json=EXAMPLE, timeout=30)
    assert prediction.json()["model"] == chosen


def test_a_short_locust_run_against_the_container_has_no_failure(container, tmp_path):
    report = tmp_path / "container"
    command = [
        sys.executable, "-m", "locust", "-f", "load_tests/locustfile.py", "--headless", "-u", "16",
        "-r", "16", "-t", "8s", "--host", container.url, "--only-summary", "--json-file", str(report),
        "PredictUser", "BatchUser",
    ]  # fmt: skip
    subprocess.run(command, cwd=ROOT, capture_output=True, timeout=120, check=True)
    stats = json.loads(report.with_suffix(".json").read_text())
    assert sum(e["num_requests"] for e in stats) > 0
    assert sum(e["num_failures"] for e in stats) == 0


def test_a_container_whose_worker_dies_comes_back_through_its_restart_policy(image):
    """BentoML does not respawn workers in a container: the server exits and Docker restarts it."""
    volume = f"tabserve-test-state-{uuid.uuid4().hex[:8]}"
    box = Container(image, volume)
    box.start("--restart", "on-failure")
    try:
        os.kill(box.worker_pid(), signal.SIGKILL)
        assert wait_for(lambda: box.restarts() >= 1, timeout=60)
        box.wait_ready()
        assert httpx.post(f"{box.url}/predict", json=EXAMPLE, timeout=30).status_code == 200
    finally:
        box.remove()
        docker("volume", "rm", "-f", volume, check=False)


def test_a_training_task_in_the_container_saves_models_its_worker_serves(container):
    """The task's training process saves into the store the container's worker serves (the bento's
    own models folder, not $BENTOML_HOME/models), and its report is served too."""
    form = {"algorithms": (None, "knn"), "quick": (None, "true")}
    with httpx.Client(base_url=container.url, headers=ADMIN, timeout=60) as http:
        submitted = http.post("/breast_cancer/train/submit", files=form)
        assert submitted.status_code == 200, submitted.text
        task = {"task_id": submitted.json()["task_id"]}

        def status() -> str:
            return http.get("/breast_cancer/train/status", params=task).json()["status"]

        assert wait_for(lambda: status() != "in_progress", 600, interval=1)
        assert status() == "completed", docker("logs", container.name).stdout[-3000:]
        outcome = http.get("/breast_cancer/train/get", params=task).json()
        (model,) = outcome["models"]
        assert model["tag"] in {m["tag"] for m in http.get("/breast_cancer/models").json()["models"]}
        assert http.post("/breast_cancer/select_model", json={"model": model["tag"]}).status_code == 200
        assert http.get(outcome["report_url"]).status_code == 200
