"""Importing a scikit-learn model logged to MLflow (``python models.py import-mlflow``) as a servable version.

A data scientist's model (``mlflow.sklearn.autolog()`` in a notebook, a Pipeline fitted on the dataset's
input columns as pandas gives them) is checked against the dataset (its classes, that it predicts
probabilities for the held-out rows), evaluated on the held-out split for the store's metrics, and
saved through :func:`tabserve.training.saving.save_trained` like a trained model: ONNX fast path when
the conversion passes the parity check, the Pipeline otherwise, with its MLflow provenance recorded.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from sklearn.pipeline import Pipeline

from tabserve.datasets import DatasetSpec
from tabserve.features import MissingAsNaN
from tabserve.training.tuning import Split, TrainedModel, evaluate, split_dataset

if TYPE_CHECKING:
    from tabserve.store.registry import ModelRecord

#: What an algorithm label may look like: it becomes part of the store name ``<dataset>_<algorithm>``.
ALGORITHM_LABEL = re.compile(r"^[a-z0-9]([a-z0-9_]{0,38}[a-z0-9])?$")
#: MLflow retries an unreachable server for minutes by default; a command line should say so sooner.
#: And no usage analytics calls, as for BentoML (both unless the environment says otherwise).
DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}


class ImportRefused(Exception):
    """Why a model cannot be imported, phrased for the person who ran the command."""


def algorithm_label(model: Any) -> str:
    """The snake_case class name of a model's final estimator: ``RandomForestClassifier`` →
    ``random_forest_classifier`` (the trained models' ids have no suffix, so the two never mix)."""
    final = model.steps[-1][1] if isinstance(model, Pipeline) else model
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", type(final).__name__).lower()


def redacted(uri: str) -> str:
    """A tracking URI without the user name and password it may carry: metadata is shown to clients."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


@contextlib.contextmanager
def _mlflow_settings(tracking_uri: str | None) -> Iterator[None]:
    """:data:`DEFAULTS` and, for this command only, loading pickled models (MLflow refuses to by
    default): importing a model is the operator's decision to trust it, as serving it is."""
    changes = {name: value for name, value in DEFAULTS.items() if name not in os.environ}
    changes["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
    if tracking_uri:
        changes["MLFLOW_TRACKING_URI"] = tracking_uri
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def load_logged_model(model_uri: str) -> tuple[Any, dict[str, Any]]:
    """The scikit-learn model behind ``model_uri`` and its provenance (tracking URI, run id, URI)."""
    try:
        import mlflow
        from mlflow.exceptions import MlflowException
    except ImportError as exc:
        raise ImportRefused("MLflow is not installed: run `uv sync --group mlflow` first") from exc
    tracking_uri = mlflow.get_tracking_uri()
    try:
        info = mlflow.models.get_model_info(model_uri)
    except (MlflowException, OSError) as exc:
        raise ImportRefused(
            f"cannot read {model_uri} from the MLflow tracking server {redacted(tracking_uri)}: "
            f"{_first_line(exc)}. Check the model URI (runs:/<run id>/model or models:/<model id>, "
            "as the MLflow UI shows them) and MLFLOW_TRACKING_URI."
        ) from exc
    if "sklearn" not in info.flavors:
        flavors = ", ".join(sorted(info.flavors)) or "none"
        raise ImportRefused(
            f"{model_uri} is not a scikit-learn model (its MLflow flavors: {flavors}); only models "
            "logged with mlflow.sklearn (log_model or autolog) can be imported."
        )
    try:
        model = mlflow.sklearn.load_model(model_uri)
    except (MlflowException, OSError, ImportError, pickle.UnpicklingError) as exc:
        raise ImportRefused(f"cannot load {model_uri}: {_first_line(exc)}") from exc
    provenance = {
        "source": "mlflow",
        "mlflow_tracking_uri": redacted(tracking_uri),
        "mlflow_model_uri": model_uri,
        "mlflow_run_id": info.run_id or "",
        "mlflow_model_id": getattr(info, "model_id", None) or "",
    }
    return model, provenance


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def servable_pipeline(spec: DatasetSpec, model: Any) -> Pipeline:
    """``model`` checked against the dataset, behind a step that gives it missing categories as
    NaN (serving spells them as a sentinel string, which it never saw in training)."""
    if not (hasattr(model, "predict_proba") and hasattr(model, "classes_")):
        raise ImportRefused(
            f"the model ({type(model).__name__}) is not a fitted classifier with predict_proba: "
            "the service answers with class probabilities"
        )
    classes = sorted(str(name) for name in model.classes_)
    if classes != sorted(spec.classes):
        raise ImportRefused(
            f"the model predicts the classes {classes}, the {spec.name} dataset has "
            f"{sorted(spec.classes)}: train it on the {spec.target!r} column's labels"
        )
    columns = [f.name for f in spec.categorical]
    return Pipeline([("missing_as_nan", MissingAsNaN(columns)), ("model", model)])


def _hyperparameters(model: Any) -> dict[str, Any]:
    """The final estimator's own parameters that JSON can hold as they are (the rest as text)."""
    final = model.steps[-1][1] if isinstance(model, Pipeline) else model
    plain = (str, int, float, bool, type(None))
    return {
        name: value if isinstance(value, plain) else repr(value)
        for name, value in final.get_params(deep=False).items()
    }


def _run_seconds(run_id: str) -> float:
    """How long the MLflow run that fitted the model took (0 when it is still open or unknown)."""
    import mlflow

    if not run_id:
        return 0.0
    info = mlflow.MlflowClient().get_run(run_id).info
    return (info.end_time - info.start_time) / 1000 if info.end_time and info.start_time else 0.0


def _evaluated(spec: DatasetSpec, pipeline: Pipeline, split: Split) -> dict[str, float]:
    try:
        return evaluate(pipeline, split.X_test, split.y_test)
    except Exception as exc:  # whatever the user's model raises on our rows, the answer is the same
        raise ImportRefused(
            f"the model cannot predict the {spec.name} dataset's held-out rows ({_first_line(exc)}): "
            f"it must take a pandas DataFrame of the columns {list(spec.input_columns)}"
        ) from exc


def import_logged_model(
    spec: DatasetSpec,
    model_uri: str,
    *,
    algorithm: str | None = None,
    seed: int = 42,
    tracking_uri: str | None = None,
) -> ModelRecord:
    """Import the scikit-learn model at ``model_uri`` into the store as a servable ``spec`` version.

    Metrics are on the held-out split of ``seed`` (train.py's split): rows the model may have been
    fitted on, when its author used the whole dataset.
    """
    from tabserve.training.saving import save_trained

    with _mlflow_settings(tracking_uri):
        model, provenance = load_logged_model(model_uri)
        label = algorithm or algorithm_label(model)
        if not ALGORITHM_LABEL.match(label):
            raise ImportRefused(
                f"{label!r} cannot name a model: use --algorithm with lowercase letters, digits and _"
            )
        pipeline = servable_pipeline(spec, model)
        split = split_dataset(spec, seed)
        metrics = _evaluated(spec, pipeline, split)
        try:
            pickle.dumps(pipeline)
        except Exception as exc:  # any pickling failure means the store cannot keep it
            raise ImportRefused(
                f"the model cannot be pickled for the model store ({_first_line(exc)}): functions "
                "and classes defined in a notebook cannot be loaded by the server; move them to a module"
            ) from exc
        seconds = _run_seconds(provenance["mlflow_run_id"])
        trained = TrainedModel(label, pipeline, metrics, _hyperparameters(model), seconds)
        provenance.update(
            {
                "evaluated_on": f"held-out split of seed {seed}, which the model may have been fitted on",
                "train_rows": None,  # unknown: the model was fitted outside this project
                "train_data_sha256": None,
            }
        )
        return save_trained(
            spec, trained, split, seed=seed, cv_folds=0, grid="none (imported)", provenance=provenance
        )
