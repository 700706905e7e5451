"""What `docker/containerize.sh` packages: every dataset's latest models, pinned, or a clear refusal.

The image itself is built and run in tests/test_container.py (slow, needs Docker); these need neither.
"""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bentoml
import yaml

from load_tests.server import ROOT
from tabserve.datasets import DATASETS
from tabserve.image import BENTOFILE, build_config, latest_tags, main, partial_notes, untrained_message
from tabserve.store.registry import ModelRecord, list_records, model_name
from tabserve.training.algorithms import ALGORITHMS

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DATASET = next(iter(DATASETS))


def record(algorithm: str, version: str, minutes: int) -> ModelRecord:
    name = model_name(DATASET, algorithm)
    return ModelRecord(
        tag=f"{name}:{version}",
        name=name,
        version=version,
        dataset=DATASET,
        algorithm=algorithm,
        created=T0 + timedelta(minutes=minutes),
        path=Path("/nonexistent"),
        metadata={},
    )


def test_each_algorithm_is_packaged_at_its_newest_version_as_a_full_tag():
    svm_old, svm_new, knn = record("svm", "aaa", 1), record("svm", "bbb", 3), record("knn", "ccc", 2)
    assert latest_tags([svm_new, knn, svm_old]) == sorted([svm_new.tag, knn.tag])
    # Order of the input does not matter: only the creation time decides.
    assert latest_tags([svm_old, knn, svm_new]) == sorted([svm_new.tag, knn.tag])


def test_a_dataset_without_models_is_refused_with_the_training_command_to_run():
    names = list(DATASETS)
    models = {name: [] for name in names}
    models[names[0]] = [record("svm", "aaa", 1).tag]
    message = untrained_message(models)
    assert message is not None
    assert f"python train.py --dataset {','.join(names[1:])}`" in message
    assert untrained_message({name: ["x:1"] for name in names}) is None


def test_a_dataset_with_some_algorithms_is_packaged_with_a_note_naming_the_others():
    models = {DATASET: [record("svm", "aaa", 1).tag]}
    (note,) = partial_notes(models)
    others = [a for a in ALGORITHMS if a != "svm"]
    assert f"--dataset {DATASET} --algorithms {','.join(others)}" in note
    complete = {DATASET: [record(a, "v", 1).tag for a in ALGORITHMS]}
    assert partial_notes(complete) == []


def test_the_build_file_is_bentofile_yaml_plus_the_models_and_their_datasets():
    models = {"a": ["a_svm:1"], "b": ["b_knn:2", "b_svm:3"]}
    config = build_config(models)
    static = yaml.safe_load(BENTOFILE.read_text())
    assert config["models"] == ["a_svm:1", "b_knn:2", "b_svm:3"]
    assert config["labels"] == {**static.get("labels", {}), "datasets": "a,b"}
    assert {k: v for k, v in config.items() if k not in ("models", "labels")} == {
        k: v for k, v in static.items() if k not in ("models", "labels")
    }


def newest_version(dataset: str, algorithm: str) -> str:
    return max((r for r in list_records(dataset) if r.algorithm == algorithm), key=lambda r: r.created).tag


def test_the_build_file_pins_every_datasets_latest_models_in_the_store(trained, tmp_path):
    """From the real (test) store, where every dataset has every algorithm: one pinned tag each."""
    target = tmp_path / "bentofile.yaml"
    assert main([str(target)]) == 0
    packaged = yaml.safe_load(target.read_text())["models"]
    expected = [newest_version(dataset, algorithm) for dataset in DATASETS for algorithm in ALGORITHMS]
    assert sorted(packaged) == sorted(expected)
    for tag in packaged:
        assert str(bentoml.models.get(tag).tag) == tag  # a full tag, not `name:latest`


def test_containerize_refuses_an_empty_store_before_needing_docker(tmp_path):
    env = {**os.environ, "BENTOML_HOME": str(tmp_path / "empty-store")}
    built = subprocess.run(
        ["bash", "docker/containerize.sh", "tabserve:never-built"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert built.returncode == 1
    assert f"run `python train.py --dataset {','.join(DATASETS)}`" in built.stderr
    assert "docker" not in built.stdout.lower()


def test_docker_compose_runs_the_image_containerize_builds_by_default():
    script = (ROOT / "docker" / "containerize.sh").read_text()
    default = re.search(r'^DEFAULT_IMAGE="([^"]+)"$', script, re.MULTILINE)
    assert default is not None
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    assert [s["image"] for s in compose["services"].values()] == [default.group(1)]


def test_bentoml_can_describe_every_api():
    """`bentoml build` writes each API's schema into the bento: it must be able to (BentoML flattens it)."""
    from service import Svc

    described = Svc.schema()
    assert len(described["routes"]) == len(Svc.apis)
