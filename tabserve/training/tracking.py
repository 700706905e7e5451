"""Logging training runs to MLflow, when ``MLFLOW_TRACKING_URI`` names a tracking server.

One experiment per dataset, named after it; one MLflow run per trained model with the same metric
names as the model's store metadata, its best hyper-parameters and the run's seed, folds and grid as
params, the report's figures as artifacts and the fitted Pipeline as an MLflow model.

MLflow is an optional dependency (``uv sync --group mlflow``) and a heavy import: it is imported only
inside :class:`Tracker`, which :func:`tracker_from_env` builds only when the variable is set.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tabserve.datasets import DatasetSpec
from tabserve.training.tuning import Split, TrainedModel

if TYPE_CHECKING:
    from mlflow import MlflowClient

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
#: MLflow reports its usage to its makers unless told not to (BENTOML_DO_NOT_TRACK's counterpart).
TELEMETRY_ENV = "MLFLOW_DISABLE_TELEMETRY"
#: Where a run keeps the fitted Pipeline (an MLflow model) and the figures, among its artifacts.
MODEL_ARTIFACT = "model"
FIGURES_ARTIFACT = "figures"
#: Rows of the held-out split logged as the MLflow model's input example (its signature comes from them).
EXAMPLE_ROWS = 5
#: What loading the logged Pipeline needs: pinned so MLflow does not infer them (it would load the
#: model in a subprocess to find out). The Pipeline's own steps also need this project's package.
MODEL_REQUIREMENTS = ("scikit-learn", "numpy", "pandas", "skops")


def tracker_from_env() -> Tracker | None:
    """A tracker for ``$MLFLOW_TRACKING_URI``, or None when it is unset (nothing is logged)."""
    uri = os.environ.get(TRACKING_URI_ENV, "").strip()
    if not uri:
        return None
    try:
        return Tracker(uri)
    except ModuleNotFoundError as exc:  # the image and a plain `uv sync` have no MLflow
        raise RuntimeError(
            f"{TRACKING_URI_ENV} is set but MLflow is not installed ({exc}): install the optional group "
            f"(`uv sync --group mlflow`), or unset {TRACKING_URI_ENV} to train without tracking"
        ) from None


class Tracker:
    """Logs trained models to one MLflow tracking server."""

    def __init__(self, tracking_uri: str):
        os.environ.setdefault(TELEMETRY_ENV, "true")  # no usage analytics calls, as for BentoML
        import mlflow

        self.tracking_uri = tracking_uri
        # The fluent API (needed by mlflow.sklearn.log_model) reads the process-wide URI.
        mlflow.set_tracking_uri(tracking_uri)
        self.client: MlflowClient = mlflow.MlflowClient(tracking_uri)

    def experiment_id(self, name: str) -> str:
        """The id of the experiment named ``name``, created if missing (by whichever process is first)."""
        from mlflow.exceptions import MlflowException

        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        try:
            return self.client.create_experiment(name)
        except MlflowException:  # another training run created it meanwhile
            experiment = self.client.get_experiment_by_name(name)
            if experiment is None:
                raise
            return experiment.experiment_id

    def log_model(
        self,
        spec: DatasetSpec,
        trained: TrainedModel,
        split: Split,
        *,
        seed: int,
        cv_folds: int,
        grid_name: str,
        grid: dict[str, list[Any]],
        data_sha256: str,
        figures: list[Path],
    ) -> str:
        """Log one trained model as a finished run of the dataset's experiment; returns the run id.

        Tags: ``dataset``, ``algorithm``, ``train_data_sha256`` (the fitted rows' fingerprint, as in the
        store metadata) and ``data_sha256`` (the whole data the run started from). ``bentoml_tag`` is
        added by :meth:`tag_saved` once the model is saved (a dry run saves nothing).
        """
        import mlflow

        tags = {
            "dataset": spec.name,
            "algorithm": trained.algorithm,
            "train_data_sha256": split.train_sha256,
            "data_sha256": data_sha256,
        }
        with mlflow.start_run(
            experiment_id=self.experiment_id(spec.name), run_name=trained.algorithm, tags=tags
        ) as run:
            mlflow.log_params(_params(trained, split, seed=seed, cv_folds=cv_folds, grid_name=grid_name))
            mlflow.log_param("grid_values", json.dumps(grid, sort_keys=True, default=str))
            mlflow.log_metrics({**trained.metrics, "training_seconds": trained.training_seconds})
            for figure in figures:
                mlflow.log_artifact(str(figure), artifact_path=FIGURES_ARTIFACT)
            self._log_pipeline(trained, split)
        return run.info.run_id

    @staticmethod
    def _log_pipeline(trained: TrainedModel, split: Split) -> None:
        """The fitted Pipeline as an MLflow model whose signature names the dataset's input columns.

        Saved in MLflow's default skops format, which refuses to load types it was not told to
        trust: the types of a Pipeline this process has just fitted are trusted by construction.
        """
        import mlflow
        import skops.io
        from mlflow.models import infer_signature

        example = split.X_test.head(EXAMPLE_ROWS)
        mlflow.sklearn.log_model(
            trained.pipeline,
            name=MODEL_ARTIFACT,
            signature=infer_signature(example, trained.pipeline.predict(example)),
            input_example=example,
            pip_requirements=[f"{name}=={importlib.metadata.version(name)}" for name in MODEL_REQUIREMENTS],
            skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(trained.pipeline)),
        )

    def tag_saved(self, run_id: str, bentoml_tag: str) -> None:
        """Record on the run the model store tag the model was saved under."""
        self.client.set_tag(run_id, "bentoml_tag", bentoml_tag)


def _params(
    trained: TrainedModel, split: Split, *, seed: int, cv_folds: int, grid_name: str
) -> dict[str, Any]:
    """The best hyper-parameters under their grid names, and the run's facts (``None`` as ``None``)."""
    facts = {
        "seed": seed,
        "cv_folds": cv_folds,
        "grid": grid_name,
        "train_rows": len(split.X_train),
        "test_rows": len(split.X_test),
    }
    return {**{name: str(value) for name, value in trained.hyperparameters.items()}, **facts}
