"""Where training keeps what it is given and what it makes: uploads, job folders and reports.

Kept free of heavy imports: the service resolves these folders when its module is imported.
"""

from __future__ import annotations

from pathlib import Path

from tabserve.store.folders import configured_folder

DATA_DIR_ENV = "TABSERVE_DATA_DIR"
#: Every run's report folder is under this, inside the data folder: ``reports/<dataset>/<run>/``.
REPORTS_FOLDER = "reports"


def default_data_dir() -> Path:
    """``$TABSERVE_DATA_DIR``, else a folder beside the model store (``$BENTOML_HOME``), like the state."""
    return configured_folder(DATA_DIR_ENV, "tabserve-data")


def reports_dir() -> Path:
    """Where training runs write their reports (the service shows them at ``/reports/``)."""
    return default_data_dir() / REPORTS_FOLDER
