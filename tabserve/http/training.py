"""Retraining through the API: each dataset's ``/train`` BentoML task, and the guards around it.

A submission (``POST <route>/submit``, multipart) is checked whole before BentoML queues it
(:class:`CheckTrainingSubmission`): the form fields, and each file read as the training will read
it. A bad submission is a 400 naming the problem, and no task exists. A good one becomes a task
whose work (:func:`train_api`) runs ``python -m tabserve.training.job`` in its own process, at the
lowest CPU priority, and awaits it without blocking the worker's event loop; the new versions are
then loaded, and with ``activate=best`` the best of them is selected through the data plane (every
worker follows). BentoML's own ``PUT <route>/cancel`` only marks the task canceled; the waiting
task sees the mark and stops the training process (:class:`CancelTraining` answers the request).
"""

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import bentoml
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.formparsers import MultiPartParser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tabserve.datasets import DatasetSpec
from tabserve.errors import CsvError
from tabserve.http.api_errors import ApiError
from tabserve.http.guards import read_body, refuse, replay
from tabserve.http.reports import report_url
from tabserve.http.routes import Route

logger = logging.getLogger(__name__)

#: Seed and folds of every task's training (train.py's defaults).
SEED, CV_FOLDS = 42, 5
#: How often a waiting task checks whether it was canceled.
POLL_SECONDS = 0.5
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class TrainedModelInfo(BaseModel):
    """One new model version."""

    tag: str = Field(description="The new version's store tag: select it with /select_model")
    algorithm: str
    metrics: dict[str, float] = Field(description="Held-out metrics, as in the model's metadata")
    hyperparameters: dict[str, Any] = Field(description="The grid search's best values")
    training_seconds: float
    engine: str = Field(description="How the server runs it: onnx or sklearn")
    mlflow_run_id: str | None = Field(None, description="The MLflow run that tracked it, if tracking is on")


class TrainingOutcome(BaseModel):
    """What a finished training task made."""

    dataset: str
    grid: Literal["quick", "full"]
    seed: int
    cv_folds: int
    train_rows: int = Field(description="Labelled rows the models were fitted on")
    test_rows: int = Field(description="Rows the metrics were measured on (test file or hold-out)")
    train_data_sha256: str = Field(description="Fingerprint of the fitted rows, as in each model's metadata")
    data_sha256: str | None = Field(
        description="sha256 of the uploaded training file (kept under that name); null: packaged data"
    )
    test_data_sha256: str | None = Field(description="sha256 of the uploaded test file, if any")
    models: list[TrainedModelInfo]
    activated: str | None = Field(description="The tag made active (activate=best), else null")
    report: str | None = Field(None, description="Where the run's HTML report is on the server's disk")
    report_url: str | None = Field(
        None, description="The report (confusion matrices, ROC curves) at this service: GET it"
    )


Activate = Literal["none", "best"]


def train_api(spec: DatasetSpec) -> Callable[..., Any]:
    """The task of ``spec``: train in a child process, then load (and maybe activate) the result."""
    dataset = spec.name

    async def train(
        self: Any,
        # Optional file parts, annotated ``Path``: BentoML 1.4.39 cannot build a file schema inside
        # ``Path | None`` (a ``types.UnionType``) nor ``Optional[Path]`` (its ``FileSchema`` is
        # unhashable). Left out, they are None: pydantic never validates a default.
        file: Path = None,  # type: ignore[assignment]  # noqa: RUF013
        test_file: Path = None,  # type: ignore[assignment]  # noqa: RUF013
        algorithms: str = "",
        quick: bool = False,
        activate: Activate = "none",
        *,
        ctx: bentoml.Context,
    ) -> TrainingOutcome:
        """Train new versions from a labelled CSV (``file``; the packaged data without it),
        evaluated on ``test_file`` or a random hold-out; ``activate=best`` selects the best."""
        from tabserve.training.algorithms import parse_algorithm_ids

        try:
            ids = parse_algorithm_ids(algorithms)
        except ValueError as exc:
            raise ApiError(400, f"form field 'algorithms': {exc}") from None
        options = {
            "dataset": dataset,
            "algorithms": ids,
            "quick": quick,
            "seed": SEED,
            "cv_folds": CV_FOLDS,
        }
        files = {
            "train_rows": file.read_bytes() if file else None,
            "test_rows": test_file.read_bytes() if test_file else None,
        }
        result = await run_job(options, files, getattr(ctx.request.state, "task_id", None))
        server = self.plane[dataset]
        if activate == "best":
            best = max(result["models"], key=lambda m: (m["metrics"]["f1_macro"], -m["metrics"]["log_loss"]))
            result["activated"] = (await asyncio.to_thread(server.select, best["tag"])).tag
        else:
            await asyncio.to_thread(server.refresh)  # the new versions load now, not on a request
        return TrainingOutcome.model_validate({**result, "report_url": report_url(result.get("report"))})

    return train


