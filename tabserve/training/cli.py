"""The ``train.py`` command line: tune, evaluate and save classifiers, with readable progress."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichBar
from rich.table import Table

from tabserve.datasets import DATASETS, DatasetSpec, chosen_datasets
from tabserve.training.algorithms import ALGORITHMS, parse_algorithm_ids
from tabserve.training.run import Progress, TrainingPlan, run_training
from tabserve.training.tuning import Split, TrainedModel, roc_auc

# Piped output (CI logs, files) gets room for full model tags instead of rich's 80 columns.
console = Console(width=None if sys.stdout.isatty() else 120)
app = typer.Typer(add_completion=False, rich_markup_mode="rich")


def _algorithm_list(value: str | None) -> list[str]:
    try:
        return parse_algorithm_ids(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _dataset_list(value: str | None) -> list[DatasetSpec]:
    try:
        return chosen_datasets(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


@app.command()
def train(
    dataset: Annotated[
        str | None,
        typer.Option(help=f"Comma-separated datasets (default: all): {', '.join(DATASETS)}"),
    ] = None,
    algorithms: Annotated[
        str | None,
        typer.Option(help=f"Comma-separated algorithm ids (default: all): {', '.join(ALGORITHMS)}"),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for the split, CV folds and estimators")] = 42,
    cv_folds: Annotated[int, typer.Option(min=2, max=20, help="Stratified CV folds")] = 5,
    quick: Annotated[bool, typer.Option(help="Tiny grids: the whole run in seconds (tests, CI)")] = False,
    dry_run: Annotated[bool, typer.Option(help="Train and report, save nothing")] = False,
) -> None:
    """Tune classifiers with cross-validated grid search and save each to the BentoML model store."""
    specs = _dataset_list(dataset)
    ids = _algorithm_list(algorithms)
    # Imported late: importing bentoml is slow, and --help should not pay for it.
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
    for number, spec in enumerate(specs):
        if number:
            console.print()
        _train_dataset(spec, ids, seed=seed, cv_folds=cv_folds, quick=quick, dry_run=dry_run)
    if not dry_run:
        console.print("See every version with [bold]bentoml models list[/].")


class _RichProgress(Progress):
    """The run's progress as a rich bar, a line per tuned algorithm and the split's summary."""

    def __init__(self, bar: RichBar):
        self.bar = bar
        self.task = bar.add_task("training", total=None)

    def prepared(self, plan: TrainingPlan, split: Split) -> None:
        held_out = "in the test file" if plan.test_rows else "held out"
        console.print(
            f"[bold]{plan.spec.title}[/]: {len(split.X_train)} training rows, {len(split.X_test)} "
            f"{held_out}; {plan.cv_folds}-fold CV, seed {plan.seed}, {plan.grid} grids"
            + (" [yellow](dry run: nothing is saved)[/]" if plan.dry_run else "")
        )
        self.bar.update(self.task, total=len(plan.algorithms))

    def tuning(self, algorithm: str) -> None:
        self.bar.update(self.task, description=f"tuning {algorithm}")

    def tuned(self, trained: TrainedModel) -> None:
        self.bar.advance(self.task)
        console.print(f"  [green]✓[/] {trained.algorithm} in {trained.training_seconds:.1f}s")

    def tracking(self) -> None:
        self.bar.update(self.task, description="logging to MLflow")


def _train_dataset(
    spec: DatasetSpec, ids: list[str], *, seed: int, cv_folds: int, quick: bool, dry_run: bool
) -> None:
    """Train, save and report every algorithm in ``ids`` on one dataset."""
    from tabserve.store.registry import default_record, list_records

    plan = TrainingPlan(spec, tuple(ids), seed=seed, cv_folds=cv_folds, quick=quick, dry_run=dry_run)
    with RichBar(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        result = run_training(plan, _RichProgress(bar))

    table = Table(title=f"{spec.title} models", title_justify="left")
    for column in (
        "tag" if not dry_run else "algorithm",
        "accuracy",
        "macro F1",
        "ROC-AUC",
        "time",
        "engine",
    ):
        textual = column in ("tag", "algorithm", "engine")
        table.add_column(column, justify="left" if textual else "right", overflow="fold")
    for model in result.models:
        m = model.metrics
        table.add_row(
            model.tag or model.algorithm,
            f"{m['accuracy']:.4f}",
            f"{m['f1_macro']:.4f}",
            f"{roc_auc(m):.4f}",
            f"{model.training_seconds:.1f}s",
            model.engine or "",
        )
    console.print(table)
    console.print(f"Report (confusion matrices, ROC curves): [bold]{result.report}[/]", soft_wrap=True)
    if any(model.mlflow_run_id for model in result.models):
        uri = os.environ["MLFLOW_TRACKING_URI"]
        console.print(f"Logged to MLflow ({uri}): experiment [bold]{spec.name}[/], a run per model")
    if dry_run:
        return
    default = default_record(list_records(spec.name))
    if default is not None:
        console.print(
            f"Default model (served unless one is chosen with /select_model): [bold]{default.tag}[/]"
            f" ({default.algorithm}, best held-out macro F1 among each algorithm's latest version)"
        )
    console.print("Compare every version, and see which one answers, with [bold]python models.py[/].")
