"""A few seconds of every Locust scenario against the real server, for every dataset: zero failures,
no timings asserted. The control service answers every dataset's /predict like the real one.
"""

import json
import math
import subprocess
import sys

import httpx
import pytest

from load_tests.bench import markdown
from load_tests.control_service import CONTROL_TAG, control_config
from load_tests.data import paths
from load_tests.server import ROOT, Server
from tabserve.datasets import BREAST_CANCER, DATASETS

pytestmark = pytest.mark.slow


def test_every_load_scenario_runs_without_a_failed_request(server, tmp_path):
    command = [sys.executable, "-m", "load_tests.bench", "--smoke", "--url", server.url]
    command += ["--no-control", "--algorithms", "svm,random_forest", "--out", str(tmp_path)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    scenarios = {s["scenario"]: s for s in summary["scenarios"]}
    expected = {"livez", "predict svm", "1 user svm", "batch 1,000 rows", "csv 1,000 rows", "mixed"}
    assert expected | {"predict while switching", "predict random_forest"} <= set(scenarios)
    # The breast-cancer scenario: the same runs on /breast_cancer/..., named for the dataset.
    cancer = {f"{name} ({BREAST_CANCER.name})" for name in expected - {"livez"}}
    assert cancer | {f"predict while switching ({BREAST_CANCER.name})"} <= set(scenarios)
    assert scenarios["predict svm (breast_cancer)"]["endpoint"] == "/breast_cancer/predict"
    assert scenarios["csv 1,000 rows (breast_cancer)"]["endpoint"] == "/breast_cancer/predict_csv"
    assert scenarios["predict svm"]["endpoint"] == "/predict"  # the root dataset, where it always was
    for scenario in scenarios.values():
        assert scenario["requests"] > 0, scenario
        assert scenario["failures"] == 0, scenario
    assert summary["failures"] == 0
    assert all(t["statuses"] == [200] for t in summary["big_requests"].values())
    assert "/breast_cancer/predict_batch 10,000 rows, svm" in summary["big_requests"]
    assert any(name.startswith("/breast_cancer/predict_csv ") for name in summary["big_requests"])
    assert (tmp_path / "throughput.png").exists() and (tmp_path / "latency.png").exists()
    assert (tmp_path / "predict_svm.html").exists()
    # The README's Performance section is rendered from the same summary, targets included.
    section = markdown(summary)
    assert "| predict svm | 8 |" in section and "Against the targets" in section
    assert "predict svm, 8 users:" in section and "1 user svm: p50" in section
    assert "| predict svm (breast_cancer) | 8 |" in section
    assert "predict svm (breast_cancer), 8 users:" in section


def test_the_control_answers_every_datasets_predict_with_a_valid_constant(tmp_path):
    control = Server(
        {},
        tmp_path / "control.log",
        config=control_config(tmp_path),
        target="load_tests.control_service:Control",
    )
    control.start()
    try:
        for spec in DATASETS.values():
            response = httpx.post(control.url + paths(spec)["predict"], json=spec.example, timeout=30)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body[spec.target] in spec.classes and body["model"] == CONTROL_TAG
            assert set(body["probabilities"]) == set(spec.classes)
            assert math.isclose(sum(body["probabilities"].values()), 1.0)
            assert body["confidence"] == max(body["probabilities"].values())
            assert response.headers["x-model-tag"] == CONTROL_TAG
        # The same input schema as the real service: a row of another dataset is refused.
        other = next(spec for spec in DATASETS.values() if spec.input_columns != BREAST_CANCER.input_columns)
        response = httpx.post(control.url + paths(BREAST_CANCER)["predict"], json=other.example, timeout=30)
        assert response.status_code == 400
    finally:
        control.stop()
