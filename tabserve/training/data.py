"""Labelled training data from a CSV upload, read exactly as ``/predict_csv`` reads rows, and kept.

The feature columns go through :mod:`tabserve.codecs.csv_io` (delimiters, byte-order mark, CRLF,
missing-value tokens, column aliases, bounds and categories; other columns ignored), so a file that
predicts also trains, and the dataset's own published file trains unchanged. The target column is
read here: rows without a label are dropped, an unknown label is refused. Every problem is a
:class:`~tabserve.errors.CsvError` naming the row and column. This module imports numpy only, so
the service can check an upload at submission time without loading pandas or scikit-learn.

Uploaded files that trained a saved model are kept content-addressed (``uploads/<sha256>.csv``) in
the data folder, so any model can be traced back to the exact bytes it learned from.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tabserve.codecs.columns import Columns
from tabserve.codecs.csv_io import CsvTable, _missing, _where, read_csv, validated_columns
from tabserve.datasets import DatasetSpec
from tabserve.errors import CsvError
from tabserve.training.folders import default_data_dir

#: Share of the rows held out for evaluation when no test file is given (``train_test_split``).
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class LabelledRows:
    """The labelled rows of one uploaded file, in the Pipeline's input form, and the file itself."""

    columns: Columns
    labels: np.ndarray
    content: bytes
    #: Data rows in the file, labelled or not.
    file_rows: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    def __len__(self) -> int:
        return len(self.labels)


def read_labelled_csv(spec: DatasetSpec, data: bytes, *, file: str = "file") -> LabelledRows:
    """Parse and check a labelled upload; :class:`CsvError` names the first problem (in ``file``)."""
    try:
        table = read_csv(spec, data)
        labels = _labels(spec, table)
        columns = validated_columns(spec, table)
    except CsvError as exc:
        raise CsvError(f"{file}: {exc}") from None
    keep = labels != ""
    if not keep.any():
        raise CsvError(f"{file}: no row has a {spec.target!r} label")
    return LabelledRows(
        {name: values[keep] for name, values in columns.items()},
        labels[keep],
        data,
        len(table.rows),
    )


def _labels(spec: DatasetSpec, table: CsvTable) -> np.ndarray:
    """The target column's cells, ``""`` where missing; an unknown class is refused."""
    if spec.target not in table.header:
        raise CsvError(
            f"no {spec.target!r} column: a training file needs the label of each {spec.row_noun} "
            f"in a column named {spec.target!r} ({', '.join(spec.classes)})"
        )
    table.positions.setdefault(spec.target, table.header.index(spec.target))
    cells = table.column(spec.target)
    present = ~_missing(cells)
    unknown = present & ~np.isin(cells, np.array(spec.classes, dtype=cells.dtype))
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise CsvError(
            f"{_where(table, row, spec.target)}: {str(cells[row])!r} is not one of {', '.join(spec.classes)}"
        )
    return np.where(present, cells, "").astype(object)


def rows_needed(cv_folds: int, *, held_out_file: bool) -> int:
    """Fewest rows of each class that training needs: ``cv_folds`` in the training part, which is
    the whole file with a test file, else what stays after the stratified hold-out (one spare for
    its rounding)."""
    if held_out_file:
        return cv_folds
    return math.ceil(cv_folds / (1 - TEST_FRACTION)) + 1


def check_class_sizes(spec: DatasetSpec, labels: np.ndarray, needed: int, *, file: str = "file") -> None:
    """Refuse labels with a class below ``needed`` rows (a missing class is one with 0 rows)."""
    names, counts = np.unique(labels.astype(str), return_counts=True)
    count = dict(zip(names.tolist(), counts.tolist(), strict=True))
    small = [f"{name} has {count.get(name, 0)}" for name in spec.classes if count.get(name, 0) < needed]
    if small:
        raise CsvError(
            f"{file}: too few rows in column {spec.target!r} for training: {', '.join(small)}; "
            f"every class needs at least {needed} labelled rows"
        )


def check_training_files(
    spec: DatasetSpec, train: bytes | None, test: bytes | None, *, cv_folds: int
) -> tuple[LabelledRows | None, LabelledRows | None]:
    """Read and check a submission's files, before anything trains: the training file's classes
    must fill the folds, the test file must hold every class (each one's ROC curve needs it)."""
    train_rows = read_labelled_csv(spec, train, file="file") if train is not None else None
    test_rows = read_labelled_csv(spec, test, file="test_file") if test is not None else None
    if train_rows is not None:
        needed = rows_needed(cv_folds, held_out_file=test_rows is not None)
        check_class_sizes(spec, train_rows.labels, needed, file="file")
    if test_rows is not None:
        check_class_sizes(spec, test_rows.labels, 1, file="test_file")
    return train_rows, test_rows


def archive(content: bytes, data_dir: Path | None = None) -> Path:
    """Keep an uploaded file as ``uploads/<sha256>.csv`` (once: same bytes, same file), atomically."""
    folder = (data_dir or default_data_dir()) / "uploads"
    path = folder / f"{hashlib.sha256(content).hexdigest()}.csv"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