async def run_job(
    options: dict[str, Any], files: dict[str, bytes | None], task_id: str | None
) -> dict[str, Any]:
    """Run one training in a child process; its result, or :class:`ApiError` saying why not."""
    from tabserve.training.folders import default_data_dir
    from tabserve.training.job import BAD_DATA, RESULT, write_job

    jobs = default_data_dir() / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="train-", dir=jobs))
    try:
        write_job(folder, options, files)
        with (folder / "log.txt").open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tabserve.training.job",
                str(folder),
                cwd=PROJECT_ROOT,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, "OMP_NUM_THREADS": "1", **worker_folders()},
            )
            logger.info("Training %s (task %s) in process %d", options["dataset"], task_id, process.pid)
            await _wait(process, folder, task_id)
        outcome = _read_json(folder / RESULT)
        if process.returncode == BAD_DATA and outcome:
            raise ApiError(400, outcome["error"])
        if process.returncode != 0 or not outcome:
            tail = (folder / "log.txt").read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            logger.error("Training process failed (%s): %s", process.returncode, tail[0])
            raise ApiError(500, f"the training process failed: {tail[0][:500]}; nothing was saved")
        return outcome["result"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _wait(process: asyncio.subprocess.Process, folder: Path, task_id: str | None) -> None:
    """Wait for ``process``; stop it if its task is canceled before it starts saving."""
    from tabserve.training.job import SAVING_MARKER

    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), POLL_SECONDS)
            return
        if task_id is None or (folder / SAVING_MARKER).exists():
            continue
        if await asyncio.to_thread(task_status, task_id) == "canceled":
            _kill(process)
            await process.wait()
            raise ApiError(409, f"task {task_id} was canceled before it saved anything; nothing was saved")


