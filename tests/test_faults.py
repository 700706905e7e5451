"""Faults and limits on real servers: a killed worker, SIGTERM with requests in flight, the
concurrency limit (429) and the request timeout (504) from configuration.yaml."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from load_tests.data import csv_body
from load_tests.server import Server, wait_for
from tests.conftest import service_config
from tests.test_service import EXAMPLE

pytestmark = pytest.mark.slow

#: ~7 MB: long enough (seconds) to still be running when the test acts, under the 16 MiB limit.
SLOW_CSV = csv_body(200_000, random.Random(3))


INITIALISED = "Service tabserve initialized"


def post_slow_csv(url: str) -> httpx.Response:
    files = {"file": ("big.csv", SLOW_CSV, "text/csv")}
    return httpx.post(f"{url}/predict_csv", files=files, timeout=120)


def test_a_killed_worker_is_replaced_while_the_other_keeps_answering(trained, tmp_path, logs):
    config = service_config(tmp_path, "two-workers", workers=2)
    server = Server({"TABSERVE_STATE_DIR": str(tmp_path)}, logs / "killed-worker.log", config).start()
    try:
        assert wait_for(lambda: server.log_path.read_text().count(INITIALISED) == 2)
        assert len(server.workers()) == 2
        victim = server.workers()[0]
        stop = threading.Event()
        outcomes: list[tuple[float, int | str]] = []  # (sent at, status or error)

        def predict_until_stopped() -> None:
            while not stop.is_set():
                sent = time.monotonic()
                try:  # a fresh connection each time: as many clients would
                    status: int | str = httpx.post(
                        f"{server.url}/predict", json=EXAMPLE, timeout=30
                    ).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                outcomes.append((sent, status))

        clients = [threading.Thread(target=predict_until_stopped) for _ in range(4)]
        for client in clients:
            client.start()
        time.sleep(1)
        killed_at = time.monotonic()
        victim.send_signal(signal.SIGKILL)
        time.sleep(3)
        stop.set()
        for client in clients:
            client.join()

        after = [status for sent, status in outcomes if sent > killed_at + 0.5]
        assert after and set(after) == {200}, f"requests sent after the kill: {set(after)}"
        # circus started a new worker; once it has loaded the models the server is whole again.
        assert wait_for(lambda: server.log_path.read_text().count(INITIALISED) == 3)
        assert len(server.workers()) == 2 and victim.pid not in {w.pid for w in server.workers()}
        assert httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200
        assert all(
            httpx.post(f"{server.url}/predict", json=EXAMPLE, timeout=30).status_code == 200
            for _ in range(10)
        )
    finally:
        server.stop()


def test_in_a_container_readiness_reports_a_lost_worker(trained, tmp_path, logs):
    """Inside a container BentoML does not respawn workers (the orchestrator restarts containers):
    the survivor keeps answering but /readyz says the server is not whole."""
    config = service_config(tmp_path, "two-workers", workers=2)
    env = {"TABSERVE_STATE_DIR": str(tmp_path), "BENTOML_CONTAINERIZED": "true"}
    server = Server(env, logs / "container-lost-worker.log", config).start()
    try:
        assert wait_for(lambda: server.log_path.read_text().count(INITIALISED) == 2)
        server.workers()[0].send_signal(signal.SIGKILL)
        assert wait_for(lambda: httpx.get(f"{server.url}/readyz", timeout=5).status_code == 503)
        assert httpx.post(f"{server.url}/predict", json=EXAMPLE, timeout=30).status_code == 200
        assert "1 of 2 workers are not running; restart the container" in server.log_path.read_text()
    finally:
        server.stop()


def test_in_a_container_losing_the_only_worker_stops_the_server(trained, tmp_path, logs):
    """...and with one worker the whole server exits, for the container's restart policy."""
    env = {"TABSERVE_STATE_DIR": str(tmp_path), "BENTOML_CONTAINERIZED": "true"}
    server = Server(env, logs / "container-only-worker.log").start()
    try:
        server.workers()[0].send_signal(signal.SIGKILL)
        assert server.process.wait(timeout=60) != 0
    finally:
        server.stop()


def test_sigterm_lets_requests_in_flight_finish_then_exits_0(trained, tmp_path, logs):
    server = Server({"TABSERVE_STATE_DIR": str(tmp_path)}, logs / "sigterm.log").start()
    with ThreadPoolExecutor(max_workers=1) as pool:
        in_flight = pool.submit(post_slow_csv, server.url)
        # Stop once the worker is busy with the upload (its CPU time moves), not on a timer.
        worker = server.workers()[0]
        start = worker.cpu_times().user
        assert wait_for(lambda: worker.cpu_times().user - start > 0.3, timeout=60)
        assert not in_flight.done()
        os.kill(server.process.pid, signal.SIGTERM)  # what `docker stop` sends to the supervisor
        response = in_flight.result()
    assert response.status_code == 200
    assert len(response.text.splitlines()) == 200_001
    assert server.process.wait(timeout=60) == 0
    server.stop()


@pytest.fixture()
def limited_server(trained, tmp_path, logs):
    config = service_config(tmp_path, "limited", traffic={"max_concurrency": 2})
    server = Server({"TABSERVE_STATE_DIR": str(tmp_path)}, logs / "limited.log", config).start()
    yield server
    server.stop()


def test_past_max_concurrency_requests_get_429_not_a_pile_up(limited_server):
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: post_slow_csv(limited_server.url), range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) == {200, 429}, statuses
    assert statuses.count(200) >= 2
    assert all("error" in r.json() for r in responses if r.status_code == 429)
    assert httpx.get(f"{limited_server.url}/readyz").status_code == 200  # probes bypass the limit


def test_a_request_over_the_timeout_gets_504(trained, tmp_path, logs):
    config = service_config(tmp_path, "timeout", traffic={"timeout": 0.2})
    server = Server({"TABSERVE_STATE_DIR": str(tmp_path)}, logs / "timeout.log", config).start()
    try:
        response = post_slow_csv(server.url)
        assert response.status_code == 504
        assert "0.2 seconds" in response.json()["error"]
        assert httpx.post(f"{server.url}/predict", json=EXAMPLE, timeout=30).status_code == 200
    finally:
        server.stop()
