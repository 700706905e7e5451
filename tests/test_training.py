"""train.py: tuning, evaluation, saving to the store, and its command line."""

import re
from pathlib import Path

import bentoml
import pytest

from tabserve.datasets import PENGUINS
from tabserve.store.registry import MODEL_FILE, ONNX_FILE, list_records, sha256_file
from tabserve.training.algorithms import ALGORITHMS, parse_algorithm_ids
from tabserve.training.tuning import split_dataset, train_algorithm
from tests.conftest import run_train

METRICS = {"accuracy", "f1_macro", "roc_auc_ovr", "log_loss", "cv_f1_macro_mean", "cv_f1_macro_std"}


def test_split_is_stratified_and_reproducible():
    first, second = split_dataset(PENGUINS, 7), split_dataset(PENGUINS, 7)
    assert len(first.X_test) == round(0.2 * 344)
    assert first.train_sha256 == second.train_sha256
    assert split_dataset(PENGUINS, 8).train_sha256 != first.train_sha256
    share = {c: (first.y_test == c).mean() for c in PENGUINS.classes}
    assert share["Adelie"] == pytest.approx(152 / 344, abs=0.02)


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_every_family_tunes_and_is_reproducible(algorithm):
    split = split_dataset(PENGUINS, 42)
    runs = [
        train_algorithm(PENGUINS, ALGORITHMS[algorithm], split, seed=42, cv_folds=3, quick=True)
        for _ in range(2)
    ]
    assert set(runs[0].metrics) == METRICS
    assert runs[0].metrics == runs[1].metrics
    assert runs[0].metrics["accuracy"] > 0.9
    assert tuple(runs[0].pipeline.classes_) == PENGUINS.classes


def test_algorithm_ids_are_validated():
    assert parse_algorithm_ids(None) == list(ALGORITHMS)
    assert parse_algorithm_ids("svm, knn,svm") == ["svm", "knn"]
    with pytest.raises(ValueError, match="unknown algorithm"):
        parse_algorithm_ids("svm,deep_net")


def test_trained_models_carry_labels_metrics_and_provenance(trained):
    assert {r.algorithm for r in trained} == set(ALGORITHMS)
    for record in trained:
        model = bentoml.models.get(record.tag)
        assert model.info.labels == {"dataset": "penguins", "algorithm": record.algorithm}
        assert record.name == f"penguins_{record.algorithm}"
        md = model.info.metadata
        assert set(md["metrics"]) == METRICS
        assert md["classes"] == list(PENGUINS.classes)
        assert set(md["input_schema"]["numeric"]) == {f.name for f in PENGUINS.numeric}
        assert md["hyperparameters"]
        assert md["training"]["train_rows"] == 275
        assert len(md["training"]["train_data_sha256"]) == 64
        assert {"scikit-learn", "numpy", "pandas", "bentoml", "python"} <= set(md["training"]["libraries"])
        assert md["model_sha256"] == sha256_file(record.path / MODEL_FILE)
        # Every family converts to ONNX and passes the parity check at save time.
        assert md["serving"]["engine"] == "onnxruntime", md["serving"]
        assert md["serving"]["parity_max_abs_diff"] <= 1e-5
        assert md["serving"]["onnx_sha256"] == sha256_file(record.path / ONNX_FILE)


def test_a_hyperparameter_left_unset_is_null_not_a_string(trained):
    forest = next(r for r in trained if r.algorithm == "random_forest")  # quick grid: max_depth None
    assert forest.info()["hyperparameters"] == {"max_depth": None, "n_estimators": 20}


def test_saved_models_load_with_bentoml_sklearn(trained):
    pipeline = bentoml.sklearn.load_model(trained[0].tag)
    assert tuple(pipeline.classes_) == PENGUINS.classes


@pytest.mark.slow  # a subprocess or a server of its own
def test_cli_dry_run_saves_nothing_and_reports_a_table(trained):
    before = {r.tag for r in list_records("penguins")}
    result = run_train("--quick", "--dry-run", "--algorithms", "knn,svm", "--cv-folds", "3")
    assert result.returncode == 0, result.stderr
    assert "dry run" in result.stdout
    assert "knn" in result.stdout and "svm" in result.stdout and "macro F1" in result.stdout
    assert {r.tag for r in list_records("penguins")} == before


@pytest.mark.slow  # a subprocess or a server of its own
def test_cli_rerun_adds_versions_and_names_the_default(trained):
    before = {r.tag for r in list_records("penguins")}
    result = run_train("--quick", "--algorithms", "knn")
    assert result.returncode == 0, result.stderr
    added = {r.tag for r in list_records("penguins")} - before
    assert len(added) == 1 and next(iter(added)).startswith("penguins_knn:")
    assert next(iter(added)) in result.stdout
    assert "Default model" in result.stdout
    report = Path(re.search(r"Report \(confusion matrices, ROC curves\): (\S+)", result.stdout)[1])
    page = report.read_text()
    assert next(iter(added)) in page
    for figure in ("knn_confusion_matrix.png", "knn_roc.png"):
        assert f"figures/{figure}" in page and (report.parent / "figures" / figure).stat().st_size > 1000
    assert before <= {r.tag for r in list_records("penguins")}  # nothing overwritten


@pytest.mark.slow  # a subprocess or a server of its own
def test_cli_refuses_unknown_algorithms():
    result = run_train("--quick", "--algorithms", "deep_net")
    assert result.returncode == 2
    assert "unknown algorithm" in result.stderr
