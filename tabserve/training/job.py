"""One ``/train`` task's training run, in a process of its own: ``python -m tabserve.training.job DIR``.

The service starts this so that training never shares a worker's event loop or GIL: the worker
only waits for the process. ``DIR`` holds ``job.json`` (the plan's options) and the uploaded
``train.csv`` / ``test.csv``; the process writes ``result.json``: ``{"result": ...}`` (a
:class:`~tabserve.training.run.TrainingResult`) or, for data that cannot train, ``{"error": ...}``
with exit status :data:`BAD_DATA`. It runs at the lowest CPU priority, so serving comes first, and
creates :data:`SAVING_MARKER` in ``DIR`` before it saves anything: from then on a cancel lets it
finish, so a run is saved whole or not at all.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

#: Exit status for data that cannot train (the task answers 400 with the message).
BAD_DATA = 2
#: Created in the job folder once models are being saved: a cancel no longer stops the run.
SAVING_MARKER = "saving"
RESULT = "result.json"
FILES = {"train_rows": "train.csv", "test_rows": "test.csv"}
#: prctl(2): the signal this process gets when its parent dies.
PR_SET_PDEATHSIG = 1


def write_job(folder: Path, options: dict[str, Any], files: dict[str, bytes | None]) -> None:
    """Lay out a job folder: the plan's options and each uploaded file (``train_rows``/``test_rows``)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "job.json").write_text(json.dumps(options))
    for key, content in files.items():
        if content is not None:
            (folder / FILES[key]).write_bytes(content)


def main(folder: Path) -> int:
    # Its own process group, so a cancel stops the helpers it starts (GridSearchCV's) too. Not its
    # own session (``start_new_session``): with the kernel's autogroup scheduling a new session
    # shares the CPU equally with the worker's whatever its priority (measured: /predict p99 3.4x
    # idle). Serving first: the lowest priority, so this gets only the CPU the workers leave.
    os.setpgrp()
    os.nice(19)
    _die_with_the_worker()
    from tabserve.datasets import DATASETS
    from tabserve.errors import CsvError
    from tabserve.training.data import check_training_files
    from tabserve.training.run import Progress, TrainingPlan, run_training

    class Log(Progress):
        def tuned(self, trained: Any) -> None:
            print(f"tuned {trained.algorithm} in {trained.training_seconds:.1f}s", flush=True)

        def saving(self) -> None:
            (folder / SAVING_MARKER).touch()

    options = json.loads((folder / "job.json").read_text())
    spec = DATASETS[options.pop("dataset")]
    files = {key: _read(folder / name) for key, name in FILES.items()}
    try:
        train_rows, test_rows = check_training_files(
            spec, files["train_rows"], files["test_rows"], cv_folds=options["cv_folds"]
        )
        plan = TrainingPlan(
            spec,
            tuple(options.pop("algorithms")),
            train_rows=train_rows,
            test_rows=test_rows,
            **options,
        )
        result = run_training(plan, Log())
    except CsvError as exc:
        (folder / RESULT).write_text(json.dumps({"error": str(exc)}))
        return BAD_DATA
    (folder / RESULT).write_text(json.dumps({"result": result.as_json()}))
    return 0


def _die_with_the_worker() -> None:
    """Stop when the worker that started this stops (Linux): a task whose server is gone has no one
    to report to, and its models must not appear later as if it had succeeded."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it stopped before the request took effect
        os._exit(1)


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
