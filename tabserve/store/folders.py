"""The service's own folders: each set by its environment variable, else beside the model store.

Beside the store (``$BENTOML_HOME``, BentoML's default ``~/bentoml``) so that a temporary
``BENTOML_HOME`` (tests, a second installation) takes the state and data with it.
"""

from __future__ import annotations

import os
from pathlib import Path


def configured_folder(variable: str, beside_store: str) -> Path:
    """``$variable``, else the folder ``beside_store`` inside ``$BENTOML_HOME``."""
    configured = os.environ.get(variable)
    if configured:
        return Path(configured)
    return Path(os.environ.get("BENTOML_HOME") or Path.home() / "bentoml") / beside_store
