"""A few seconds of every Locust scenario against the real server: zero failures, no timings asserted."""

import json
import subprocess
import sys

import pytest

from load_tests.bench import markdown
from load_tests.server import ROOT

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
    for scenario in scenarios.values():
        assert scenario["requests"] > 0, scenario
        assert scenario["failures"] == 0, scenario
    assert summary["failures"] == 0
    assert all(t["statuses"] == [200] for t in summary["big_requests"].values())
    assert (tmp_path / "throughput.png").exists() and (tmp_path / "latency.png").exists()
    assert (tmp_path / "predict_svm.html").exists()
    # The README's Performance section is rendered from the same summary, targets included.
    section = markdown(summary)
    assert "| predict svm | 8 |" in section and "Against the targets" in section
    assert "predict svm, 8 users:" in section and "1 user svm: p50" in section
