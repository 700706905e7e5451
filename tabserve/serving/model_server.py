"""The serving core: every servable model of one dataset in memory, answering with the active one.

Nothing here knows about HTTP; the BentoML service in ``service.py`` wires it to routes.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tabserve.codecs.columns import Columns, columns_from_rows
from tabserve.codecs.csv_io import predictions_csv, read_csv, validated_columns
from tabserve.datasets import DatasetSpec
from tabserve.errors import AmbiguousSelector, ModelNotFound, ModelRefused, NoModelAvailable, WrongDataset
from tabserve.serving.engines import Engine
from tabserve.store.registry import ModelRecord, default_record, list_records, load_engine, resolve
from tabserve.store.state import ModelChoice

logger = logging.getLogger(__name__)


def tune_garbage_collector() -> None:
    """Keep Python's cycle collector off the request path.

    A 10,000-row batch allocates ~100,000 objects, which triggered full collections over every
    object the server had loaded: 100-370 ms per request instead of ~130 ms. Freezing what start-up
    created and collecting the young generation less often keeps batches steady.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


@dataclass(frozen=True)
class LoadedModel:
    record: ModelRecord
    engine: Engine

    @property
    def tag(self) -> str:
        return self.record.tag

    @property
    def classes(self) -> tuple[str, ...]:
        """The classes in the order of the model's probability columns."""
        return tuple(self.record.metadata["classes"])


class ModelServer:
    """Loads all of a dataset's models from the store and predicts with the active one.

    The active model is the one named in the shared state (a file, or Redis: ``tabserve.store.state``),
    or, when none was chosen, the store's default (see :func:`tabserve.store.registry.default_record`).
    """

    def __init__(self, spec: DatasetSpec, state: ModelChoice):
        self.spec = spec
        self.state = state
        self._lock = threading.Lock()
        self._models: dict[str, LoadedModel] = {}
        self._refused: dict[str, str] = {}
        self._default: LoadedModel | None = None
        self._unknown_choice: str | None = None
        self.refresh()

    def refresh(self) -> list[ModelRecord]:
        """Re-read the store and load any model not seen before."""
        with self._lock:
            records = list_records(self.spec.name)
            for record in records:
                if record.tag not in self._models and record.tag not in self._refused:
                    self._load(record)
            loadable = [r for r in records if r.tag in self._models]
            default = default_record(loadable)
            self._default = self._models[default.tag] if default else None
            return records

    def _load(self, record: ModelRecord) -> None:
        try:
            engine = load_engine(self.spec, record)  # checks classes and sha256 first
        except Exception as exc:  # a broken model must not take the others down
            self._refused[record.tag] = str(exc)
            logger.error("Refusing model %s: %s", record.tag, exc)
            return
        self._models[record.tag] = LoadedModel(record, engine)
        logger.info("Loaded model %s (%s, %s)", record.tag, record.algorithm, engine.name)

    def active(self) -> LoadedModel | None:
        """The model that answers now; checks the shared choice (a ``stat`` or a memory read) on every call.

        A chosen model that was refused at load time (tampered, corrupt) answers nothing: the server
        fails closed until someone selects another. A chosen model that is no longer in the store (an
        image rebuilt with new models) gives way to the default, with a warning.
        """
        chosen = self.state.read()
        if chosen is None:
            return self._default
        if chosen not in self._models and chosen not in self._refused and chosen != self._unknown_choice:
            self.refresh()  # another worker may have selected a model trained after we started
            if chosen not in self._models and chosen not in self._refused:
                self._unknown_choice = chosen
                logger.warning("Chosen model %s is not in the store; using the default", chosen)
        if chosen in self._refused:
            return None
        return self._models.get(chosen, self._default)

    @property
    def ready(self) -> bool:
        """Whether a model can answer (BentoML's /readyz)."""
        return self.active() is not None

    def active_runs_inline(self) -> bool:
        """Whether the active model's engine is cheap enough to run on the event loop."""
        model = self.active()
        return model is not None and model.engine.inline

    def require_active(self) -> LoadedModel:
        model = self.active()
        if model is not None:
            return model
        chosen = self.state.read()
        if chosen is not None and chosen in self._refused:
            raise NoModelAvailable(
                f"the selected model {chosen} was refused when loading ({self._refused[chosen]}); "
                "select another with POST /select_model"
            )
        name = self.spec.name
        raise NoModelAvailable(f"no {name} model is loaded; train with `python train.py --dataset {name}`")

    @property
    def has_models(self) -> bool:
        """Whether the store held any model of this dataset (loadable or refused) when last read."""
        return bool(self._models or self._refused)

    def select(self, selector: str) -> LoadedModel:
        """Make the model ``selector`` names the active one, for every worker and after restarts.

        A selector that names another dataset's model is refused as such, not as unknown.
        """
        try:
            record = resolve(selector, self.refresh())
        except ModelNotFound:
            elsewhere = _resolve_or_none(selector, list_records(None))
            if elsewhere is not None and elsewhere.dataset != self.spec.name:
                raise WrongDataset(elsewhere.tag, elsewhere.dataset, self.spec.name) from None
            raise
        if record.tag in self._refused:
            raise ModelRefused(record.tag, self._refused[record.tag])
        self.state.write(record.tag)
        self._unknown_choice = None
        return self._models[record.tag]

    def listing(self) -> dict[str, Any]:
        """Every model version, newest first, which one answers and whether each can (``GET /models``)."""
        records = self.refresh()  # includes models trained since the server started
        active = self.active()
        active_tag = active.tag if active else None
        return {
            "active": active_tag,
            "selected": self.state.read(),
            "models": [
                {
                    "tag": r.tag,
                    "algorithm": r.algorithm,
                    "metrics": r.metrics,
                    "created": r.created,
                    "active": r.tag == active_tag,
                    "servable": r.tag not in self._refused,
                    "refused": self._refused.get(r.tag),
                }
                for r in records
            ],
        }

    def predict_proba(self, columns: Columns) -> tuple[LoadedModel, np.ndarray]:
        """Class probabilities (in the dataset's class order) and the model that made them."""
        model = self.require_active()
        return model, model.engine.predict_proba(columns)

    def predict_rows(self, rows: Sequence[Any]) -> list[dict[str, Any]]:
        """Predict validated row objects (one batch, one model) into response objects."""
        model, probabilities = self.predict_proba(columns_from_rows(self.spec, rows))
        return self.format_predictions(model, probabilities)

    def predict_csv(self, data: bytes) -> tuple[str, str]:
        """A CSV upload with predictions appended, and the tag of the model that made them."""
        table = read_csv(self.spec, data)
        model, probabilities = self.predict_proba(validated_columns(self.spec, table))
        return model.tag, predictions_csv(self.spec, model.classes, table, probabilities)

    def format_predictions(self, model: LoadedModel, probabilities: np.ndarray) -> list[dict[str, Any]]:
        """One response object per row: class, confidence, every class probability, model tag."""
        classes, tag = model.classes, model.tag
        target = self.spec.target
        best = probabilities.argmax(axis=1).tolist()
        return [
            {
                target: classes[index],
                "confidence": row[index],
                "probabilities": dict(zip(classes, row, strict=True)),
                "model": tag,
            }
            for index, row in zip(best, probabilities.tolist(), strict=True)
        ]


def _resolve_or_none(selector: str, records: list[ModelRecord]) -> ModelRecord | None:
    try:
        return resolve(selector, records)
    except (ModelNotFound, AmbiguousSelector):
        return None
