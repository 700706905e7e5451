"""Choosing models from the store: selectors, the default, and the integrity check."""

import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tabserve.datasets import PENGUINS
from tabserve.errors import AmbiguousSelector, IntegrityError, ModelNotFound
from tabserve.store.registry import (
    MODEL_FILE,
    ONNX_FILE,
    ModelRecord,
    default_record,
    load_engine,
    load_pipeline,
    refusal,
    resolve,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def record(name: str, version: str, algorithm: str, minutes: int, f1: float = 0.9, loss: float = 0.1):
    return ModelRecord(
        tag=f"{name}:{version}",
        name=name,
        version=version,
        dataset="penguins",
        algorithm=algorithm,
        created=T0 + timedelta(minutes=minutes),
        path=Path("/nonexistent"),
        metadata={"metrics": {"f1_macro": f1, "log_loss": loss}},
    )


RECORDS = [
    record("penguins_svm", "aaa111", "svm", 1),
    record("penguins_svm", "aab222", "svm", 2),
    record("penguins_knn", "ccc333", "knn", 3),
]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("penguins_svm:aaa111", "penguins_svm:aaa111"),  # full tag
        ("penguins_svm", "penguins_svm:aab222"),  # name: latest version
        ("svm", "penguins_svm:aab222"),  # algorithm: latest model
        ("knn", "penguins_knn:ccc333"),
        ("penguins_svm:aab", "penguins_svm:aab222"),  # unique version prefix
        ("aab2", "penguins_svm:aab222"),  # bare unique version prefix
        ("ccc333", "penguins_knn:ccc333"),  # bare version
        (" knn ", "penguins_knn:ccc333"),
    ],
)
def test_selectors_resolve(selector, expected):
    assert resolve(selector, RECORDS).tag == expected


def test_unknown_selector_lists_the_choices():
    with pytest.raises(ModelNotFound) as caught:
        resolve("xgboost", RECORDS)
    assert {"svm", "knn", "penguins_svm", "penguins_svm:aaa111"} <= set(caught.value.choices)


def test_ambiguous_selector_lists_the_candidates():
    with pytest.raises(AmbiguousSelector) as caught:
        resolve("penguins_svm:aa", RECORDS)
    assert caught.value.candidates == ["penguins_svm:aaa111", "penguins_svm:aab222"]


def test_a_bare_version_prefix_needs_four_characters_and_one_match():
    more = [*RECORDS, record("penguins_knn", "aab2zz", "knn", 4)]
    with pytest.raises(AmbiguousSelector) as caught:
        resolve("aab2", more)
    assert caught.value.candidates == ["penguins_knn:aab2zz", "penguins_svm:aab222"]
    for short in ("", "a", "aab"):
        with pytest.raises(ModelNotFound):
            resolve(short, RECORDS)


def test_a_name_that_is_also_another_models_algorithm_is_ambiguous():
    odd = [*RECORDS, record("knn", "ddd444", "random_forest", 4)]
    with pytest.raises(AmbiguousSelector):
        resolve("knn", odd)


def test_default_is_best_latest_version_by_f1_then_log_loss():
    records = [
        record("penguins_svm", "old", "svm", 1, f1=1.0, loss=0.01),  # superseded by a newer svm
        record("penguins_svm", "new", "svm", 5, f1=0.95),
        record("penguins_knn", "a", "knn", 2, f1=0.97, loss=0.3),
        record("penguins_random_forest", "b", "random_forest", 3, f1=0.97, loss=0.2),
    ]
    assert default_record(records).tag == "penguins_random_forest:b"
    assert default_record([]) is None


def test_a_tampered_model_file_is_refused(trained, tmp_path):
    original = trained[0]
    copy = tmp_path / "model"
    shutil.copytree(original.path, copy)
    tampered = replace(original, path=copy)
    load_pipeline(tampered)  # intact copy loads
    with (copy / MODEL_FILE).open("ab") as stream:
        stream.write(b"\0")
    with pytest.raises(IntegrityError, match="sha256"):
        load_pipeline(tampered)
    (copy / MODEL_FILE).unlink()
    with pytest.raises(IntegrityError, match="missing"):
        load_pipeline(tampered)
    with pytest.raises(IntegrityError, match="no recorded sha256"):
        load_pipeline(replace(original, metadata={}))


def test_a_tampered_onnx_file_is_refused(trained, tmp_path):
    original = next(r for r in trained if r.metadata["serving"]["engine"] == "onnxruntime")
    copy = tmp_path / "model"
    shutil.copytree(original.path, copy)
    tampered = replace(original, path=copy)
    assert load_engine(PENGUINS, tampered).name == "onnxruntime"
    data = (copy / ONNX_FILE).read_bytes()
    (copy / ONNX_FILE).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(IntegrityError, match=r"model\.onnx has sha256"):
        load_engine(PENGUINS, tampered)


def test_refusal_names_what_loading_would_refuse_without_loading(trained, tmp_path):
    original = next(r for r in trained if r.metadata["serving"]["engine"] == "onnxruntime")
    copy = tmp_path / "model"
    shutil.copytree(original.path, copy)
    tampered = replace(original, path=copy)
    assert refusal(PENGUINS, tampered) is None
    (copy / MODEL_FILE).write_bytes(b"unused")  # the server runs the ONNX file, not the pickle
    assert refusal(PENGUINS, tampered) is None
    data = (copy / ONNX_FILE).read_bytes()
    (copy / ONNX_FILE).write_bytes(data + b"\0")
    assert "model.onnx has sha256" in refusal(PENGUINS, tampered)
    other_classes = replace(original, metadata={**original.metadata, "classes": ["a", "b"]})
    assert "differ from" in refusal(PENGUINS, other_classes)
    with pytest.raises(ValueError, match="differ from"):
        load_engine(PENGUINS, other_classes)
