"""Inference engines: the ONNX Runtime fast path, and the scikit-learn Pipeline as the fallback.

Both take the Pipeline's input as columns (see :mod:`tabserve.codecs.columns`) and
return probabilities with one column per class, in the dataset's class order.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol

import numpy as np
import onnxruntime as ort

from tabserve.codecs.columns import Columns
from tabserve.datasets import DatasetSpec

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

#: The ONNX output holding one probability column per class.
PROBABILITIES = "probabilities"
#: Rows per ONNX call. Bounds the memory of one call (k-NN's distance matrix for 100,000 rows took
#: 220 MB, which ONNX Runtime's arena then kept) at no measurable cost in speed.
CHUNK_ROWS = 10_000
#: From this many rows a call uses every core (see :class:`OnnxEngine`).
WIDE_ROWS = 2_000


def onnx_feeds(spec: DatasetSpec, columns: Columns) -> dict[str, np.ndarray]:
    """Pipeline-input columns as ONNX inputs of shape (n, 1), one per column, named like it."""
    # copy=False: the columns already have these dtypes, so no per-batch copies on the hot path.
    feeds = {f.name: columns[f.name].astype(np.float64, copy=False).reshape(-1, 1) for f in spec.numeric}
    feeds.update(
        {f.name: columns[f.name].astype(object, copy=False).reshape(-1, 1) for f in spec.categorical}
    )
    return feeds


class Engine(Protocol):
    name: str
    #: Fast enough (microseconds per batch) to run on the server's event loop.
    inline: bool

    def predict_proba(self, columns: Columns) -> np.ndarray: ...


class SklearnEngine:
    """The saved Pipeline itself: ~3-13 ms per call, whatever the batch size up to thousands."""

    name = "sklearn"
    inline = False

    def __init__(self, spec: DatasetSpec, pipeline: Pipeline):
        # The Pipeline reads DataFrames: import pandas now, as the model loads, never lazily from a
        # request thread (a half-imported pandas breaks BentoML's type checks in other threads).
        from tabserve.codecs.frames import frame_from_columns

        self.spec, self.pipeline = spec, pipeline
        self._frame = frame_from_columns

    def predict_proba(self, columns: Columns) -> np.ndarray:
        return self.pipeline.predict_proba(self._frame(self.spec, columns))


class OnnxEngine:
    """The Pipeline converted to ONNX: tens of microseconds per call.

    Two sessions over the same model: one thread for the small batches of single-row requests (it
    runs on the event loop, and more threads only add hand-off cost), and one thread per core for
    big batches, where splitting a tree ensemble's work halves the time on two cores.
    """

    name = "onnxruntime"
    inline = True

    def __init__(self, spec: DatasetSpec, model: bytes):
        self.spec = spec
        self.session = self._session(model, threads=1, arena=True)
        cores = len(os.sched_getaffinity(0))
        self.wide_session = self._session(model, threads=cores, arena=False) if cores > 1 else self.session

    @staticmethod
    def _session(model: bytes, threads: int, arena: bool) -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.enable_cpu_mem_arena = arena
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning on a core the event loop needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def predict_proba(self, columns: Columns) -> np.ndarray:
        rows = len(next(iter(columns.values())))
        if rows > CHUNK_ROWS:
            chunks = range(0, rows, CHUNK_ROWS)
            parts = [{k: v[i : i + CHUNK_ROWS] for k, v in columns.items()} for i in chunks]
            return np.concatenate([self.predict_proba(part) for part in parts])
        session = self.wide_session if rows >= WIDE_ROWS else self.session
        (probabilities,) = session.run([PROBABILITIES], onnx_feeds(self.spec, columns))
        # Tree ensembles sum float32 votes: renormalise in float64 so rows sum to 1 and stay in [0, 1].
        probabilities = np.clip(probabilities.astype(np.float64), 0.0, 1.0)
        return probabilities / probabilities.sum(axis=1, keepdims=True)
