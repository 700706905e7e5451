"""MLflow both ways, against a real tracking server (``mlflow server`` on SQLite, as a subprocess).

Training runs logged through :class:`Tracker` are read back with MLflow's own client; a model a data
scientist logged with ``mlflow.sklearn.autolog()`` is imported with ``python models.py import-mlflow``
(the README's example) and served by a real ``bentoml serve`` with the MLflow model's own answers.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from load_tests.server import ROOT, Server, admin_headers, free_port, wait_until_ok
from tabserve.codecs.frames import normalise_frame, rows_from_frame
from tabserve.datasets import BREAST_CANCER, PENGUINS
from tabserve.training.algorithms import ALGORITHMS
from tabserve.training.mlflow_import import redacted
from tabserve.training.report import model_figures
from tabserve.training.tracking import tracker_from_env
from tabserve.training.tuning import split_dataset, train_algorithm
from tests.conftest import run_cli
from tests.test_readme import FENCE

MLFLOW = Path(sys.executable).parent / "mlflow"
#: No usage analytics calls from the tests' MLflow clients and server (scripts/env.sh sets it too).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

#: A model logged to MLflow that is not scikit-learn's (a pyfunc): prints its run id.
PYFUNC = """
import mlflow


class Constant(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return ["Adelie"] * len(model_input)


with mlflow.start_run() as run:
    mlflow.pyfunc.log_model(name="model", python_model=Constant(), pip_requirements=["mlflow"])
print(run.info.run_id)
"""


def readme_notebook() -> str:
    """The README's data-scientist example: a Pipeline on the penguins as pandas gives them, autologged."""
    blocks = [code for lang, code in FENCE.findall((ROOT / "README.md").read_text()) if lang == "python"]
    (notebook,) = [code for code in blocks if "mlflow.sklearn.autolog()" in code]
    return notebook


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MLflow tracking server: SQLite backend, artifacts proxied to a local folder (as the
    README starts one, so clients never write the server's disk themselves)."""
    folder = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    command = [str(MLFLOW), "server", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}"]
    command += ["--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1"]
    with (folder / "server.log").open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=folder,
            # No background job runner: it only slows the start on a busy machine.
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        waited = wait_until_ok(f"{url}/health", 300, lambda: process.poll() is not None)
        assert waited is not None, (folder / "server.log").read_text()[-3000:]
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run_script(code: str, tracking_uri: str) -> str:
    """Run Python code against the tracking server, as a notebook would; the last line it prints."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def notebook_runs(tracking_uri: str) -> dict[str, str]:
    """The run ids of the README notebook's scikit-learn model (autolog) and of a pyfunc model."""
    sklearn = run_script(readme_notebook(), tracking_uri)
    return {"sklearn": sklearn, "pyfunc": run_script(PYFUNC, tracking_uri)}


def models_py(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("models.py", *args, env=env, timeout=300)


def test_nothing_imports_mlflow_without_its_variable():
    """Training and the command lines never pay for MLflow (nor need it) unless it is asked for."""
    code = (
        "import sys\n"
        "import models, train\n"
        "import tabserve.store.cli, tabserve.training.cli, tabserve.training.mlflow_import\n"
        "import tabserve.training.report, tabserve.training.saving, tabserve.training.tracking as t\n"
        "assert t.tracker_from_env() is None\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('mlflow', 'skops')))\n"
    )
    env = {name: value for name, value in os.environ.items() if name != "MLFLOW_TRACKING_URI"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_provenance_never_keeps_credentials():
    """Model metadata is served to clients (/model_info): a tracking URI's user and password stay out."""
    assert redacted("https://alice:s3cret@mlflow.example.com:5000/x") == "https://mlflow.example.com:5000/x"
    assert redacted("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert redacted("sqlite:///mlflow.db") == "sqlite:///mlflow.db"


@pytest.mark.slow
def test_training_runs_are_logged_and_read_back(tracking_uri, tmp_path, monkeypatch):
    from mlflow import MlflowClient
    from mlflow.models import get_model_info
    from mlflow.sklearn import load_model

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")  # to load the logged model back
    tracker = tracker_from_env()
    assert tracker is not None
    client = MlflowClient(tracking_uri)
    for spec, algorithm in ((PENGUINS, "random_forest"), (BREAST_CANCER, "logistic_regression")):
        split = split_dataset(spec, 42)
        trained = train_algorithm(spec, ALGORITHMS[algorithm], split, seed=42, cv_folds=3, quick=True)
        figures = model_figures(spec, trained, split, tmp_path / spec.name)
        grid = ALGORITHMS[algorithm].quick_grid
        run_id = tracker.log_model(
            spec, trained, split, seed=42, cv_folds=3, grid_name="quick", grid=grid,
            data_sha256="d" * 64, figures=figures,
        )  # fmt: skip
        tracker.tag_saved(run_id, f"{spec.name}_{algorithm}:testversion")

        experiment = client.get_experiment_by_name(spec.name)
        (run,) = client.search_runs([experiment.experiment_id])
        assert run.info.run_id == run_id and run.info.status == "FINISHED"
        params = run.data.params
        assert {name: params[name] for name in trained.hyperparameters} == {
            name: str(value) for name, value in trained.hyperparameters.items()
        }
        assert (params["seed"], params["cv_folds"], params["grid"]) == ("42", "3", "quick")
        assert json.loads(params["grid_values"]) == json.loads(json.dumps(grid))
        for name, value in trained.metrics.items():  # the store metadata's names and values
            assert run.data.metrics[name] == pytest.approx(value, abs=1e-12)
        assert ("roc_auc" if len(spec.classes) == 2 else "roc_auc_ovr") in run.data.metrics
        tags = run.data.tags
        assert tags["dataset"] == spec.name and tags["algorithm"] == algorithm
        assert tags["train_data_sha256"] == split.train_sha256 and tags["data_sha256"] == "d" * 64
        assert tags["bentoml_tag"] == f"{spec.name}_{algorithm}:testversion"

        logged = sorted(artifact.path for artifact in client.list_artifacts(run_id, "figures"))
        assert logged == sorted(f"figures/{figure.name}" for figure in figures)
        downloaded = Path(client.download_artifacts(run_id, "figures", str(tmp_path / "back" / spec.name)))
        for figure in figures:
            assert (downloaded / figure.name).read_bytes() == figure.read_bytes()

        (output,) = run.outputs.model_outputs
        model_uri = f"models:/{output.model_id}"
        assert get_model_info(model_uri).signature.inputs.input_names() == list(spec.input_columns)
        pipeline = load_model(model_uri)
        np.testing.assert_array_equal(
            pipeline.predict_proba(split.X_test), trained.pipeline.predict_proba(split.X_test)
        )


@pytest.mark.slow
def test_an_autologged_pipeline_is_imported_and_served_with_its_own_answers(
    tracking_uri, notebook_runs, tmp_path, monkeypatch, logs
):
    from mlflow.sklearn import load_model

    env = {"BENTOML_HOME": str(tmp_path / "bentoml"), "TABSERVE_STATE_DIR": str(tmp_path / "state")}
    model_uri = f"runs:/{notebook_runs['sklearn']}/model"
    imported = models_py(
        {**env, "MLFLOW_TRACKING_URI": tracking_uri}, "import-mlflow", model_uri, "--dataset", "penguins"
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    tag = re.search(r"penguins_random_forest_classifier:[a-z0-9]+", imported.stdout).group(0)

    listing = json.loads(models_py(env, "--json", "--dataset", "penguins").stdout)[0]
    (model,) = listing["models"]
    assert model["tag"] == tag and model["servable"] and model["active"]
    assert model["algorithm"] == "random_forest_classifier"
    assert tag in models_py(env).stdout  # the table of `python models.py`, as today

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    own = load_model(model_uri)
    from palmerpenguins import load_penguins

    raw = load_penguins().dropna(subset=["species"]).reset_index(drop=True)
    features = raw[list(PENGUINS.input_columns)]
    assert features["sex"].isna().any()  # missing categories are part of the check
    expected = own.predict_proba(features)

    server = Server(env, logs / "mlflow-import-server.log").start(timeout=180)
    try:
        with httpx.Client(base_url=server.url, timeout=60, headers=admin_headers(server.admin_token)) as http:
            selected = http.post("/select_model", json={"model": tag})
            assert selected.status_code == 200, selected.text
            info = http.get("/model_info").json()
            rows = rows_from_frame(PENGUINS, normalise_frame(PENGUINS, features))
            answer = http.post("/predict_batch", json={"penguins": rows})
    finally:
        server.stop()
    training = info["training"]
    assert info["tag"] == tag and training["source"] == "mlflow"
    assert training["mlflow_run_id"] == notebook_runs["sklearn"]
    assert training["mlflow_model_uri"] == model_uri and training["mlflow_tracking_uri"] == tracking_uri
    assert "train_data_sha256" not in training  # the rows it learned from are MLflow's to tell
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == tag
    served = np.array([[p["probabilities"][name] for name in own.classes_] for p in body["predictions"]])
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-9)
    assert [p["species"] for p in body["predictions"]] == list(own.predict(features))


@pytest.mark.slow
def test_imports_that_cannot_be_served_are_refused_and_save_nothing(tracking_uri, notebook_runs, tmp_path):
    home = tmp_path / "bentoml"
    env = {"BENTOML_HOME": str(home), "MLFLOW_TRACKING_URI": tracking_uri}
    cases = [
        # A penguins model offered as another dataset's: its classes are not that dataset's.
        (env, f"runs:/{notebook_runs['sklearn']}/model", "breast_cancer", "predicts the classes"),
        (env, f"runs:/{notebook_runs['pyfunc']}/model", "penguins", "not a scikit-learn model"),
        (env, "runs:/0123456789abcdef/model", "penguins", "cannot read runs:/0123456789abcdef/model"),
        (
            {**env, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}"},
            f"runs:/{notebook_runs['sklearn']}/model",
            "penguins",
            "cannot read",
        ),
    ]
    for case_env, model_uri, dataset, message in cases:
        result = models_py(case_env, "import-mlflow", model_uri, "--dataset", dataset)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "Not imported:" in result.stderr and message in " ".join(result.stderr.split())
    assert not list(home.glob("models/*/*"))


#: Prints every breast-cancer version in the store as JSON: tag, algorithm, metrics, training metadata.
STORE_RECORDS = """
import json
from tabserve.store.registry import list_records
print(json.dumps([
    {"tag": r.tag, "algorithm": r.algorithm, "metrics": r.metrics, "training": r.metadata["training"]}
    for r in list_records("breast_cancer")
]))
"""


@pytest.mark.slow
def test_train_py_and_the_train_task_log_every_model_to_mlflow(tracking_uri, tmp_path, logs):
    """Both ways of training log a run per model, tagged with the store tag the metadata links back."""
    from mlflow import MlflowClient

    env = {
        **os.environ,
        "BENTOML_HOME": str(tmp_path / "bentoml"),
        "TABSERVE_STATE_DIR": str(tmp_path / "state"),
        "MLFLOW_TRACKING_URI": tracking_uri,
        "COLUMNS": "200",
    }
    trained = run_cli("train.py", "--quick", "--dataset", "breast_cancer", "--algorithms", "knn", env=env)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert f"Logged to MLflow ({tracking_uri})" in trained.stdout

    server = Server(env, logs / "mlflow-train-task-server.log").start(timeout=180)
    try:
        with httpx.Client(base_url=server.url, timeout=60, headers=admin_headers(server.admin_token)) as http:
            form = {"algorithms": (None, "logistic_regression"), "quick": (None, "true")}
            task = http.post("/breast_cancer/train/submit", files=form).json()["task_id"]
            for _ in range(1200):
                status = http.get("/breast_cancer/train/status", params={"task_id": task}).json()["status"]
                if status != "in_progress":
                    break
                time.sleep(0.5)
            assert status == "completed", status
            answer = http.get("/breast_cancer/train/get", params={"task_id": task}).json()
    finally:
        server.stop()
    (task_model,) = answer["models"]
    assert Path(answer["report"]).is_file()

    listed = subprocess.run(
        [sys.executable, "-c", STORE_RECORDS], cwd=ROOT, capture_output=True, text=True, env=env
    )
    records = json.loads(listed.stdout)
    assert sorted(r["algorithm"] for r in records) == ["knn", "logistic_regression"], listed.stderr
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("breast_cancer")
    runs = {run.data.tags.get("bentoml_tag"): run for run in client.search_runs([experiment.experiment_id])}
    for record in records:
        run = runs[record["tag"]]
        assert record["training"]["mlflow_run_id"] == run.info.run_id
        assert run.data.tags["algorithm"] == record["algorithm"]
        assert run.data.metrics["f1_macro"] == pytest.approx(record["metrics"]["f1_macro"])
        figures = {artifact.path for artifact in client.list_artifacts(run.info.run_id, "figures")}
        algorithm = record["algorithm"]
        assert figures == {f"figures/{algorithm}_confusion_matrix.png", f"figures/{algorithm}_roc.png"}
    assert task_model["mlflow_run_id"] == runs[task_model["tag"]].info.run_id


def test_a_tracking_uri_without_mlflow_installed_says_how_to_fix_it(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as in the image: MLflow is an optional group
    with pytest.raises(RuntimeError, match=r"uv sync --group mlflow.*or unset MLFLOW_TRACKING_URI"):
        tracker_from_env()