def _kill(process: asyncio.subprocess.Process) -> None:
    """Stop the training process and its helpers (its process group, see the job module)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # not yet its own group leader: it has started no helper yet
        with contextlib.suppress(ProcessLookupError):
            process.kill()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def worker_folders() -> dict[str, str]:
    """The environment that makes the training process save where this worker serves from.

    Inside a bento (its container) a worker serves the bento's own ``models/`` folder, which BentoML
    sets in the worker alone (BentoML 1.4's ``BentoMLContainer.model_store``): a training process
    started with the plain environment would save into ``$BENTOML_HOME/models``, where no worker
    looks. The data folder is pinned too, since it defaults to a folder beside ``$BENTOML_HOME``.
    """
    from bentoml._internal.configuration.containers import BentoMLContainer

    from tabserve.training.folders import DATA_DIR_ENV, default_data_dir

    folders = {DATA_DIR_ENV: str(default_data_dir())}
    store = Path(BentoMLContainer.model_store.get()._path)
    if store.name == "models":  # a store is always $BENTOML_HOME/models to BentoML
        folders["BENTOML_HOME"] = str(store.parent)
    return folders


def task_status(task_id: str) -> str | None:
    """A task's status in BentoML's result store (shared by the workers), None if unknown.

    Read-only, straight from BentoML 1.4's SQLite table ``result``: the store object lives in
    BentoML's app, out of reach of the task, and tests cover the table's shape.
    """
    from bentoml._internal.configuration.containers import BentoMLContainer

    path = BentoMLContainer.result_store_file.get()
    with contextlib.closing(sqlite3.connect(f"{Path(path).as_uri()}?mode=ro", uri=True, timeout=5)) as db:
        row = db.execute("SELECT status FROM result WHERE task_id = ?", (task_id,)).fetchone()
    return row[0] if row else None


#: The form's text fields and what each must be (the task's parameters say the same to BentoML).
TEXT_FIELDS: dict[str, TypeAdapter[Any]] = {
    "algorithms": TypeAdapter(str),
    "quick": TypeAdapter(bool),
    "activate": TypeAdapter(Activate),
}


def _form_problem(spec: DatasetSpec, form: FormData, files: dict[str, bytes | None]) -> str | None:
    """What is wrong with a training submission (fields, then files), or None."""
    from tabserve.training.algorithms import parse_algorithm_ids
    from tabserve.training.data import check_training_files

    for name, adapter in TEXT_FIELDS.items():
        if name in form:
            try:
                adapter.validate_python(form[name])
            except ValidationError as exc:
                return f"form field {name!r}: {exc.errors()[0]['msg']}"
    try:
        parse_algorithm_ids(str(form.get("algorithms") or ""))
    except ValueError as exc:
        return f"form field 'algorithms': {exc}"
    try:
        check_training_files(spec, files["file"], files["test_file"], cv_folds=CV_FOLDS)
    except CsvError as exc:
        return f"{exc}; nothing was trained or saved"
    return None


class CheckTrainingSubmission:
    """400 for a training submission that could not train, before BentoML makes it a task.

    The files are read exactly as the training will read them (in a thread: a large upload takes
    a moment), so a missing target column, an unknown label, a class too small for the folds or a
    bad cell is answered at once, naming the row and column, and nothing runs or is saved. The
    synchronous ``POST <route>`` (which would train inside the request) is refused: use the task.
    """

    def __init__(self, app: ASGIApp, *, routes: Iterable[Route]):
        self.app = app
        self.submissions = {route.task_path("submit"): route.spec for route in routes}
        self.direct = {route.path: route.task_path("submit") for route in routes}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path") if scope["type"] == "http" and scope["method"] == "POST" else None
        if path in self.direct:
            await refuse(
                scope, receive, send, 404, f"training runs as a task: POST {self.direct[path]}, then poll"
            )
            return
        if path not in self.submissions:
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:
            return  # the client went away
        try:
            problem = await _submission_problem(self.submissions[path], Headers(scope=scope), body)
        except Exception:  # a bug here must still answer, and say where to look
            logger.exception("Checking a training submission failed")
            await refuse(scope, receive, send, 500, "the upload could not be checked; see the server log")
            return
        if problem:
            await refuse(scope, receive, send, 400, problem)
            return
        await self.app(scope, replay(body, receive), send)


async def _submission_problem(spec: DatasetSpec, headers: Headers, body: bytes) -> str | None:
    async def stream() -> Any:
        yield body

    form = await MultiPartParser(headers, stream()).parse()  # ValidateMultipart parsed it already
    try:
        files: dict[str, bytes | None] = {}
        for name in ("file", "test_file"):
            upload = form.get(name)
            files[name] = await upload.read() if isinstance(upload, UploadFile) else None
        return await asyncio.to_thread(_form_problem, spec, form, files)
    finally:
        await form.close()


class CancelTraining:
    """Answers ``PUT <route>/cancel`` with the task's status once BentoML has marked it canceled.

    BentoML marks a task in progress ``canceled`` and then answers 400 "not supported"; the task's
    waiting coroutine sees the mark and stops the training process (see :func:`train_api`). This
    answers what happened instead: 200 with the status, 404 for an unknown task, 409 for a task
    that had already finished.
    """

    def __init__(self, app: ASGIApp, *, routes: Iterable[Route]):
        self.app = app
        self.paths = frozenset(route.task_path("cancel") for route in routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths or scope["method"] != "PUT":
            await self.app(scope, receive, send)
            return
        task_id = _query(scope).get("task_id")
        if task_id is None:
            await self.app(scope, receive, send)  # BentoML's own 400: task_id is required
            return

        async def swallow(message: Message) -> None:
            """BentoML's answer is replaced below."""

        await self.app(scope, receive, swallow)
        status = await asyncio.to_thread(task_status, task_id)
        if status is None:
            await refuse(scope, receive, send, 404, f"no task {task_id}")
        elif status != "canceled":
            await refuse(
                scope,
                receive,
                send,
                409,
                f"task {task_id} is {status}: only a task in progress can be canceled",
            )
        else:
            await JSONResponse({"task_id": task_id, "status": status})(scope, receive, send)


def _query(scope: Scope) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
