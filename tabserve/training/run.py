"""One training run of one dataset: the core that ``train.py`` and the ``/train`` task share.

A run tunes every chosen algorithm on the same rows, then saves them all: a run that fails part
way (a bad grid, a crash, a cancel) leaves the store as it was. The rows are the packaged data or
an upload (:class:`~tabserve.training.data.LabelledRows`), held out at random or evaluated on a
test file, and uploads are archived (content-addressed) before the models that learned from them
are saved with their sha256 and path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tabserve.codecs.frames import frame_from_columns, normalise_frame
from tabserve.datasets import DatasetSpec
from tabserve.training.algorithms import ALGORITHMS
from tabserve.training.data import LabelledRows, archive, check_class_sizes, rows_needed
from tabserve.training.folders import reports_dir
from tabserve.training.report import ReportedModel, model_figures, write_report
from tabserve.training.tracking import tracker_from_env
from tabserve.training.tuning import Split, TrainedModel, split_dataset, split_rows, train_algorithm

#: The report's PNGs, beside its ``report.html``.
FIGURES_FOLDER = "figures"


@dataclass(frozen=True)
class TrainingPlan:
    """What to train: a dataset, its algorithms, the search's settings and, optionally, the rows."""

    spec: DatasetSpec
    algorithms: tuple[str, ...]
    seed: int = 42
    cv_folds: int = 5
    quick: bool = False
    dry_run: bool = False
    #: An uploaded training file's rows; None trains on the dataset's packaged data.
    train_rows: LabelledRows | None = None
    #: An uploaded held-out file, evaluated instead of a random split of the training rows.
    test_rows: LabelledRows | None = None

    @property
    def grid(self) -> str:
        return "quick" if self.quick else "full"


class Progress:
    """What a run reports as it goes; the defaults ignore it (the CLI shows it with rich)."""

    def prepared(self, plan: TrainingPlan, split: Split) -> None:
        """The rows are split: training is about to start."""

    def tuning(self, algorithm: str) -> None:
        """The grid search of ``algorithm`` starts."""

    def tuned(self, trained: TrainedModel) -> None:
        """``trained.algorithm`` is tuned, refitted and evaluated (not saved yet)."""

    def tracking(self) -> None:
        """Every model is trained; each is logged to MLflow next."""

    def saving(self) -> None:
        """Every model is trained; the uploads are archived and the models saved next."""


@dataclass
class ModelOutcome:
    """One trained model: its held-out metrics and, once saved, its store tag."""

    algorithm: str
    metrics: dict[str, float]
    hyperparameters: dict[str, Any]
    training_seconds: float
    tag: str | None = None
    #: ``onnx`` or ``sklearn``: how the server will run it.
    engine: str | None = None
    #: The MLflow run that tracked it, when tracking is on.
    mlflow_run_id: str | None = None


@dataclass
class TrainingResult:
    """What a run did: the models, the rows they saw and where those came from."""

    dataset: str
    grid: str
    seed: int
    cv_folds: int
    train_rows: int
    test_rows: int
    #: Fingerprint of the exact rows fitted (features and labels), as every model's metadata has it.
    train_data_sha256: str
    #: sha256 of the uploaded training file (its archive's name); None for the packaged data.
    data_sha256: str | None
    #: sha256 of the uploaded test file; None when rows were held out at random.
    test_data_sha256: str | None
    models: list[ModelOutcome] = field(default_factory=list)
    #: The tag made active by this run, if it was asked to (the task's ``activate=best``).
    activated: str | None = None
    #: Path of the run's HTML report, when one was written.
    report: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def split_for(plan: TrainingPlan) -> Split:
    """The training and held-out rows: a test file's rows, or a stratified random hold-out."""
    spec = plan.spec
    if plan.train_rows is None and plan.test_rows is None:
        return split_dataset(spec, plan.seed)
    X, y = _rows(spec, plan.train_rows)
    if plan.test_rows is None:
        return split_rows(X, y, plan.seed)
    check_class_sizes(spec, y, rows_needed(plan.cv_folds, held_out_file=True))
    X_test, y_test = _rows(spec, plan.test_rows)
    return Split(X, X_test, y, y_test)


def _rows(spec: DatasetSpec, rows: LabelledRows | None) -> tuple[pd.DataFrame, np.ndarray]:
    """The Pipeline's input and the labels of an upload, or of the packaged data."""
    if rows is None:
        frame = spec.load().dropna(subset=[spec.target])
        return normalise_frame(spec, frame), frame[spec.target].astype(str).to_numpy()
    return frame_from_columns(spec, rows.columns), np.asarray(rows.labels, dtype=object)


