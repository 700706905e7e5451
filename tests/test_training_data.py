"""Labelled training uploads (tabserve/training/data.py) and the training core run on them (run.py)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tabserve.codecs.columns import MISSING_CATEGORY
from tabserve.datasets import BREAST_CANCER, PENGUINS
from tabserve.errors import CsvError
from tabserve.training.data import archive, check_training_files, read_labelled_csv, rows_needed
from tabserve.training.folders import DATA_DIR_ENV, default_data_dir
from tabserve.training.run import TrainingPlan, run_training

PENGUINS_CSV = Path(__import__("palmerpenguins").__file__).parent / "data" / "penguins.csv"
HEADER = "species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex"
GOOD_ROW = "Adelie,Torgersen,39.1,18.7,181,3750,male"


def penguins_rows(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def test_the_published_penguins_csv_is_read_unchanged():
    data = PENGUINS_CSV.read_bytes()
    rows = read_labelled_csv(PENGUINS, data)
    assert len(rows) == rows.file_rows == 344  # every row has a species; 'year' is ignored
    assert rows.sha256 == hashlib.sha256(data).hexdigest()
    assert set(rows.labels) == set(PENGUINS.classes)
    assert np.isnan(rows.columns["bill_length_mm"]).sum() == 2  # its NA cells
    assert (rows.columns["sex"] == MISSING_CATEGORY).sum() == 11
    check_training_files(PENGUINS, data, None, cv_folds=5)  # enough of every class


def test_a_file_is_read_as_predict_csv_reads_it():
    """Byte-order mark, CRLF, semicolons, missing-value tokens, an alias, extra columns."""
    text = "\ufeffid;diagnosis;" + ";".join(
        f"mean {f.name.removeprefix('mean_')}" for f in BREAST_CANCER.numeric[:2]
    )
    data = (text + "\r\n7;malignant;17.99;NA\r\n8;benign;n/a;10.38\r\n").encode()
    rows = read_labelled_csv(BREAST_CANCER, data)
    assert list(rows.labels) == ["malignant", "benign"]
    first, second = BREAST_CANCER.numeric[0].name, BREAST_CANCER.numeric[1].name
    assert rows.columns[first][0] == 17.99 and np.isnan(rows.columns[first][1])
    assert np.isnan(rows.columns[second][0]) and rows.columns[second][1] == 10.38


def test_rows_without_a_label_are_dropped():
    rows = read_labelled_csv(PENGUINS, penguins_rows(GOOD_ROW, "NA" + GOOD_ROW[6:], "," + GOOD_ROW[7:]))
    assert rows.file_rows == 3 and len(rows) == 1
    assert list(rows.columns["island"]) == ["Torgersen"]


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (penguins_rows(GOOD_ROW[7:], header=HEADER[8:]), "no 'species' column"),
        (penguins_rows(GOOD_ROW, "Emperor" + GOOD_ROW[6:]), "row 2 (line 3), column 'species': 'Emperor'"),
        (
            penguins_rows(GOOD_ROW.replace("39.1", "3910")),
            "row 1 (line 2), column 'bill_length_mm': 3910 is outside",
        ),
        (
            penguins_rows(GOOD_ROW.replace("39.1", "long")),
            "column 'bill_length_mm': 'long' is not a finite number",
        ),
        (penguins_rows(GOOD_ROW.replace("Torgersen", "Mars")), "column 'island': 'Mars' is not one of"),
        (penguins_rows(GOOD_ROW.replace("Torgersen", "")), "column 'island': a value is required"),
        (penguins_rows("NA" + GOOD_ROW[6:]), "no row has a 'species' label"),
        (b"", "empty"),
    ],
)
def test_a_file_that_cannot_train_is_refused_naming_the_problem(data, needle):
    with pytest.raises(CsvError) as refused:
        check_training_files(PENGUINS, data, None, cv_folds=5)
    assert needle in str(refused.value) and str(refused.value).startswith("file: ")


def test_every_class_needs_enough_rows_for_the_folds():
    rows = [GOOD_ROW] * 8 + [GOOD_ROW.replace("Adelie", "Gentoo")] * 8
    rows += [GOOD_ROW.replace("Adelie", "Chinstrap")] * 7
    with pytest.raises(CsvError, match="Chinstrap has 7; every class needs at least 8"):
        check_training_files(PENGUINS, penguins_rows(*rows), None, cv_folds=5)
    # With a test file nothing is held out of the training rows: the folds alone count.
    test = penguins_rows(*{row.split(",")[0]: row for row in rows}.values())
    check_training_files(PENGUINS, penguins_rows(*rows), test, cv_folds=5)
    with pytest.raises(CsvError, match=r"test_file: .* Chinstrap has 0"):
        check_training_files(PENGUINS, penguins_rows(*rows), penguins_rows(GOOD_ROW), cv_folds=5)
    assert rows_needed(5, held_out_file=True) == 5


def test_uploads_are_archived_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    assert default_data_dir() == tmp_path / "data"
    data = penguins_rows(GOOD_ROW)
    path = archive(data)
    assert path == tmp_path / "data" / "uploads" / f"{hashlib.sha256(data).hexdigest()}.csv"
    assert path.read_bytes() == data and archive(data) == path
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    monkeypatch.delenv(DATA_DIR_ENV)
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home" / "tabserve-data"


def test_an_upload_trains_and_a_test_file_is_evaluated_instead_of_a_split():
    data = PENGUINS_CSV.read_bytes()
    lines = data.decode().splitlines()
    train = ("\n".join(lines[:1] + lines[1::4] + lines[2::4] + lines[3::4]) + "\n").encode()
    test = ("\n".join(lines[:1] + lines[4::4]) + "\n").encode()
    train_rows, test_rows = check_training_files(PENGUINS, train, test, cv_folds=5)
    plan = TrainingPlan(
        PENGUINS,
        ("logistic_regression",),
        quick=True,
        dry_run=True,
        train_rows=train_rows,
        test_rows=test_rows,
    )
    result = run_training(plan)
    assert (result.train_rows, result.test_rows) == (len(train_rows), len(test_rows)) == (258, 86)
    assert result.data_sha256 == hashlib.sha256(train).hexdigest()
    assert result.test_data_sha256 == hashlib.sha256(test).hexdigest()
    (model,) = result.models
    assert model.tag is None and model.metrics["accuracy"] > 0.9  # a dry run saves nothing

    split = run_training(TrainingPlan(PENGUINS, ("knn",), quick=True, dry_run=True, train_rows=train_rows))
    assert (split.train_rows, split.test_rows) == (206, 52) and split.test_data_sha256 is None


def test_a_submission_is_checked_without_loading_scikit_learn_or_pandas():
    """The service checks uploads and algorithm ids in its worker, which must stay light."""
    code = (
        "import sys\n"
        "from tabserve.datasets import PENGUINS\n"
        "from tabserve.training.algorithms import parse_algorithm_ids\n"
        "from tabserve.training.data import check_training_files\n"
        f"check_training_files(PENGUINS, open({str(PENGUINS_CSV)!r}, 'rb').read(), None, cv_folds=5)\n"
        "parse_algorithm_ids('svm,knn')\n"
        "print(sorted(name for name in ('sklearn', 'pandas') if name in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout + loaded.stderr
