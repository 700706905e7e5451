"""The training reports over HTTP: ``GET /reports/<dataset>/<run>/report.html`` and its figures.

A report is written by the training process into the data folder (a volume in a container), where
nobody outside the server's machine could open it; the ``/train`` task's result links it here.
Read-only static files: Starlette's ``StaticFiles`` never serves outside the folder.
"""

from __future__ import annotations

from pathlib import Path

from starlette.staticfiles import StaticFiles

from tabserve.training.folders import reports_dir

REPORTS_PATH = "/reports"


def reports_app() -> StaticFiles:
    # check_dir=False: the folder appears with the first training run, after the server starts.
    return StaticFiles(directory=reports_dir(), check_dir=False)


def report_url(report: str | None) -> str | None:
    """The path the service shows ``report`` (a file under the reports folder) at, if it is there."""
    if report is None:
        return None
    try:
        relative = Path(report).resolve().relative_to(reports_dir().resolve())
    except ValueError:
        return None
    return f"{REPORTS_PATH}/{relative.as_posix()}"