def run_training(plan: TrainingPlan, progress: Progress | None = None) -> TrainingResult:
    """Tune, evaluate, track, (unless ``plan.dry_run``) save and report every algorithm of ``plan``.

    With ``$MLFLOW_TRACKING_URI`` set, each model is logged to MLflow before it is saved, so its
    store metadata can name its run; the report comes last, so it can name the store tags.
    """
    progress = progress or Progress()
    tracker = tracker_from_env()  # before the long part: a missing MLflow fails now, not after it
    split = split_for(plan)
    progress.prepared(plan, split)
    trained: list[TrainedModel] = []
    for algorithm in plan.algorithms:
        progress.tuning(algorithm)
        trained.append(
            train_algorithm(
                plan.spec,
                ALGORITHMS[algorithm],
                split,
                seed=plan.seed,
                cv_folds=plan.cv_folds,
                quick=plan.quick,
            )
        )
        progress.tuned(trained[-1])
    result = TrainingResult(
        dataset=plan.spec.name,
        grid=plan.grid,
        seed=plan.seed,
        cv_folds=plan.cv_folds,
        train_rows=len(split.X_train),
        test_rows=len(split.X_test),
        train_data_sha256=split.train_sha256,
        data_sha256=plan.train_rows.sha256 if plan.train_rows else None,
        test_data_sha256=plan.test_rows.sha256 if plan.test_rows else None,
        models=[
            ModelOutcome(t.algorithm, t.metrics, t.hyperparameters, round(t.training_seconds, 3))
            for t in trained
        ],
    )
    directory = report_directory(plan.spec)
    figures = [model_figures(plan.spec, t, split, directory / FIGURES_FOLDER) for t in trained]
    if tracker is not None:
        progress.tracking()
        for model, outcome, images in zip(trained, result.models, figures, strict=True):
            outcome.mlflow_run_id = tracker.log_model(
                plan.spec,
                model,
                split,
                seed=plan.seed,
                cv_folds=plan.cv_folds,
                grid_name=plan.grid,
                grid=ALGORITHMS[model.algorithm].grid_for(quick=plan.quick),
                data_sha256=result.data_sha256 or result.train_data_sha256,
                figures=images,
            )
    if not plan.dry_run:
        progress.saving()
        _save(plan, split, trained, result)
        if tracker is not None:
            for outcome in result.models:
                tracker.tag_saved(outcome.mlflow_run_id, outcome.tag)
    reported = [
        ReportedModel(model, outcome.tag, images, outcome.mlflow_run_id)
        for model, outcome, images in zip(trained, result.models, figures, strict=True)
    ]
    result.report = str(write_report(plan.spec, reported, split, directory, context=_context(result)))
    return result


def report_directory(spec: DatasetSpec) -> Path:
    """``<data folder>/reports/<dataset>/<UTC date and time>/``: one folder per run, never reused."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%S.%fZ")
    return reports_dir() / spec.name / stamp


def _context(result: TrainingResult) -> dict[str, str]:
    """The run's facts at the top of its report."""
    facts = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "grid": result.grid,
        "seed": str(result.seed),
        "cv folds": str(result.cv_folds),
        "training rows": str(result.train_rows),
        "held-out rows": str(result.test_rows),
        "fitted rows' sha256": result.train_data_sha256,
    }
    if result.data_sha256:
        facts["uploaded file's sha256"] = result.data_sha256
    if result.test_data_sha256:
        facts["uploaded test file's sha256"] = result.test_data_sha256
    return facts


def _save(plan: TrainingPlan, split: Split, trained: list[TrainedModel], result: TrainingResult) -> None:
    """Archive the uploads, then save every model with where its rows came from and its MLflow run."""
    from tabserve.training.saving import save_trained  # imports bentoml: dry runs need not

    provenance = upload_provenance(plan)
    for model, outcome in zip(trained, result.models, strict=True):
        record = save_trained(
            plan.spec,
            model,
            split,
            seed=plan.seed,
            cv_folds=plan.cv_folds,
            grid=plan.grid,
            provenance={**provenance, "mlflow_run_id": outcome.mlflow_run_id},
        )
        outcome.tag, outcome.engine = record.tag, record.metadata["serving"]["engine"]


def upload_provenance(plan: TrainingPlan) -> dict[str, str]:
    """Keep the uploaded files (content-addressed) and say where, for the models' metadata."""
    provenance: dict[str, str] = {}
    for prefix, rows in (("upload", plan.train_rows), ("test_upload", plan.test_rows)):
        if rows is not None:
            provenance[f"{prefix}_sha256"] = rows.sha256
            provenance[f"{prefix}_path"] = str(archive(rows.content))
    return provenance
