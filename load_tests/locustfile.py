"""Locust users for the penguin service. Every response is checked, not only its status.

Pick scenarios by class name, e.g. (the benchmark runner does this for you)::

    locust -f load_tests/locustfile.py --headless -u 64 -r 64 -t 30s --host http://localhost:3000 PredictUser
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

from load_tests.data import csv_body, penguins, sample
from load_tests.server import admin_headers
from tabserve.datasets import PENGUINS
from tabserve.training.algorithms import ALGORITHMS

penguins()  # load the dataset before the clock starts, not inside the first request


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
    if body.get(PENGUINS.target) not in PENGUINS.classes:
        return f"bad {PENGUINS.target}: {body.get(PENGUINS.target)!r}"
    probabilities = body.get("probabilities")
    if not isinstance(probabilities, dict) or set(probabilities) != set(PENGUINS.classes):
        return "probabilities missing or incomplete"
    if not math.isclose(sum(probabilities.values()), 1.0, abs_tol=1e-6):
        return "probabilities do not sum to 1"
    if body.get("confidence") != max(probabilities.values()):
        return "confidence is not the largest probability"
    if not isinstance(body.get("model"), str) or ":" not in body["model"]:
        return "model tag missing"
    return None


class PenguinUser(FastHttpUser):
    """Base: no think time (the targets are measured at full speed), a seeded sampler."""

    abstract = True
    wait_time = constant(0)

    def on_start(self) -> None:
        self.rng = random.Random()

    def post_checked(self, name: str, path: str, check: Any, **kwargs: Any) -> None:
        with self.client.post(path, name=name, catch_response=True, **kwargs) as response:
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


class PredictUser(PenguinUser):
    """One penguin per request."""

    @task
    def predict(self) -> None:
        self.post_checked("/predict", "/predict", check_single, json=sample(1, self.rng)[0])


class BatchUser(PenguinUser):
    """1,000 penguins per request."""

    @task
    def predict_batch(self) -> None:
        rows = sample(BATCH_ROWS, self.rng)

        def check(response: Any) -> str | None:
            body = response.json()
            if len(body.get("predictions", [])) != len(rows):
                return "wrong number of predictions"
            problems = [p for p in map(prediction_problem, body["predictions"]) if p]
            return problems[0] if problems else None

        self.post_checked("/predict_batch", "/predict_batch", check, json={"penguins": rows})


class CsvUser(PenguinUser):
    """A 1,000-row CSV upload per request."""

    @task
    def predict_csv(self) -> None:
        def check(response: Any) -> str | None:
            table = list(csv.DictReader(io.StringIO(response.text)))
            if len(table) != CSV_ROWS:
                return "wrong number of rows"
            if any(row[PENGUINS.target] not in PENGUINS.classes for row in table):
                return "bad species"
            return None

        files = {"file": ("penguins.csv", csv_body(CSV_ROWS, self.rng), "text/csv")}
        self.post_checked("/predict_csv", "/predict_csv", check, files=files)


class MixedUser(PenguinUser):
    """Mostly single predictions, some small batches, CSVs and reads, as a real client mix."""

    @task(20)
    def predict(self) -> None:
        self.post_checked("/predict", "/predict", check_single, json=sample(1, self.rng)[0])

    @task(3)
    def predict_batch(self) -> None:
        rows = sample(50, self.rng)

        def check(response: Any) -> str | None:
            predictions = response.json()["predictions"]
            return None if len(predictions) == len(rows) else "wrong number of predictions"

        self.post_checked("/predict_batch", "/predict_batch", check, json={"penguins": rows})

    @task(1)
    def predict_csv(self) -> None:
        files = {"file": ("penguins.csv", csv_body(50, self.rng), "text/csv")}
        self.post_checked("/predict_csv", "/predict_csv", lambda r: None, files=files)

    @task(1)
    def models(self) -> None:
        with self.client.get("/models", name="/models", catch_response=True) as response:
            if response.status_code != 200 or not response.json().get("active"):
                response.failure(f"HTTP {response.status_code}")


class SoakUser(MixedUser):
    """The mixed profile at a steady rate: ``$SOAK_RATE_PER_USER`` requests/s per user (soak runs)."""

    wait_time = constant_throughput(float(os.environ.get("SOAK_RATE_PER_USER", "1")))


class SwitchUser(PenguinUser):
    """Switches the active model about twice a second while the predict users keep going.

    Needs the server's admin token in ``$PENGUIN_ADMIN_TOKEN``.
    """

    fixed_count = 1
    wait_time = constant(0.5)

    @task
    def select_model(self) -> None:
        algorithm = self.rng.choice(list(ALGORITHMS))

        def check(response: Any) -> str | None:
            return None if response.json().get("algorithm") == algorithm else "wrong model selected"

        self.post_checked(
            "/select_model", "/select_model", check, json={"model": algorithm}, headers=admin_headers()
        )


class LivezUser(FastHttpUser):
    """BentoML's own health route: the ceiling of the HTTP stack on this machine."""

    wait_time = constant(0)

    @task
    def livez(self) -> None:
        with self.client.get("/livez", name="/livez", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
