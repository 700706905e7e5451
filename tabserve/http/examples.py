"""Example 200 bodies for the OpenAPI document, so the Swagger page shows what answers look like.

Without them Swagger UI makes bodies up from the schemas (``"additionalProp1"``, ``"string"``),
which tells a reader nothing. They are built from the dataset spec (classes, input schema, model
names), and the CSV answer by the code that writes the real one. tests/test_swagger_page.py checks
every example against its response model, and against a real server's answers: a trained model
gives the request example rows the labels named here, and its records have these keys.

Everything is built when /docs.json is asked for, not at import: ``bentoml serve`` imports the
service in its supervisor too, which needs none of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tabserve.datasets import DatasetSpec
from tabserve.http.routes import Route

#: The examples' answering probability of their label; the other classes share the rest.
CONFIDENCE = 0.97
#: The example models were never trained; their versions, times and hashes look like real ones.
SHA256 = "6ebe67bc4815eee78b1d5050f2c767a5ad0f8aad6ec0787755f66a79eb0d2df7"


@dataclass(frozen=True)
class ExampleModel:
    """A model version as train.py records it: tuned hyper-parameters and held-out metrics."""

    algorithm: str
    version: str
    created: str
    hyperparameters: dict[str, Any]
    metrics: dict[str, float]


#: The active model of the examples, and a second, inactive one for the model list.
MODELS = (
    ExampleModel(
        "svm",
        "mew5tbxilwjx2ax4",
        "2026-11-24T23:18:39.782306Z",
        {"estimator__C": 1.0, "estimator__gamma": "scale"},
        {"accuracy": 1.0, "f1_macro": 1.0, "roc_auc": 1.0, "log_loss": 0.0213},
    ),
    ExampleModel(
        "random_forest",
        "male3zhilwjx2ax4",
        "2026-11-24T23:18:37.120554Z",
        {"n_estimators": 200, "max_depth": None, "min_samples_leaf": 1},
        {"accuracy": 0.9855, "f1_macro": 0.9829, "roc_auc": 0.9998, "log_loss": 0.0492},
    ),
)
#: Cross-validation metrics, as train.py records them beside the held-out ones.
CV_METRICS = {"cv_f1_macro_mean": 0.9921, "cv_f1_macro_std": 0.0101}
#: The model the /select_model request example selects.
SELECTED = "random_forest"
#: The report folder of the examples' training run, as training names them (its UTC start).
REPORT_RUN = "2026-11-24T101500.123456Z"
#: The training task of the examples, as BentoML names tasks (a uuid4 in hex).
TASK_ID = "5f0c8a3e9b2d4c1f8e7a6b5c4d3e2f10"


def metrics(spec: DatasetSpec, model: ExampleModel) -> dict[str, float]:
    """A model's metrics under the names train.py gives them for ``spec``'s number of classes."""
    auc = "roc_auc" if len(spec.classes) == 2 else "roc_auc_ovr"
    named = {auc if name == "roc_auc" else name: value for name, value in model.metrics.items()}
    return {**named, **CV_METRICS}


@dataclass(frozen=True)
class RouteExamples:
    """A route's request example (None where it takes none) and its 200 body."""

    request: Any
    response: Any


def examples(route: Route) -> RouteExamples:
    """The examples of ``route``, from its dataset's declared example row and the class it has."""
    answers = ResponseExamples(route.spec)
    row = route.spec.example
    return {
        "predict": lambda: RouteExamples(row, answers.prediction()),
        "predict_batch": lambda: RouteExamples({route.spec.rows_noun: [row]}, answers.batch_prediction()),
        "predict_csv": lambda: RouteExamples(None, answers.csv()),
        "models": lambda: RouteExamples(None, answers.model_list()),
        "model_info": lambda: RouteExamples(None, answers.model_info()),
        "select_model": lambda: RouteExamples({"model": SELECTED}, answers.model_info(SELECTED)),
    }[route.operation.name]()


def task_example(route: Route, endpoint: str) -> RouteExamples:
    """The 200 body of one of a training task's endpoints (:data:`tabserve.http.routes.TASK_ENDPOINTS`)."""
    status = {"submit": "in_progress", "retry": "in_progress", "cancel": "canceled"}
    if endpoint == "get":
        return RouteExamples(None, ResponseExamples(route.spec).training_outcome())
    if endpoint == "status":
        times = {"created_at": "2026-11-25T02:22:40", "executed_at": "2026-11-25T02:22:40"}
        return RouteExamples(None, {"task_id": TASK_ID, "status": "completed", **times})
    return RouteExamples(None, {"task_id": TASK_ID, "status": status[endpoint]})


