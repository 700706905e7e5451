"""The CI soak: one minute at half the measured capacity of the mixed profile, on its own server.

Asserts what the soak asserts (zero failed requests, worker memory growth under 10%), never a
timing; ``python -m load_tests.soak`` (10 minutes) is the full run.
"""

import json
import subprocess
import sys

import pytest

from load_tests.server import ROOT

pytestmark = pytest.mark.slow


def test_a_minute_at_half_capacity_fails_nothing_and_does_not_grow(trained, tmp_path):
    command = [sys.executable, "-m", "load_tests.soak", "--seconds", "60", "--capacity-seconds", "10"]
    command += ["--out", str(tmp_path)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["failures"] == 0, (
        summary["capacity"]["failures_by_reason"] | summary["soak"]["failures_by_reason"]
    )
    assert summary["memory_growth"] < 0.10, summary["memory_mb"]
    assert summary["soak"]["requests"] > 0
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
