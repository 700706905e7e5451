"""The ``models.py`` command line: the store's versions of one dataset, to choose which one serves,
and ``import-mlflow`` to add a scikit-learn model logged to MLflow as a servable version.

``bentoml models list`` shows neither algorithm nor metrics nor which version answers, and cuts tags
at 80 columns; this lists what choosing needs, with the same rules the server applies.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tabserve.datasets import AT_ROOT, DATASETS, DatasetSpec, chosen_datasets
from tabserve.errors import StateUnavailable
from tabserve.store.state import StateStore, state_store

if TYPE_CHECKING:
    from tabserve.store.registry import ModelRecord

app = typer.Typer(add_completion=False, rich_markup_mode="rich")
#: The metrics a choice rests on: the default is picked by macro F1, then log loss.
KEY_METRICS = (("f1_macro", "macro F1"), ("accuracy", "accuracy"), ("log_loss", "log loss"))


@dataclass(frozen=True)
class StoreView:
    """One dataset's versions with the server's view of them: which load, which is chosen, which answers."""

    spec: DatasetSpec
    records: list[ModelRecord]
    refusals: dict[str, str]
    selected: str | None
    default: str | None
    active: str | None
    state_file: str

    def labels(self, tag: str) -> list[str]:
        """Every role the version has: "active" (answers predictions), "selected" (chosen with
        /select_model), "default" (answers when nothing is selected), "not servable"."""
        roles = {"active": self.active, "selected": self.selected, "default": self.default}
        labels = [label for label, holder in roles.items() if holder == tag]
        if tag in self.refusals:
            labels.append("not servable")
        return labels

    def warning(self) -> str | None:
        """Why the active model is not the one a reader would expect, if it is not."""
        if self.selected is not None and self.selected in self.refusals:
            return (
                f"Nothing answers: the selected {self.selected} is not servable, so predictions and "
                "/readyz answer 503 until another model is selected."
            )
        if self.active is None:
            return "Nothing answers: no servable model; train one with python train.py."
        if self.selected is not None and self.selected != self.active:
            return f"The selected {self.selected} is not in the store, so the default answers."
        return None

    def as_json(self) -> dict[str, Any]:
        return {
            "dataset": self.spec.name,
            "active": self.active,
            "selected": self.selected,
            "default": self.default,
            "state_file": self.state_file,
            "models": [
                {
                    "tag": r.tag,
                    "algorithm": r.algorithm,
                    "metrics": r.metrics,
                    "created": r.created.isoformat(),
                    "engine": r.metadata.get("serving", {}).get("engine"),
                    "servable": r.tag not in self.refusals,
                    "refused": self.refusals.get(r.tag),
                    "active": r.tag == self.active,
                    "selected": r.tag == self.selected,
                    "default": r.tag == self.default,
                }
                for r in self.records
            ],
        }


def store_view(spec: DatasetSpec, state: StateStore) -> StoreView:
    """Read the store and the selection the way ``ModelServer`` does (``tabserve/serving.py``).

    The default is chosen among servable versions; a selected version that is not servable makes the
    server fail closed (nothing active), one that is gone from the store gives way to the default.
    Raises :class:`StateUnavailable` when the choices are in a Redis that does not answer.
    """
    from tabserve.store.registry import default_record, list_records, refusal

    records = list_records(spec.name)
    refusals = {r.tag: reason for r in records if (reason := refusal(spec, r)) is not None}
    default = default_record([r for r in records if r.tag not in refusals])
    default_tag = default.tag if default else None
    selected = state.current(spec.name)
    if selected is None or selected not in {r.tag for r in records}:
        active = default_tag
    else:
        active = None if selected in refusals else selected
    return StoreView(spec, records, refusals, selected, default_tag, active, state.where(spec.name))


def _metric(value: float | None) -> str:
    """Four decimals; tiny values (a log loss of 4e-05) in exponent form rather than as 0.0000."""
    if value is None:
        return ""
    return f"{value:.4f}" if value == 0 or abs(value) >= 1e-4 else f"{value:.1e}"


def _status(view: StoreView, tag: str) -> Text:
    styles = {"active": "bold green", "not servable": "bold red"}
    return Text(", ").join(Text(label, styles.get(label, "")) for label in view.labels(tag))


def table(view: StoreView) -> Table:
    """Newest first, within 80 columns: the tag never wraps or shortens, since it is what
    /select_model takes; the algorithm, creation time and status go on the line under it."""
    result = Table(
        title=f"{view.spec.title} ({view.spec.name}) models, newest first",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 0),
    )
    longest = max(len(r.tag) for r in view.records)
    result.add_column("tag\n  algorithm, created (UTC), status", min_width=longest, no_wrap=True)
    for _, header in KEY_METRICS:
        result.add_column(header, justify="right", width=max(7, *map(len, header.split())))
    for record in view.records:
        details = Text(f"  {record.algorithm}, {record.created.astimezone(UTC):%Y-%m-%d %H:%M}", "dim")
        if view.labels(record.tag):
            details += Text(", ") + _status(view, record.tag)
        result.add_row(
            Group(Text(record.tag, "bold", no_wrap=True), details),
            *(_metric(record.metrics.get(key)) for key, _ in KEY_METRICS),
        )
    return result


def print_view(console: Console, view: StoreView) -> None:
    if not view.records:
        name = view.spec.name
        console.print(f"No {name} models in the store; train some with python train.py --dataset {name}.")
        return
    console.print(table(view))
    console.print(
        "active answers predictions; selected was chosen with POST /select_model (kept in "
        f"{view.state_file}); default answers when nothing is selected; not servable is refused "
        "when loading. Everything about a version: bentoml models get <tag>.",
        highlight=False,
    )
    for tag, reason in view.refusals.items():
        named = reason if reason.startswith(tag) else f"{tag}: {reason}"
        console.print(f"Not servable: {named}", style="red", highlight=False)
    if warning := view.warning():
        console.print(warning, style="bold yellow", highlight=False)


@app.callback(invoke_without_command=True)
def models(
    context: typer.Context,
    dataset: Annotated[
        str | None, typer.Option(help=f"Comma-separated datasets (default: all): {', '.join(DATASETS)}")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON for scripts: a list with one document per dataset")
    ] = False,
) -> None:
    """List the store's model versions with algorithm, metrics, whether each would load, and
    which one answers predictions (selected with /select_model, else the default)."""
    if context.invoked_subcommand is not None:  # a command of its own (import-mlflow): no listing
        return
    try:
        specs = chosen_datasets(dataset)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
    state = state_store()
    try:
        views = [store_view(spec, state) for spec in specs]
    except StateUnavailable as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps([view.as_json() for view in views], indent=2))
        return
    console = Console()
    for number, view in enumerate(views):
        if number:
            console.print()
        print_view(console, view)


def _algorithm_option(value: str | None) -> str | None:
    from tabserve.training.mlflow_import import ALGORITHM_LABEL

    if value is not None and not ALGORITHM_LABEL.match(value):
        raise typer.BadParameter("lowercase letters, digits and _ inside (at most 40), e.g. notebook_forest")
    return value


@app.command("import-mlflow")
def import_mlflow(
    model_uri: Annotated[
        str,
        typer.Argument(help="The MLflow model: runs:/<run id>/model or models:/<model id or name/version>"),
    ],
    dataset: Annotated[str, typer.Option(help=f"The dataset it predicts: {', '.join(DATASETS)}")],
    algorithm: Annotated[
        str | None,
        typer.Option(
            help="Its algorithm label (store name <dataset>_<label>); default: the final estimator's "
            "class in snake_case, e.g. random_forest_classifier",
            callback=_algorithm_option,
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Seed of the held-out split it is evaluated on (train.py's)")
    ] = 42,
    tracking_uri: Annotated[
        str | None, typer.Option(envvar="MLFLOW_TRACKING_URI", help="The MLflow tracking server")
    ] = None,
) -> None:
    """Import a scikit-learn classifier logged to MLflow as a servable version of a dataset's models.

    For example one logged by mlflow.sklearn.autolog() while fitting a Pipeline on the dataset's columns.
    Its classes must be the dataset's; it is evaluated on the held-out split (the store's metrics).
    It is converted to ONNX when the conversion answers the same, and saved with its MLflow provenance.
    Loading it runs its pickle, as serving it will: import only models you trust. Refused: exit code 2.
    """
    try:
        specs = chosen_datasets(dataset)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--dataset") from exc
    if len(specs) != 1:
        raise typer.BadParameter("name one dataset", param_hint="--dataset")
    (spec,) = specs
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
    from tabserve.training.mlflow_import import ImportRefused, import_logged_model

    console = Console(soft_wrap=True)  # tags are copied from here: never broken across lines
    try:
        record = import_logged_model(
            spec, model_uri, algorithm=algorithm, seed=seed, tracking_uri=tracking_uri
        )
    except ImportRefused as exc:
        Console(stderr=True).print(f"Not imported: {exc}", style="bold red", highlight=False)
        raise typer.Exit(2) from exc
    serving = record.metadata["serving"]
    engine = serving["engine"] + (f" ({serving['reason']})" if "reason" in serving else "")
    metrics = ", ".join(f"{name} {_metric(record.metrics.get(name))}" for name, _ in KEY_METRICS)
    console.print(f"Imported {escape(model_uri)} as [bold]{record.tag}[/]", highlight=False)
    console.print(f"  held-out {metrics}; engine: {engine}", highlight=False)
    route = "" if spec is AT_ROOT else f"/{spec.name}"
    console.print(
        f'Serve it: POST {route}/select_model with {{"model": "{record.tag}"}}; '
        "every version: python models.py",
        highlight=False,
    )
