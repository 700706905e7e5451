"""A user's own dataset, declared as the README's "Add your own dataset" says, outside the project:
trained in quick mode and served through every route, with no change to any project file.

The declaration is the README's own code block (scikit-learn's wine data: 13 numbers, 3 classes),
so the README cannot drift from what works.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from load_tests.server import ROOT, Server
from tests.conftest import ADMIN

pytestmark = pytest.mark.slow

WINE_ROW = [14.23, 1.71, 2.43, 15.6, 127.0, 2.8, 3.06, 0.28, 2.29, 5.64, 1.04, 3.92, 1065.0]


def readme_declaration() -> str:
    """The python block of the README's "Add your own dataset" section."""
    section = (ROOT / "README.md").read_text().split("## Add your own dataset", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL)[1]


@pytest.fixture(scope="module")
def wine_server(tmp_path_factory: pytest.TempPathFactory, logs: Path) -> Iterator[Server]:
    """A store with wine models only, and a server that knows the wine module from the environment."""
    home = tmp_path_factory.mktemp("own-dataset")
    (home / "my_datasets.py").write_text(readme_declaration())
    env = {
        "TABSERVE_DATASETS": "my_datasets",
        "PYTHONPATH": os.pathsep.join([str(home), str(ROOT)]),
        "BENTOML_HOME": str(home / "bentoml"),
        "TABSERVE_STATE_DIR": str(home / "state"),
    }
    trained = subprocess.run(
        [sys.executable, "train.py", "--dataset", "wine", "--quick"],
        cwd=ROOT,
        env={**os.environ, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "wine_logistic_regression:" in trained.stdout
    server = Server(env, logs / "own-dataset.log").start()
    yield server
    server.stop()


@pytest.fixture()
def http(wine_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=wine_server.url, timeout=60, headers=ADMIN) as client:
        yield client


def test_wine_answers_named_and_vector_rows(http):
    from sklearn.datasets import load_wine

    named = dict(zip(load_wine().feature_names, WINE_ROW, strict=True))
    named["od280_od315"] = named.pop("od280/od315_of_diluted_wines")
    for body in (named, {"features": WINE_ROW}):
        answer = http.post("/wine/predict", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["cultivar"] == "class_0"
        assert answer.headers["X-Model-Tag"].startswith("wine_")
        assert set(answer.json()["probabilities"]) == {"class_0", "class_1", "class_2"}
    batch = http.post("/wine/predict_batch", json={"features": [WINE_ROW] * 3})
    assert batch.status_code == 200 and len(batch.json()["predictions"]) == 3
    assert http.post("/wine/predict_batch", json={"rows": [named]}).status_code == 200
    assert http.post("/wine/predict", json={"features": WINE_ROW[:12]}).status_code == 400


def test_wine_csv_in_its_original_column_names(http):
    from sklearn.datasets import load_wine

    table = load_wine(as_frame=True).frame.to_csv()  # an index column, the original names, the target
    answer = http.post("/wine/predict_csv", files={"file": ("wine.csv", table)})
    assert answer.status_code == 200, answer.text
    lines = answer.text.splitlines()
    assert len(lines) == 179 and lines[0].startswith(",alcohol,") and ",cultivar,confidence," in lines[0]


def test_wine_models_can_be_listed_described_and_chosen(http):
    listing = http.get("/wine/models").json()
    assert {m["algorithm"] for m in listing["models"]} == {
        "logistic_regression",
        "random_forest",
        "svm",
        "gradient_boosting",
        "knn",
    }
    chosen = http.post("/wine/select_model", json={"model": "knn"})
    assert chosen.status_code == 200 and chosen.json()["dataset"] == "wine"
    assert http.get("/wine/model_info").json()["algorithm"] == "knn"
    assert http.post("/wine/predict", json={"features": WINE_ROW}).json()["model"].startswith("wine_knn:")


def test_datasets_without_models_say_how_to_train_them(http):
    """The store holds wine models only: wine is served, the others answer 503 with the command."""
    assert http.get("/readyz").status_code == 200
    refused = http.post("/breast_cancer/predict", json={"mean_radius": 17.99})
    assert refused.status_code == 503
    assert "python train.py --dataset breast_cancer" in refused.json()["error"]
    assert http.get("/model_info").status_code == 503  # the penguins, at the root


def test_the_document_and_the_page_include_the_new_dataset(http):
    document = http.get("/docs.json").json()
    assert {f"/wine/{name}" for name in ("predict", "predict_batch", "predict_csv")} <= set(document["paths"])
    assert "Wine cultivar" in {tag["name"] for tag in document["tags"]}
