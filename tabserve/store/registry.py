"""The BentoML model store as a registry of servable classifiers, for any dataset: the read side.

A model is servable for dataset *d* when its store labels say ``dataset: d``. Every saved model
records the sha256 of its files, and loading refuses a file whose hash no longer matches.
Saving lives in :mod:`tabserve.training.saving`, so serving never imports the training stack.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bentoml

from tabserve.datasets import DatasetSpec
from tabserve.errors import AmbiguousSelector, IntegrityError, ModelNotFound
from tabserve.serving.engines import Engine, OnnxEngine, SklearnEngine

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

#: The file inside a model's store folder; the name ``bentoml.sklearn.load_model`` also reads.
MODEL_FILE = "saved_model.pkl"
#: The ONNX conversion beside it, present when it passed the parity check.
ONNX_FILE = "model.onnx"
#: Largest difference in any probability the ONNX fast path may show against the Pipeline.
PARITY_TOLERANCE = 1e-5
MODEL_MODULE = "bentoml.sklearn"
#: The shortest bare version prefix that selects (a shorter one is too likely to be a typo).
MIN_VERSION_PREFIX = 4
LIBRARIES = ("scikit-learn", "numpy", "pandas", "joblib", "bentoml", "skl2onnx", "onnxruntime")


def model_name(dataset: str, algorithm: str) -> str:
    """One store name per dataset and algorithm, so versions line up in ``bentoml models list``."""
    return f"{dataset}_{algorithm}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    versions = {name: importlib.metadata.version(name) for name in LIBRARIES}
    versions["python"] = platform.python_version()
    return versions


@dataclass(frozen=True)
class ModelRecord:
    """What the store knows about one model version (read from its ``model.yaml``)."""

    tag: str
    name: str
    version: str
    dataset: str
    algorithm: str
    created: datetime
    path: Path
    metadata: dict[str, Any]

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self.metadata.get("metrics", {}))

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The tuned values, None included: stored as JSON text (older versions: a mapping)."""
        stored = self.metadata.get("hyperparameters", {})
        return json.loads(stored) if isinstance(stored, str) else dict(stored)

    @classmethod
    def from_model(cls, model: bentoml.Model) -> ModelRecord:
        return cls(
            tag=str(model.tag),
            name=model.tag.name,
            version=str(model.tag.version),
            dataset=model.info.labels.get("dataset", ""),
            algorithm=model.info.labels.get("algorithm", ""),
            created=model.info.creation_time,
            path=Path(model.path),
            metadata=dict(model.info.metadata),
        )

    def info(self) -> dict[str, Any]:
        """The public description served by /model_info and /select_model."""
        md = self.metadata
        return {
            "tag": self.tag,
            "dataset": self.dataset,
            "algorithm": self.algorithm,
            "created": self.created,
            "metrics": self.metrics,
            "hyperparameters": self.hyperparameters,
            "classes": md.get("classes", []),
            "input_schema": md.get("input_schema", {}),
            "training": md.get("training", {}),
            "model_sha256": md.get("model_sha256", ""),
            "serving": md.get("serving", {}),
        }


def list_records(dataset: str | None) -> list[ModelRecord]:
    """Every version labelled with ``dataset`` (any dataset's for None), newest first."""
    records = [
        ModelRecord.from_model(model)
        for model in bentoml.models.list()
        if (label := model.info.labels.get("dataset")) and dataset in (None, label)
    ]
    return sorted(records, key=lambda r: r.created, reverse=True)


def _verified_path(record: ModelRecord, filename: str, expected: str | None) -> Path:
    """The path of one of a model's files, after checking it against its recorded sha256."""
    path = record.path / filename
    if not expected:
        raise IntegrityError(f"{record.tag} has no recorded sha256 for {filename}; retrain it with train.py")
    if not path.is_file():
        raise IntegrityError(f"{record.tag}: {filename} is missing from {record.path}")
    actual = sha256_file(path)
    if actual != expected:
        raise IntegrityError(
            f"{record.tag}: {filename} has sha256 {actual[:12]}…, recorded {expected[:12]}…; "
            "the file was modified or corrupted, so it is not loaded"
        )
    return path


def _load_pipeline_file(path: Path) -> Pipeline:
    import joblib  # imports scikit-learn: only paid by models without the ONNX fast path
    from threadpoolctl import threadpool_limits

    pipeline = joblib.load(path)
    # One OpenMP/BLAS thread per worker: more only fight the other worker and the event loop.
    threadpool_limits(limits=1)
    return pipeline


