"""The adaptive batcher built on BentoML's internal CorkDispatcher (pinned version: covered here)."""

import asyncio
import threading

import pytest

from tabserve.http.api_errors import Overloaded
from tabserve.serving.batching import AdaptiveBatcher, NoCorkOptimizer


def make(inline: bool, calls: list, fail: bool = False) -> AdaptiveBatcher:
    def predict_rows(rows):
        calls.append((len(rows), threading.current_thread() is threading.main_thread()))
        if fail:
            raise RuntimeError("model broke")
        return [row * 10 for row in rows]

    return AdaptiveBatcher(predict_rows, inline=lambda: inline, max_batch_size=16, max_latency_ms=10_000)


@pytest.mark.parametrize("inline", [True, False])
def test_concurrent_rows_are_batched_and_answered_in_order(inline):
    calls: list = []
    batcher = make(inline, calls)

    async def scenario():
        return await asyncio.gather(*(batcher(i) for i in range(100)))

    assert asyncio.run(scenario()) == [i * 10 for i in range(100)]
    assert sum(size for size, _ in calls) == 100
    assert max(size for size, _ in calls) > 1  # some rows shared a model call
    assert max(size for size, _ in calls) <= 16
    assert {on_loop for _, on_loop in calls} == {inline}  # inline on the loop, else a worker thread


def test_model_errors_reach_every_caller_of_the_batch():
    batcher = make(True, [], fail=True)

    async def scenario():
        return await asyncio.gather(*(batcher(i) for i in range(5)), return_exceptions=True)

    results = asyncio.run(scenario())
    assert all(isinstance(r, RuntimeError) for r in results)


def test_the_learned_wait_stays_zero_so_lone_requests_are_not_held_back():
    optimizer = NoCorkOptimizer(10.0)
    for _ in range(20):
        optimizer.log_outbound(n=8, wait=0.05, duration=0.001)
    optimizer.trigger_refresh()
    assert optimizer.wait == 0
    assert optimizer.o_a > 0  # BentoML's cost model is still fitted


def test_shedding_raises_a_503_error():
    from tabserve.serving.batching import _shed

    with pytest.raises(Overloaded) as caught:
        _shed()
    assert caught.value.status == 503