@dataclass(frozen=True)
class ResponseExamples:
    """The answers to ``spec``'s example row, which a trained model gives its ``example_class``."""

    spec: DatasetSpec

    @property
    def label(self) -> str:
        return self.spec.example_class or self.spec.classes[0]

    def tag(self, model: ExampleModel) -> str:
        return f"{self.spec.name}_{model.algorithm}:{model.version}"

    @property
    def active(self) -> str:
        return self.tag(MODELS[0])

    def probabilities(self) -> dict[str, float]:
        rest = round((1 - CONFIDENCE) / (len(self.spec.classes) - 1), 4)
        return {name: CONFIDENCE if name == self.label else rest for name in self.spec.classes}

    def prediction(self) -> dict[str, Any]:
        """The /predict answer for the example row."""
        return {
            self.spec.target: self.label,
            "confidence": CONFIDENCE,
            "probabilities": self.probabilities(),
            "model": self.active,
        }

    def batch_prediction(self) -> dict[str, Any]:
        """The /predict_batch answer for the example row."""
        return {"predictions": [self.prediction()], "model": self.active}

    def csv(self) -> str:
        """The /predict_csv answer for the example row, written by the code that writes the real one."""
        import numpy as np

        from tabserve.codecs.csv_io import predictions_csv, read_csv

        names = [feature.name for feature in self.spec.fields_in_display_order]
        lines = [",".join(names), ",".join(_cell(self.spec.example.get(name)) for name in names)]
        table = read_csv(self.spec, "\n".join(lines).encode())
        probabilities = np.array([list(self.probabilities().values())])
        return predictions_csv(self.spec, self.spec.classes, table, probabilities)

    def model_info(self, algorithm: str | None = None) -> dict[str, Any]:
        """The /model_info answer (the active model's record), or /select_model's for ``algorithm``."""
        from tabserve.store.registry import library_versions

        model = next(m for m in MODELS if m.algorithm == algorithm) if algorithm else MODELS[0]
        return {
            "tag": self.tag(model),
            "dataset": self.spec.name,
            "algorithm": model.algorithm,
            "created": model.created,
            "metrics": metrics(self.spec, model),
            "hyperparameters": model.hyperparameters,
            "classes": list(self.spec.classes),
            "input_schema": self.spec.feature_schema(),
            "training": {
                "seed": 42,
                "cv_folds": 5,
                "grid": "full",
                "train_rows": 275,
                "test_rows": 69,
                "train_data_sha256": SHA256,
                "training_seconds": 4.212,
                "libraries": library_versions(),
            },
            "model_sha256": SHA256,
            "serving": {
                "engine": "onnxruntime",
                "parity_max_abs_diff": 2.4e-07,
                "parity_rows": 369,
                "onnx_sha256": SHA256,
            },
        }

    def training_outcome(self) -> dict[str, Any]:
        """A finished training task's result (``/train/get``): an upload trained two models."""
        return {
            "dataset": self.spec.name,
            "grid": "quick",
            "seed": 42,
            "cv_folds": 5,
            "train_rows": 275,
            "test_rows": 69,
            "train_data_sha256": SHA256,
            "data_sha256": SHA256,
            "test_data_sha256": None,
            "models": [
                {
                    "tag": self.tag(model),
                    "algorithm": model.algorithm,
                    "metrics": metrics(self.spec, model),
                    "hyperparameters": model.hyperparameters,
                    "training_seconds": 0.42,
                    "engine": "onnxruntime",
                    "mlflow_run_id": None,
                }
                for model in MODELS
            ],
            "activated": self.active,
            "report": f"/home/bentoml/data/reports/{self.spec.name}/{REPORT_RUN}/report.html",
            "report_url": f"/reports/{self.spec.name}/{REPORT_RUN}/report.html",
        }

    def model_list(self) -> dict[str, Any]:
        """The /models answer: two servable models, the first active by default (none selected)."""
        models = [
            {
                "tag": self.tag(model),
                "algorithm": model.algorithm,
                "metrics": metrics(self.spec, model),
                "created": model.created,
                "active": model is MODELS[0],
                "servable": True,
                "refused": None,
            }
            for model in MODELS
        ]
        return {"active": self.active, "selected": None, "models": models}


def _cell(value: Any) -> str:
    """A JSON row's value as a CSV cell: empty for unknown, numbers without a needless ``.0``."""
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)