def load_pipeline(record: ModelRecord) -> Pipeline:
    """Load a model's Pipeline after checking its file against the sha256 recorded at save time."""
    return _load_pipeline_file(_verified_path(record, MODEL_FILE, record.metadata.get("model_sha256")))


def _served_file(record: ModelRecord) -> tuple[str, str | None]:
    """The file the server runs a model from, and its recorded sha256: the ONNX conversion when it
    passed the parity check at save time, else the pickled Pipeline."""
    serving = record.metadata.get("serving", {})
    if serving.get("engine") == OnnxEngine.name:
        return ONNX_FILE, serving.get("onnx_sha256")
    return MODEL_FILE, record.metadata.get("model_sha256")


def verify(spec: DatasetSpec, record: ModelRecord) -> Path:
    """Every check made before a model is loaded, without loading it; returns the file to load.

    Raises ``ValueError`` when the model predicts other classes than the dataset declares and
    :class:`IntegrityError` when the file is missing or differs from its recorded sha256.
    """
    classes = record.metadata.get("classes", ())
    if sorted(classes) != sorted(spec.classes):  # in the model's own order: scikit-learn sorts them
        raise ValueError(f"its classes {list(classes)} differ from {list(spec.classes)}")
    return _verified_path(record, *_served_file(record))


def refusal(spec: DatasetSpec, record: ModelRecord) -> str | None:
    """Why the server would refuse to load a model (see :func:`verify`), or None if it would load it.

    Cheap (one hash of one file), so listings can show which versions are servable.
    """
    try:
        verify(spec, record)
    except (ValueError, IntegrityError) as exc:
        return str(exc)
    return None


def load_engine(spec: DatasetSpec, record: ModelRecord) -> Engine:
    """The fastest verified way to run a model: its ONNX conversion if it has one, else the Pipeline."""
    path = verify(spec, record)
    if path.name == ONNX_FILE:
        return OnnxEngine(spec, path.read_bytes())
    return SklearnEngine(spec, _load_pipeline_file(path))  # the fallback


def latest(records: list[ModelRecord]) -> ModelRecord:
    return max(records, key=lambda r: r.created)


def resolve(selector: str, records: list[ModelRecord]) -> ModelRecord:
    """Find the model a user means by a full tag, a tag with a version prefix, a name, an algorithm
    or a bare version prefix.

    A name means its latest version and an algorithm id the latest model trained with it. A bare
    version prefix (what users copy from ``bentoml models list``) is tried only when nothing is
    named so exactly, must be at least :data:`MIN_VERSION_PREFIX` characters long and match one version.
    """
    selector = selector.strip()
    for record in records:
        if record.tag == selector:
            return record
    candidates: dict[str, ModelRecord] = {}
    if ":" in selector:
        name, _, prefix = selector.partition(":")
        for record in records:
            if record.name == name and record.version.startswith(prefix):
                candidates[record.tag] = record
    else:
        for attribute in ("name", "algorithm"):
            matching = [r for r in records if getattr(r, attribute) == selector]
            if matching:
                best = latest(matching)
                candidates[best.tag] = best
        if not candidates and len(selector) >= MIN_VERSION_PREFIX:
            candidates = {r.tag: r for r in records if r.version.startswith(selector)}
    if not candidates:
        choices = sorted(
            {r.tag for r in records} | {r.name for r in records} | {r.algorithm for r in records}
        )
        raise ModelNotFound(selector, choices)
    if len(candidates) > 1:
        raise AmbiguousSelector(selector, sorted(candidates))
    return next(iter(candidates.values()))


def default_record(records: list[ModelRecord]) -> ModelRecord | None:
    """The model served when nobody chose one: among each algorithm's latest version, the best
    held-out macro F1, then the lowest log loss, then the newest."""
    newest_per_algorithm: dict[str, ModelRecord] = {}
    for record in records:
        current = newest_per_algorithm.get(record.algorithm)
        if current is None or record.created > current.created:
            newest_per_algorithm[record.algorithm] = record
    if not newest_per_algorithm:
        return None

    def rank(record: ModelRecord) -> tuple[float, float, float]:
        metrics = record.metrics
        return (
            metrics.get("f1_macro", 0.0),
            -metrics.get("log_loss", float("inf")),
            record.created.timestamp(),
        )

    return max(newest_per_algorithm.values(), key=rank)
