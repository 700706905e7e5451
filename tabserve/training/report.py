"""A training run's report: per model a confusion matrix and ROC curves on the held-out rows, and
``report.html`` with the summary table and those images, for people who do not read metadata.

The same PNGs are the figures logged to MLflow (:mod:`tabserve.training.tracking`). Figures are drawn on
``matplotlib.figure.Figure`` objects, never through ``pyplot``: no global state and no GUI backend, so a
report can be written from any thread or process, the service's training task included.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

from tabserve.datasets import DatasetSpec
from tabserve.training.tuning import Split, TrainedModel

REPORT_FILE = "report.html"
#: Pixels per inch of the PNGs: sharp enough to read class names, small enough to e-mail.
DPI = 110


@dataclass(frozen=True)
class ReportedModel:
    """One trained model as the report shows it."""

    trained: TrainedModel
    #: The model store tag it was saved under (None on a dry run).
    tag: str | None
    figures: list[Path]
    mlflow_run_id: str | None


def _held_out(trained: TrainedModel, split: Split) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The model's classes (in its probability columns' order), its probabilities and predictions."""
    classes = [str(name) for name in trained.pipeline.classes_]
    probabilities = trained.pipeline.predict_proba(split.X_test)
    return classes, probabilities, np.asarray(classes)[probabilities.argmax(axis=1)]


def _confusion_matrix(
    spec: DatasetSpec, trained: TrainedModel, classes: list[str], y: np.ndarray, predicted: np.ndarray
) -> Figure:
    figure = Figure(figsize=(5.5, 4.8), layout="constrained")
    axes = figure.add_subplot()
    ConfusionMatrixDisplay.from_predictions(
        y, predicted, labels=classes, ax=axes, colorbar=False, cmap="Blues"
    )
    axes.set_title(
        f"{spec.name} · {trained.algorithm}: confusion matrix ({len(y)} held-out {spec.rows_noun})"
    )
    axes.title.set_fontsize(9)
    return figure


def _roc_curves(
    spec: DatasetSpec, trained: TrainedModel, classes: list[str], y: np.ndarray, probabilities: np.ndarray
) -> Figure:
    """Two classes: one curve, the second class as positive (as ``roc_auc`` scores it); more: one
    one-vs-rest curve per class (``roc_auc_ovr`` is their mean)."""
    figure = Figure(figsize=(5.5, 4.8), layout="constrained")
    axes = figure.add_subplot()
    positives = classes[1:] if len(classes) == 2 else classes
    for name in positives:
        column = classes.index(name)
        label = f"{name} as positive" if len(classes) == 2 else f"{name} vs rest"
        RocCurveDisplay.from_predictions(y == name, probabilities[:, column], name=label, ax=axes)
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    axes.set_xlabel("False positive rate")
    axes.set_ylabel("True positive rate")
    axes.legend(loc="lower right", fontsize=8)
    kind = "" if len(classes) == 2 else " (one-vs-rest)"
    axes.set_title(f"{spec.name} · {trained.algorithm}: ROC curves{kind}")
    axes.title.set_fontsize(9)
    return figure


def model_figures(spec: DatasetSpec, trained: TrainedModel, split: Split, directory: Path) -> list[Path]:
    """PNG confusion matrix and ROC curves (one-vs-rest for >2 classes) of one model on the held-out
    rows, written to ``directory`` as ``<algorithm>_confusion_matrix.png`` and ``<algorithm>_roc.png``."""
    directory.mkdir(parents=True, exist_ok=True)
    classes, probabilities, predicted = _held_out(trained, split)
    y = np.asarray(split.y_test).astype(str)
    figures = {
        "confusion_matrix": _confusion_matrix(spec, trained, classes, y, predicted),
        "roc": _roc_curves(spec, trained, classes, y, probabilities),
    }
    paths = []
    for kind, figure in figures.items():
        path = directory / f"{trained.algorithm}_{kind}.png"
        figure.savefig(path, dpi=DPI)
        paths.append(path)
    return paths


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 0.9em; }
figure { display: inline-block; margin: 0 1em 1em 0; }
"""


def _cell(text: str, *, number: bool = False) -> str:
    return f'<td class="number">{escape(text)}</td>' if number else f"<td>{escape(text)}</td>"


def _metric_names(models: Sequence[ReportedModel]) -> list[str]:
    """Every metric any model has, held-out ones first, in the order training computed them."""
    names = dict.fromkeys(name for model in models for name in model.trained.metrics)
    return sorted(names, key=lambda name: name.startswith("cv_"))


def _hyperparameters(trained: TrainedModel) -> str:
    return json.dumps(trained.hyperparameters, sort_keys=True, default=str)


def _summary(models: Sequence[ReportedModel]) -> str:
    metrics = _metric_names(models)
    header = ["tag", "algorithm", *metrics, "hyper-parameters", "time", "MLflow run"]
    rows = []
    for model in models:
        trained = model.trained
        cells = [
            _cell(model.tag or "(not saved)"),
            _cell(trained.algorithm),
            *(
                _cell(f"{trained.metrics[name]:.4f}" if name in trained.metrics else "", number=True)
                for name in metrics
            ),
            f"<td><code>{escape(_hyperparameters(trained))}</code></td>",
            _cell(f"{trained.training_seconds:.1f}s", number=True),
            _cell(model.mlflow_run_id or ""),
        ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    head = "".join(f"<th>{escape(name)}</th>" for name in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _context(context: Mapping[str, str]) -> str:
    rows = "".join(f"<tr><th>{escape(key)}</th>{_cell(str(value))}</tr>" for key, value in context.items())
    return f"<table>{rows}</table>"


def _figures(model: ReportedModel, directory: Path) -> str:
    """The model's images, linked relative to the report so the folder can be moved or served as is."""
    title = model.tag or model.trained.algorithm
    images = "".join(
        f'<figure><img src="{escape(Path(os.path.relpath(path, directory)).as_posix())}" '
        f'alt="{escape(path.stem)} of {escape(title)}"></figure>'
        for path in model.figures
    )
    return f"<section><h3>{escape(title)}</h3>{images}</section>"


def write_report(
    spec: DatasetSpec,
    models: Sequence[ReportedModel],
    split: Split,
    directory: Path,
    *,
    context: Mapping[str, str],
) -> Path:
    """``directory/report.html``: the run's facts (``context``: seed, folds, grid, data sha256, rows,
    date...), a summary table (tag, algorithm, metrics, hyper-parameters, time) and each model's images."""
    directory.mkdir(parents=True, exist_ok=True)
    title = f"{spec.title}: training report"
    rows = f"{len(split.X_train)} training {spec.rows_noun}, {len(split.X_test)} held out"
    body = [
        f"<h1>{escape(title)}</h1>",
        f"<p>Dataset <code>{escape(spec.name)}</code>: {escape(rows)}. Metrics are on the held-out "
        "rows; <code>cv_</code> ones are the cross-validation mean and spread of the chosen "
        "hyper-parameters.</p>",
        _context(context),
        "<h2>Models</h2>",
        _summary(models),
        "<h2>Confusion matrices and ROC curves (held-out rows)</h2>",
        *(_figures(model, directory) for model in models),
    ]
    page = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
    path = directory / REPORT_FILE
    path.write_text(page, encoding="utf-8")
    return path
