"""Adaptive batching for single-row requests, using BentoML's own dispatcher in-process.

A ``batchable=True`` BentoML API only batches calls that arrive as lists, and reaching it from a
single-row API goes through an HTTP self-proxy that fails under bursts (see the README). The same
``CorkDispatcher`` that powers batchable APIs, used directly, gives single-row endpoints adaptive
batching with no extra hop. It is an internal BentoML class: the version is pinned and
``tests/test_batching.py`` covers the behaviour relied on.

One defect is worked around: the dispatcher "corks" (holds a lone request back) for as long as the
average wait it has observed, and those waits feed the same average. After one burst of traffic a
single request then waited 30-40 ms, decaying over minutes. :class:`NoCorkOptimizer` keeps BentoML's
cost model but sets the learned wait to zero: a batch starts as soon as the previous one ends, and
requests arriving meanwhile form the next batch (with one batch at a time on a CPU, waiting longer
never pays).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import anyio
from bentoml._internal.marshal.dispatcher import CorkDispatcher, Optimizer

from tabserve.http.api_errors import Overloaded

Row = TypeVar("Row")
Result = TypeVar("Result")


def _shed() -> None:
    raise Overloaded()


class NoCorkOptimizer(Optimizer):
    """BentoML's batch-cost model, without the self-reinforcing wait before dispatching."""

    def trigger_refresh(self) -> None:
        super().trigger_refresh()
        self.wait = 0


class AdaptiveBatcher(Generic[Row, Result]):
    """Await one row's result while concurrent rows are grouped into one call of ``predict_rows``.

    ``predict_rows`` is synchronous. When ``inline()`` says the work is tiny (the ONNX fast path:
    tens of microseconds per batch) it runs on the event loop, which was measured ~25% faster than
    a thread hand-off; otherwise (the scikit-learn fallback: milliseconds) it runs in a worker
    thread so the loop keeps accepting requests. A row still queued after ``max_latency_ms`` is
    shed with 503.
    """

    def __init__(
        self,
        predict_rows: Callable[[Sequence[Row]], Sequence[Result]],
        *,
        inline: Callable[[], bool],
        max_batch_size: int,
        max_latency_ms: int,
    ):
        self._dispatcher: CorkDispatcher = CorkDispatcher(
            max_latency_ms, max_batch_size, fallback=_shed, get_batch_size=lambda _row: 1
        )
        self._dispatcher.optimizer = NoCorkOptimizer(self._dispatcher.max_latency)

        async def run(rows: Sequence[Row]) -> Sequence[Result]:
            if inline():
                return predict_rows(rows)
            return await anyio.to_thread.run_sync(predict_rows, rows)

        self._call = self._dispatcher(run)

    async def __call__(self, row: Row) -> Result:
        return await self._call(row)
