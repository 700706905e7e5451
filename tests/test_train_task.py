"""Retraining through the API: the ``/train`` tasks against a real server with a store of its own.

Trainings use quick grids (seconds) except where a long one is the point (cancel). The server's
store is a copy (:func:`server_on_copy`): the versions trained here are invisible to other tests.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from load_tests.server import Server
from tabserve.datasets import BREAST_CANCER, DATASETS
from tabserve.store.registry import ModelRecord
from tests.conftest import ADMIN, HOME, server_on_copy
from tests.test_service import EXAMPLE
from tests.test_training_data import GOOD_ROW, HEADER, PENGUINS_CSV, penguins_rows

NAME = "train-task"
DATA = HOME / NAME / "bentoml" / "tabserve-data"
ENDPOINTS = [("POST", "/train/submit"), ("GET", "/train/status"), ("GET", "/train/get")]
ENDPOINTS += [("PUT", "/train/cancel"), ("POST", "/train/retry"), ("POST", "/breast_cancer/train/submit")]


@pytest.fixture(scope="module")
def server(trained: list[ModelRecord], logs: Path) -> Iterator[Server]:
    running = server_on_copy(NAME, logs)
    yield running
    running.stop()


@pytest.fixture()
def client(server: Server) -> Iterator[httpx.Client]:
    """An admin client; the default model answers again afterwards."""
    with httpx.Client(base_url=server.url, timeout=60, headers=ADMIN) as http:
        yield http
    for name in DATASETS:
        (HOME / NAME / "state" / f"active-{name}.json").unlink(missing_ok=True)


def submit(client: httpx.Client, prefix: str = "", files: dict[str, bytes] | None = None, **form: str) -> str:
    parts: dict[str, Any] = {name: (None, value) for name, value in form.items()}
    parts.update({name: (f"{name}.csv", content, "text/csv") for name, content in (files or {}).items()})
    response = client.post(f"{prefix}/train/submit", files=parts)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "in_progress"
    return response.json()["task_id"]


def finished(client: httpx.Client, task_id: str, prefix: str = "", timeout: float = 600) -> dict[str, Any]:
    """The task's status once it has its result (a canceled task is failed once it has stopped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"{prefix}/train/status", params={"task_id": task_id}).json()
        if status["status"] not in ("in_progress", "canceled"):
            return status
        time.sleep(0.5)
    raise AssertionError(f"task {task_id} still running after {timeout} s")


def result(client: httpx.Client, task_id: str, prefix: str = "") -> dict[str, Any]:
    assert finished(client, task_id, prefix)["status"] == "completed"
    response = client.get(f"{prefix}/train/get", params={"task_id": task_id})
    assert response.status_code == 200, response.text
    return response.json()


def tags(client: httpx.Client, prefix: str = "") -> set[str]:
    return {model["tag"] for model in client.get(f"{prefix}/models").json()["models"]}


