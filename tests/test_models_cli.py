"""``python models.py``: the store listed for choosing a version, as the server would see it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from load_tests.server import ROOT
from tabserve.datasets import PENGUINS
from tabserve.store.registry import MODEL_FILE, ONNX_FILE, ModelRecord, default_record, list_records
from tabserve.store.state import ActiveModelFile

#: Every test runs the command in a subprocess (seconds each: it imports BentoML).
pytestmark = pytest.mark.slow

WIDTH = 80


def run_models(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "models.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": str(WIDTH), **env},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def rows(table: str, tag: str) -> str:
    """The two lines of ``tag``'s row: the tag line and the one under it."""
    lines = table.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(f"{tag} "))
    return "\n".join(lines[index : index + 2])


@pytest.fixture()
def state_dir(tmp_path: Path) -> Path:
    """A state folder of the test's own, so a selection here never reaches a test server."""
    return tmp_path / "state"


@pytest.fixture()
def records(trained) -> list[ModelRecord]:
    """The store as it is now: other tests add versions to the one ``trained`` filled."""
    return list_records(PENGUINS.name)


def test_every_version_is_listed_whole_with_algorithm_and_metrics_in_80_columns(records, state_dir):
    table = run_models({"TABSERVE_STATE_DIR": str(state_dir)})
    assert max(len(line) for line in table.splitlines()) <= WIDTH
    for record in records:
        row = rows(table, record.tag)
        assert record.algorithm in row
        for metric in ("f1_macro", "accuracy", "log_loss"):
            assert f"{record.metrics[metric]:.4f}" in row
    default = default_record(records).tag
    assert "active" in rows(table, default) and "default" in rows(table, default)
    assert sum("active" in rows(table, r.tag) for r in records) == 1
    assert "Not servable:" not in table


def test_json_says_what_answers_and_why(records, state_dir):
    listing = json.loads(
        run_models({"TABSERVE_STATE_DIR": str(state_dir)}, "--json", "--dataset", "penguins")
    )[0]
    assert listing["dataset"] == PENGUINS.name
    assert [m["tag"] for m in listing["models"]] == [r.tag for r in records]  # newest first
    assert listing["active"] == listing["default"] == default_record(records).tag
    assert listing["selected"] is None
    for model, record in zip(listing["models"], records, strict=True):
        assert model["algorithm"] == record.algorithm
        assert model["metrics"] == record.metrics
        assert model["servable"] is True and model["refused"] is None


def test_a_selection_in_the_state_file_is_the_active_model(records, state_dir):
    chosen = next(r for r in records if r.tag != default_record(records).tag)
    ActiveModelFile(state_dir, PENGUINS.name).write(chosen.tag)
    env = {"TABSERVE_STATE_DIR": str(state_dir)}
    listing = json.loads(run_models(env, "--json", "--dataset", "penguins"))[0]
    assert listing["active"] == listing["selected"] == chosen.tag
    row = rows(run_models(env), chosen.tag)
    assert "active" in row and "selected" in row


def served_file(record: ModelRecord) -> str:
    return ONNX_FILE if record.metadata["serving"]["engine"] == "onnxruntime" else MODEL_FILE


def test_a_tampered_model_is_not_servable_and_a_selected_one_leaves_nothing_active(records, tmp_path):
    """On a copy of the store: the test servers share the original."""
    home = Path(os.environ["BENTOML_HOME"])
    copy = tmp_path / "bentoml"
    shutil.copytree(home / "models", copy / "models")
    tampered = records[0]
    target = copy / tampered.path.relative_to(home) / served_file(tampered)
    target.write_bytes(target.read_bytes() + b"\0")
    env = {"BENTOML_HOME": str(copy), "TABSERVE_STATE_DIR": str(tmp_path / "state")}

    listing = json.loads(run_models(env, "--json", "--dataset", "penguins"))[0]
    states = {m["tag"]: (m["servable"], m["refused"]) for m in listing["models"]}
    assert states[tampered.tag][0] is False and "sha256" in states[tampered.tag][1]
    assert all(servable for tag, (servable, _) in states.items() if tag != tampered.tag)
    assert listing["active"] == default_record(records[1:]).tag
    table = run_models(env)
    details_line = rows(table, tampered.tag).splitlines()[1]
    assert details_line.rstrip().endswith("not servable")
    assert f"Not servable: {tampered.tag}: {served_file(tampered)} has sha256" in " ".join(table.split())

    ActiveModelFile(tmp_path / "state", PENGUINS.name).write(tampered.tag)
    listing = json.loads(run_models(env, "--json", "--dataset", "penguins"))[0]
    assert listing["selected"] == tampered.tag and listing["active"] is None
    assert "Nothing answers" in run_models(env)
