"""Admin auth on the routes that change what is served, and model integrity, through real servers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest

from load_tests.server import Server
from tabserve.datasets import DATASETS
from tabserve.store.registry import MODEL_FILE, ONNX_FILE, latest
from tests.conftest import ADMIN, ADMIN_TOKEN
from tests.test_service import EXAMPLE

SELECT = {"model": "knn"}


@pytest.fixture()
def anonymous(server: Server):
    with httpx.Client(base_url=server.url, timeout=60) as http:
        yield http


@pytest.mark.parametrize(
    ("headers", "needle"),
    [
        ({}, "needs 'Authorization: Bearer <token>'"),
        ({"Authorization": "Bearer not-the-token"}, "does not match"),
        ({"Authorization": f"Bearer {ADMIN_TOKEN}x"}, "does not match"),
        ({"Authorization": f"Basic {ADMIN_TOKEN}"}, "needs 'Authorization: Bearer <token>'"),
        ({"Authorization": "Bearer"}, "needs 'Authorization: Bearer <token>'"),
    ],
)
def test_select_model_without_the_right_token_is_401(anonymous, client, headers, needle):
    before = client.get("/models").json()["active"]
    response = anonymous.post("/select_model", json=SELECT, headers=headers)
    assert response.status_code == 401
    assert needle in response.json()["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/models").json()["active"] == before  # nothing changed


def test_the_right_token_switches_and_reads_stay_open(anonymous, client):
    assert client.post("/select_model", json=SELECT).json()["algorithm"] == "knn"
    assert anonymous.post("/predict", json=EXAMPLE).status_code == 200
    assert anonymous.post("/predict_batch", json={"penguins": [EXAMPLE]}).status_code == 200
    for path in ("/models", "/model_info", "/docs.json", "/readyz", "/metrics"):
        assert anonymous.get(path).status_code == 200, path


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_every_datasets_model_choice_needs_the_token_and_is_its_own(anonymous, client, dataset):
    """Each dataset's /select_model is guarded, and switches that dataset only."""
    before = {name: client.get(f"/{name}/models").json()["active"] for name in DATASETS}
    assert anonymous.post(f"/{dataset}/select_model", json=SELECT).status_code == 401
    assert client.get(f"/{dataset}/models").json()["active"] == before[dataset]
    chosen = client.post(f"/{dataset}/select_model", json=SELECT).json()
    assert chosen["algorithm"] == "knn" and chosen["dataset"] == dataset
    for name, active in before.items():
        if name != dataset:
            assert client.get(f"/{name}/models").json()["active"] == active, name


def test_tokens_are_never_logged(anonymous, server: Server):
    anonymous.post("/select_model", json=SELECT, headers={"Authorization": "Bearer wrong-secret-a1b2"})
    anonymous.post("/select_model", json=SELECT, headers=ADMIN)
    text = server.log_path.read_text(errors="replace")
    assert "wrong-secret-a1b2" not in text and ADMIN_TOKEN not in text


def test_the_openapi_document_declares_the_admin_scheme(anonymous):
    document = anonymous.get("/docs.json").json()
    assert document["components"]["securitySchemes"]["adminToken"]["scheme"] == "bearer"
    select = document["paths"]["/select_model"]["post"]
    assert select["security"] == [{"adminToken": []}]
    assert {"401", "403", "409"} <= set(select["responses"])
    assert "security" not in document["paths"]["/predict"]["post"]


@pytest.mark.slow  # a subprocess or a server of its own
def test_without_a_configured_token_state_changes_are_403(trained, logs):
    server = Server({"PENGUIN_ADMIN_TOKEN": ""}, logs / "no-token.log").start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for headers in ({}, ADMIN):
                response = http.post("/select_model", json=SELECT, headers=headers)
                assert response.status_code == 403
                assert "PENGUIN_ADMIN_TOKEN" in response.json()["error"]
            assert http.post("/predict", json=EXAMPLE).status_code == 200
    finally:
        server.stop()


@pytest.fixture()
def tampered_store(trained, tmp_path) -> tuple[Path, str, str]:
    """A copy of the test store with the k-NN model's served file altered, and its tag and file."""
    home = Path(trained[0].path).parents[2]
    copy = tmp_path / "bentoml"
    shutil.copytree(home / "models", copy / "models")
    knn = latest([r for r in trained if r.algorithm == "knn"])
    served = ONNX_FILE if knn.metadata["serving"]["engine"] == "onnxruntime" else MODEL_FILE
    target = copy / Path(knn.path).relative_to(home) / served
    target.write_bytes(target.read_bytes() + b"\x00tampered")
    return copy, knn.tag, served


@pytest.mark.slow  # a subprocess or a server of its own
def test_a_tampered_model_is_refused_while_the_others_keep_serving(tampered_store, tmp_path, logs):
    store, tag, served = tampered_store
    state = tmp_path / "state"
    state.mkdir()
    (state / "active-penguins.json").write_text(json.dumps({"tag": tag}))  # it was the chosen one
    log = logs / "tampered.log"
    env = {"BENTOML_HOME": str(store), "TABSERVE_STATE_DIR": str(state)}
    server = Server(env, log).start(until="/livez")
    try:
        text = log.read_text()
        assert f"Refusing model {tag}" in text and served in text and "sha256" in text
        with httpx.Client(base_url=server.url, timeout=60, headers=ADMIN) as http:
            # Fail closed: the chosen model cannot load, so nothing answers in its place.
            assert http.get("/readyz").status_code == 503
            refused = http.post("/predict", json=EXAMPLE)
            assert refused.status_code == 503
            assert tag in refused.json()["error"] and "select another" in refused.json()["error"]
            listing = http.get("/models").json()
            assert listing["selected"] == tag and listing["active"] is None
            states = {m["tag"]: (m["servable"], m["refused"]) for m in listing["models"]}
            assert states[tag][0] is False and "sha256" in states[tag][1]
            assert all(servable for other, (servable, _) in states.items() if other != tag)

            conflict = http.post("/select_model", json={"model": tag})
            assert conflict.status_code == 409
            assert "sha256" in conflict.json()["error"]

            chosen = http.post("/select_model", json={"model": "svm"}).json()["tag"]
            assert http.get("/readyz").status_code == 200
            assert http.post("/predict", json=EXAMPLE).json()["model"] == chosen
    finally:
        server.stop()
