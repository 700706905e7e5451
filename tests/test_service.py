"""The service through a real ``bentoml serve`` process: every endpoint and its error cases."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import TypeAdapter

from load_tests.server import Server
from tabserve.datasets import PENGUINS
from tabserve.http.apis import schemas
from tests.conftest import run_train

EXAMPLE = {
    "island": "Biscoe",
    "bill_length_mm": 39.1,
    "bill_depth_mm": 18.7,
    "flipper_length_mm": 181.0,
    "body_mass_g": 3750.0,
    "sex": "male",
}
GENTOO = {
    "island": "Biscoe",
    "bill_length_mm": 50.0,
    "bill_depth_mm": 15.2,
    "flipper_length_mm": 218.0,
    "body_mass_g": 5700.0,
    "sex": "male",
}
CSV_HEADER = "island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex"


def assert_prediction(body: dict, tag: str | None = None) -> None:
    assert set(body) == {"species", "confidence", "probabilities", "model"}
    assert body["species"] in PENGUINS.classes
    assert set(body["probabilities"]) == set(PENGUINS.classes)
    assert sum(body["probabilities"].values()) == pytest.approx(1.0)
    assert body["confidence"] == max(body["probabilities"].values())
    assert body["probabilities"][body["species"]] == body["confidence"]
    if tag is not None:
        assert body["model"] == tag


def test_predict_answers_the_documented_example(client):
    response = client.post("/predict", json=EXAMPLE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_prediction(body)
    assert body["species"] == "Adelie"
    assert response.headers["X-Model-Tag"] == body["model"]
    assert body["model"] == client.get("/models").json()["active"]
    # Encoded without BentoML's output validation: it must still be exactly the documented model.
    assert TypeAdapter(schemas(PENGUINS).prediction).validate_python(body) == body


@pytest.mark.parametrize(
    "penguin",
    [
        {**EXAMPLE, "sex": None},
        {k: v for k, v in EXAMPLE.items() if k != "sex"},
        {"island": "Dream"},
        {"island": "Torgersen", "bill_length_mm": None, "body_mass_g": 3400},
    ],
)
def test_predict_imputes_missing_values(client, penguin):
    response = client.post("/predict", json=penguin)
    assert response.status_code == 200, response.text
    assert_prediction(response.json())


def test_predict_batch_keeps_order_and_names_the_model(client):
    penguins = [EXAMPLE, GENTOO, {"island": "Dream"}, EXAMPLE]
    response = client.post("/predict_batch", json={"penguins": penguins})
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["predictions"]) == 4
    assert [p["species"] for p in body["predictions"]][:2] == ["Adelie", "Gentoo"]
    assert body["predictions"][0] == body["predictions"][3]
    for prediction in body["predictions"]:
        assert_prediction(prediction, body["model"])
    assert response.headers["X-Model-Tag"] == body["model"]


def test_predict_batch_takes_ten_thousand_rows_and_refuses_more(client):
    response = client.post("/predict_batch", json={"penguins": [EXAMPLE] * 10_000})
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 10_000
    response = client.post("/predict_batch", json={"penguins": [{"island": "Atlantis"}] * 10_001})
    assert response.status_code == 400
    assert "at most 10000 rows" in response.json()["error"]
    assert len(response.json()["detail"]) == 1  # refused before validating the rows


def test_predict_csv_returns_the_rows_with_predictions(client):
    text = f"{CSV_HEADER}\nBiscoe,39.1,18.7,181,3750,male\nDream,,,,,\nBiscoe,50.0,15.2,218,5700,male\n"
    response = client.post("/predict_csv", files={"file": ("penguins.csv", text, "text/csv")})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0] == CSV_HEADER + (
        ",species,confidence,probability_Adelie,probability_Chinstrap,probability_Gentoo"
    )
    assert lines[1].startswith("Biscoe,39.1,18.7,181,3750,male,Adelie,")
    assert lines[2].startswith("Dream,,,,,,")
    assert lines[3].split(",")[6] == "Gentoo"
    assert response.headers["X-Model-Tag"] == client.get("/models").json()["active"]


def test_predict_csv_accepts_any_upload_content_type(client):
    text = f"{CSV_HEADER}\nBiscoe,39.1,18.7,181,3750,male\n"
    response = client.post("/predict_csv", files={"file": ("p.bin", text, "application/octet-stream")})
    assert response.status_code == 200


def test_models_lists_every_version_and_marks_the_active_one(client, trained):
    response = client.get("/models")
    assert response.status_code == 200
    body = response.json()
    tags = {m["tag"] for m in body["models"]}
    assert {r.tag for r in trained} <= tags
    assert [m["tag"] for m in body["models"] if m["active"]] == [body["active"]]
    for model in body["models"]:
        assert set(model) == {"tag", "algorithm", "metrics", "created", "active", "servable", "refused"}
        assert model["servable"] and model["refused"] is None
        assert 0.0 <= model["metrics"]["accuracy"] <= 1.0


def test_model_info_describes_the_active_model(client):
    info = client.get("/model_info").json()
    assert info["tag"] == client.get("/models").json()["active"]
    assert info["classes"] == list(PENGUINS.classes)
    assert info["dataset"] == "penguins"
    assert set(info["input_schema"]["numeric"]) == {f.name for f in PENGUINS.numeric}
    assert info["hyperparameters"] and info["metrics"]["f1_macro"] > 0.9
    assert len(info["model_sha256"]) == 64


@pytest.fixture(scope="module")
def two_knn_versions(trained):
    """Ensure the store has two knn versions, so a version prefix can be ambiguous."""
    result = run_train("--quick", "--algorithms", "knn")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("kind", ["algorithm", "name", "tag"])
def test_select_model_switches_what_answers(client, trained, two_knn_versions, kind):
    models = client.get("/models").json()["models"]
    newest_knn = next(m["tag"] for m in models if m["algorithm"] == "knn")  # newest first
    selector = {"algorithm": "knn", "name": "penguins_knn", "tag": newest_knn}[kind]
    response = client.post("/select_model", json={"model": selector})
    assert response.status_code == 200, response.text
    assert response.json()["tag"] == newest_knn
    assert response.json()["algorithm"] == "knn"
    prediction = client.post("/predict", json=EXAMPLE)
    assert prediction.json()["model"] == newest_knn
    assert prediction.headers["X-Model-Tag"] == newest_knn
    assert client.get("/model_info").json()["tag"] == newest_knn
    listed = client.get("/models").json()
    assert listed["active"] == newest_knn


def test_select_model_unknown_is_404_with_choices(client):
    response = client.post("/select_model", json={"model": "xgboost"})
    assert response.status_code == 404
    body = response.json()
    assert "xgboost" in body["error"]
    assert {"svm", "knn", "random_forest", "logistic_regression", "gradient_boosting"} <= set(body["choices"])


def test_select_model_ambiguous_is_400_with_candidates(client, two_knn_versions):
    response = client.post("/select_model", json={"model": "penguins_knn:"})
    assert response.status_code == 400
    body = response.json()
    assert len(body["choices"]) >= 2
    assert all(tag.startswith("penguins_knn:") for tag in body["choices"])


def test_health_metrics_and_docs_keep_working(client):
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200
    client.post("/predict", json=EXAMPLE)
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert 'endpoint="/predict"' in metrics.text
    page = client.get("/")
    assert page.status_code == 200 and "swagger" in page.text.lower()


def test_openapi_document_describes_this_service(client):
    document = client.get("/docs.json").json()
    assert document["info"]["title"] == "Tabular classifiers (tabserve)"
    assert document["info"]["version"] == "0.1.0"
    assert "Palmer penguin" in document["info"]["description"]
    assert "/breast_cancer/..." in document["info"]["description"]
    assert {tag["name"] for tag in document["tags"]} >= {
        "Palmer Penguins species",
        "Wisconsin breast cancer diagnosis",
    }
    assert "BentoML Slack" not in json.dumps(document)
    paths = document["paths"]
    assert {"/predict", "/predict_batch", "/predict_csv", "/select_model", "/models", "/model_info"} <= set(
        paths
    )
    assert "get" in paths["/models"] and "get" in paths["/model_info"]
    example = paths["/predict"]["post"]["requestBody"]["content"]["application/json"]["example"]
    assert example == EXAMPLE
    batch = paths["/predict_batch"]["post"]["requestBody"]["content"]["application/json"]["example"]
    assert client.post("/predict_batch", json=batch).status_code == 200
    select = paths["/select_model"]["post"]["requestBody"]["content"]["application/json"]["example"]
    assert client.post("/select_model", json=select).status_code == 200
    assert "404" in paths["/select_model"]["post"]["responses"]
    assert document["components"]["schemas"]["ErrorBody"]["required"] == ["error"]


@pytest.mark.slow  # a subprocess or a server of its own
def test_readyz_waits_for_a_model(tmp_path, logs):
    """An empty model store: the server runs, but is not ready, and says how to fix it."""
    env = {"BENTOML_HOME": str(tmp_path / "empty"), "TABSERVE_STATE_DIR": str(tmp_path)}
    empty = Server(env, logs / "empty.log").start(until="/livez")
    try:
        with httpx.Client(base_url=empty.url, timeout=10) as http:
            assert http.get("/readyz").status_code == 503
            response = http.post("/predict", json=EXAMPLE)
            assert response.status_code == 503
            assert "train" in response.json()["error"]
            assert http.get("/model_info").status_code == 503
            assert http.get("/models").json() == {"active": None, "selected": None, "models": []}
    finally:
        empty.stop()