def uploads() -> set[str]:
    folder = DATA / "uploads"
    return {path.name for path in folder.iterdir()} if folder.exists() else set()


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-the-token"}], ids=["none", "wrong"])
def test_every_training_endpoint_needs_the_admin_token(server, method, path, headers):
    files = {"algorithms": (None, "knn")} if method == "POST" else None
    response = httpx.request(method, server.url + path, params={"task_id": "x"}, files=files, headers=headers)
    assert response.status_code == 401, response.text
    assert "PENGUIN_ADMIN_TOKEN" in response.json()["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_published_penguins_csv_trains_as_is_and_its_versions_serve(client):
    data = PENGUINS_CSV.read_bytes()
    before, active = tags(client), client.get("/models").json()["active"]
    outcome = result(
        client, submit(client, files={"file": data}, algorithms="logistic_regression,knn", quick="true")
    )
    sha = hashlib.sha256(data).hexdigest()
    assert (outcome["train_rows"], outcome["test_rows"], outcome["data_sha256"]) == (275, 69, sha)
    assert [m["algorithm"] for m in outcome["models"]] == ["logistic_regression", "knn"]
    assert outcome["activated"] is None and outcome["grid"] == "quick"
    new = {m["tag"] for m in outcome["models"]}
    assert tags(client) == before | new  # listed at once, nothing else changed
    assert client.get("/models").json()["active"] == active  # activate=none leaves it alone
    assert (DATA / "uploads" / f"{sha}.csv").read_bytes() == data  # kept, content-addressed

    # The run's report, on the server's disk and through the service, with every model's figures.
    assert outcome["report"].startswith(str(DATA / "reports" / "penguins"))
    assert outcome["report_url"].startswith("/reports/penguins/")
    page = client.get(outcome["report_url"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    folder = outcome["report_url"].rsplit("/", 1)[0]
    for model in outcome["models"]:
        assert model["tag"] in page.text
        for kind in ("confusion_matrix", "roc"):
            image = f"figures/{model['algorithm']}_{kind}.png"
            assert image in page.text
            png = client.get(f"{folder}/{image}")
            assert png.status_code == 200 and png.content.startswith(b"\x89PNG")

    knn = next(m["tag"] for m in outcome["models"] if m["algorithm"] == "knn")
    info = client.post("/select_model", json={"model": knn}).json()
    assert info["tag"] == knn and info["metrics"] == outcome["models"][1]["metrics"]
    assert info["training"]["upload_sha256"] == sha
    assert info["training"]["upload_path"] == str(DATA / "uploads" / f"{sha}.csv")
    assert info["training"]["train_data_sha256"] == outcome["train_data_sha256"]
    answer = client.post("/predict", json=EXAMPLE)
    assert answer.status_code == 200 and answer.json()["model"] == knn


BAD_UPLOADS = {
    "no target column": (penguins_rows(GOOD_ROW[7:], header=HEADER[8:]), "no 'species' column"),
    "unknown label": (penguins_rows(GOOD_ROW, "Emperor" + GOOD_ROW[6:]), "row 2 (line 3), column 'species'"),
    "class too small": (
        penguins_rows(*[GOOD_ROW] * 20),
        "Chinstrap has 0, Gentoo has 0; every class needs at least 8",
    ),
    "out of bounds": (
        penguins_rows(GOOD_ROW.replace("181", "4000")),
        "column 'flipper_length_mm': 4000 is outside",
    ),
    "not a number": (penguins_rows(GOOD_ROW.replace("3750", "heavy")), "'heavy' is not a finite number"),
    "unknown category": (
        penguins_rows(GOOD_ROW.replace("male", "unknown")),
        "column 'sex': 'unknown' is not one",
    ),
}


@pytest.mark.parametrize("kind", list(BAD_UPLOADS))
def test_an_upload_that_cannot_train_is_refused_at_submission_and_nothing_is_saved(client, kind):
    data, needle = BAD_UPLOADS[kind]
    before, kept = tags(client), uploads()
    response = client.post(
        "/train/submit", files={"file": ("bad.csv", data, "text/csv"), "quick": (None, "true")}
    )
    assert response.status_code == 400
    assert needle in response.json()["error"] and "nothing was trained or saved" in response.json()["error"]
    assert tags(client) == before and uploads() == kept


@pytest.mark.parametrize(
    ("form", "needle"),
    [
        ({"algorithms": "xgboost"}, "unknown algorithm id(s): xgboost"),
        ({"activate": "worst"}, "form field 'activate'"),
        ({"quick": "perhaps"}, "form field 'quick'"),
    ],
)
def test_bad_form_fields_are_refused_at_submission(client, form, needle):
    response = client.post("/train/submit", files={name: (None, value) for name, value in form.items()})
    assert response.status_code == 400 and needle in response.json()["error"]
    assert client.post("/train", files={"quick": (None, "true")}).status_code == 404  # only as a task


def test_a_test_file_is_evaluated_instead_of_a_random_split(client):
    lines = PENGUINS_CSV.read_text().splitlines()
    train = ("\n".join([lines[0], *lines[1::2]]) + "\n").encode()
    test = ("\n".join([lines[0], *lines[2::2]]) + "\n").encode()
    outcome = result(
        client, submit(client, files={"file": train, "test_file": test}, algorithms="svm", quick="true")
    )
    assert (outcome["train_rows"], outcome["test_rows"]) == (172, 172)
    assert outcome["test_data_sha256"] == hashlib.sha256(test).hexdigest()
    (model,) = outcome["models"]
    info = client.post("/select_model", json={"model": model["tag"]}).json()
    assert info["training"]["test_rows"] == 172
    assert info["training"]["test_upload_sha256"] == outcome["test_data_sha256"]


def test_activate_best_makes_the_best_new_model_answer(client):
    outcome = result(
        client, submit(client, algorithms="logistic_regression,random_forest", quick="1", activate="best")
    )
    assert outcome["data_sha256"] is None  # the packaged data
    best = max(outcome["models"], key=lambda m: (m["metrics"]["f1_macro"], -m["metrics"]["log_loss"]))
    assert outcome["activated"] == best["tag"]
    listing = client.get("/models").json()
    assert listing["active"] == listing["selected"] == best["tag"]
    assert client.post("/predict", json=EXAMPLE).json()["model"] == best["tag"]


def test_another_datasets_task_trains_that_dataset(client):
    before = tags(client, "/penguins")
    outcome = result(
        client, submit(client, "/breast_cancer", algorithms="knn", quick="true"), "/breast_cancer"
    )
    assert outcome["dataset"] == BREAST_CANCER.name
    assert outcome["models"][0]["tag"] in tags(client, "/breast_cancer")
    assert tags(client, "/penguins") == before


def training_processes(server: Server) -> list[psutil.Process]:
    found = []
    for worker in server.workers():
        for process in worker.children(recursive=True):
            try:
                if "tabserve.training.job" in " ".join(process.cmdline()):
                    found.append(process)
            except psutil.NoSuchProcess:  # it ended (or is a zombie) while we looked: not running
                continue
    return found


def test_serving_goes_on_while_a_training_runs_in_its_own_process(client, server):
    task = submit(client, algorithms="svm,random_forest,gradient_boosting", quick="true")
    answers: list[int] = []
    seen_processes: list[psutil.Process] = []
    stop = threading.Event()

    def predict() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            while not stop.is_set():
                answers.append(http.post("/predict", json=EXAMPLE).status_code)

    worker = threading.Thread(target=predict)
    worker.start()
    try:
        while client.get("/train/status", params={"task_id": task}).json()["status"] == "in_progress":
            seen_processes += training_processes(server)
            time.sleep(0.2)
    finally:
        stop.set()
        worker.join()
    assert result(client, task)["models"]
    assert seen_processes and all(p.pid not in {w.pid for w in server.workers()} for p in seen_processes)
    assert answers and set(answers) == {200}


def test_cancel_stops_the_training_process_and_saves_nothing(client, server):
    before, kept = tags(client), uploads()
    task = submit(client, files={"file": PENGUINS_CSV.read_bytes()}, algorithms="svm")  # the full grid
    deadline = time.monotonic() + 60
    while not training_processes(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert training_processes(server)
    canceled = client.put("/train/cancel", params={"task_id": task})
    assert canceled.status_code == 200 and canceled.json() == {"task_id": task, "status": "canceled"}
    assert finished(client, task)["status"] == "failed"
    answer = client.get("/train/get", params={"task_id": task})
    assert answer.status_code == 409 and "canceled" in answer.json()["error"]
    assert not training_processes(server)
    assert tags(client) == before and uploads() == kept
    again = client.put("/train/cancel", params={"task_id": task})
    assert again.status_code == 409 and "failed" in again.json()["error"]
    assert client.put("/train/cancel", params={"task_id": "no-such-task"}).status_code == 404
