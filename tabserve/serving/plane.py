"""One worker's data plane: every dataset's models and adaptive batcher, by dataset name.

The HTTP layer calls this and nothing below it; this knows nothing of HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tabserve.datasets import DatasetSpec
from tabserve.serving.batching import AdaptiveBatcher
from tabserve.serving.model_server import ModelServer
from tabserve.store.state import StateStore

#: Largest number of single-row requests answered by one model call.
MAX_BATCH_SIZE = 64
#: A queued single-row request older than this is shed with 503 instead of piling up.
MAX_LATENCY_MS = 10_000


class DataPlane:
    """Each dataset's :class:`ModelServer` (``plane[name]``) and its batcher for single rows.

    Each dataset has its own active-model choice in ``state`` (a file or a Redis key per dataset), so
    selecting a breast-cancer model never changes what answers for penguins.
    """

    def __init__(self, specs: Iterable[DatasetSpec], state: StateStore):
        self.servers: dict[str, ModelServer] = {}
        self._batchers: dict[str, AdaptiveBatcher] = {}
        for spec in specs:
            server = ModelServer(spec, state.choice(spec.name))
            self.servers[spec.name] = server
            self._batchers[spec.name] = AdaptiveBatcher(
                server.predict_rows,
                inline=server.active_runs_inline,
                max_batch_size=MAX_BATCH_SIZE,
                max_latency_ms=MAX_LATENCY_MS,
            )

    def __getitem__(self, dataset: str) -> ModelServer:
        return self.servers[dataset]

    async def predict(self, dataset: str, row: Any) -> dict[str, Any]:
        """One row's prediction; concurrent rows of the same dataset share one model call."""
        return await self._batchers[dataset](row)

    @property
    def ready(self) -> bool:
        """Some dataset has models, and every dataset that has any can answer (BentoML's /readyz)."""
        trained = [server for server in self.servers.values() if server.has_models]
        return bool(trained) and all(server.ready for server in trained)
