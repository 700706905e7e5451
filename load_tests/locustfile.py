"""Locust users for the service, one dataset at a time. Every response is checked, not only its status.

Pick scenarios by class name and the dataset by ``$TABSERVE_LOAD_DATASET`` (default: the root
dataset, at the root paths), e.g. (the benchmark runner does this for you)::

    locust -f load_tests/locustfile.py --headless -u 64 -r 64 -t 30s --host http://localhost:3000 PredictUser
    TABSERVE_LOAD_DATASET=breast_cancer locust -f load_tests/locustfile.py ... PredictUser
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
from typing import Any

from locust import FastHttpUser, constant, constant_throughput, events, task
from locust.exception import StopUser

from load_tests.data import csv_body, load_dataset, paths, rows, sample
from load_tests.server import admin_headers

SPEC = load_dataset()
PATHS = paths(SPEC)
rows(SPEC)  # load the dataset before the clock starts, not inside the first request


@events.quitting.add_listener
def write_failures(environment: Any, **_: Any) -> None:
    """Failure reasons and counts, to the file named by $LOCUST_FAILURES_JSON (the benchmark reads it)."""
    path = os.environ.get("LOCUST_FAILURES_JSON")
    if path:
        failures = [
            {"name": e.name, "error": str(e.error), "occurrences": e.occurrences}
            for e in environment.stats.errors.values()
        ]
        with open(path, "w") as stream:
            json.dump(failures, stream)


BATCH_ROWS = 1_000
CSV_ROWS = 1_000


def prediction_problem(body: Any) -> str | None:
    """Why ``body`` is not a well-formed prediction, or None."""
    if not isinstance(body, dict):
        return "not a JSON object"
    if body.get(SPEC.target) not in SPEC.classes:
        return f"bad {SPEC.target}: {body.get(SPEC.target)!r}"
    probabilities = body.get("probabilities")
    if not isinstance(probabilities, dict) or set(probabilities) != set(SPEC.classes):
        return "probabilities missing or incomplete"
    if not math.isclose(sum(probabilities.values()), 1.0, abs_tol=1e-6):
        return "probabilities do not sum to 1"
    if body.get("confidence") != max(probabilities.values()):
        return "confidence is not the largest probability"
    if not isinstance(body.get("model"), str) or ":" not in body["model"]:
        return "model tag missing"
    return None


class DatasetUser(FastHttpUser):
    """Base: no think time (the targets are measured at full speed), a sampler of the dataset's rows."""

    abstract = True
    wait_time = constant(0)

    def on_start(self) -> None:
        self.rng = random.Random()

    def sample(self, count: int) -> list[dict[str, Any]]:
        return sample(count, self.rng, SPEC)

    def csv_file(self, count: int) -> dict[str, tuple[str, bytes, str]]:
        return {"file": (f"{SPEC.name}.csv", csv_body(count, self.rng, SPEC), "text/csv")}

    def post_checked(self, operation: str, check: Any, **kwargs: Any) -> None:
        """POST to ``operation``'s path; the response fails unless 200 and ``check`` finds no problem."""
        path = PATHS[operation]
        with self.client.post(path, name=path, catch_response=True, **kwargs) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return
            try:
                problem = check(response)
            except Exception as exc:  # malformed body
                problem = f"unreadable response: {exc}"
            if problem:
                response.failure(problem)
            else:
                response.success()


def check_single(response: Any) -> str | None:
    body = response.json()
    problem = prediction_problem(body)
    if problem is None and response.headers.get("x-model-tag") != body["model"]:
        return "X-Model-Tag header differs from the body's model"
    return problem


class PredictUser(DatasetUser):
    """One row per request."""

    @task
    def predict(self) -> None:
        self.post_checked("predict", check_single, json=self.sample(1)[0])


class BatchUser(DatasetUser):
    """1,000 rows per request."""

    @task
    def predict_batch(self) -> None:
        rows = self.sample(BATCH_ROWS)

        def check(response: Any) -> str | None:
            body = response.json()
            if len(body.get("predictions", [])) != len(rows):
                return "wrong number of predictions"
            problems = [p for p in map(prediction_problem, body["predictions"]) if p]
            return problems[0] if problems else None

        self.post_checked("predict_batch", check, json={SPEC.rows_noun: rows})


class CsvUser(DatasetUser):
    """A 1,000-row CSV upload per request."""

    @task
    def predict_csv(self) -> None:
        def check(response: Any) -> str | None:
            table = list(csv.DictReader(io.StringIO(response.text)))
            if len(table) != CSV_ROWS:
                return "wrong number of rows"
            if any(row[SPEC.target] not in SPEC.classes for row in table):
                return f"bad {SPEC.target}"
            return None

        self.post_checked("predict_csv", check, files=self.csv_file(CSV_ROWS))


class MixedUser(DatasetUser):
    """Mostly single predictions, some small batches, CSVs and reads, as a real client mix."""

    @task(20)
    def predict(self) -> None:
        self.post_checked("predict", check_single, json=self.sample(1)[0])

    @task(3)
    def predict_batch(self) -> None:
        rows = self.sample(50)

        def check(response: Any) -> str | None:
            predictions = response.json()["predictions"]
            return None if len(predictions) == len(rows) else "wrong number of predictions"

        self.post_checked("predict_batch", check, json={SPEC.rows_noun: rows})

    @task(1)
    def predict_csv(self) -> None:
        self.post_checked("predict_csv", lambda r: None, files=self.csv_file(50))

    @task(1)
    def models(self) -> None:
        path = PATHS["models"]
        with self.client.get(path, name=path, catch_response=True) as response:
            if response.status_code != 200 or not response.json().get("active"):
                response.failure(f"HTTP {response.status_code}")


class SoakUser(MixedUser):
    """The mixed profile at a steady rate: ``$SOAK_RATE_PER_USER`` requests/s per user (soak runs)."""

    wait_time = constant_throughput(float(os.environ.get("SOAK_RATE_PER_USER", "1")))


class SwitchUser(DatasetUser):
    """Switches the active model about twice a second while the predict users keep going.

    Needs the server's admin token in ``$PENGUIN_ADMIN_TOKEN``.
    """

    fixed_count = 1
    wait_time = constant(0.5)

    def on_start(self) -> None:
        """The algorithms to switch between, from the server's own list: importing the training code
        (scikit-learn) here would cost every Locust run seconds of its run time."""
        super().on_start()
        path = PATHS["models"]
        with self.client.get(path, name=path, catch_response=True) as response:
            models = response.json().get("models", []) if response.status_code == 200 else []
            self.algorithms = sorted({model["algorithm"] for model in models if model["servable"]})
            if not self.algorithms:
                response.failure(f"HTTP {response.status_code}, no servable model to switch to")
        if not self.algorithms:
            raise StopUser()

    @task
    def select_model(self) -> None:
        algorithm = self.rng.choice(self.algorithms)

        def check(response: Any) -> str | None:
            return None if response.json().get("algorithm") == algorithm else "wrong model selected"

        self.post_checked("select_model", check, json={"model": algorithm}, headers=admin_headers())


class LivezUser(FastHttpUser):
    """BentoML's own health route: the ceiling of the HTTP stack on this machine."""

    wait_time = constant(0)

    @task
    def livez(self) -> None:
        with self.client.get("/livez", name="/livez", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
