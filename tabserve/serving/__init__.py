"""The data plane: models in memory, inference engines and adaptive batching. Knows nothing of HTTP."""
