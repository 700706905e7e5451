"""The model choice shared through a real Redis (``TABSERVE_STATE_URL``).

Each test that needs Redis starts its own ``redis-server`` on a free port of 127.0.0.1, without
persistence, so a restart loses its data the way a Redis without a volume does. Without Debian's
``redis-server`` those tests are skipped, unless TABSERVE_REQUIRE_REDIS=1 (CI sets it, after
scripts/install-redis.sh), in which case they fail. The test that starts servers is slow.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from load_tests.server import ROOT, Server, free_port, wait_for
from tabserve.errors import StateUnavailable
from tabserve.store.state import STATE_URL_ENV, FileStore, state_store
from tabserve.store.state.redis import EPOCH_KEY, KEY_PREFIX, RedisStore, redacted
from tests.conftest import ADMIN, service_config

REDIS_SERVER = shutil.which("redis-server")

EXAMPLE = {"island": "Biscoe", "bill_length_mm": 39.1, "bill_depth_mm": 18.7, "sex": "male"}
#: Generous bound for what the servers promise to do within 1 s: a loaded machine must not fail a test.
DEADLINE = 10.0


class RedisServer:
    """A ``redis-server`` subprocess on one port of 127.0.0.1 that can be stopped and started again."""

    def __init__(self, log_path: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        """Start on the same port as before, with no persistence: a restart forgets everything."""
        options = f"--port {self.port} --bind 127.0.0.1 --appendonly no".split()
        command = [str(REDIS_SERVER), *options, "--save", ""]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        process = self.process
        assert wait_for(self.answers, timeout=30, given_up=lambda: process.poll() is not None), (
            f"redis-server did not start; see {self.log_path}"
        )
        return self

    def answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture()
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if not REDIS_SERVER:
        if os.environ.get("TABSERVE_REQUIRE_REDIS") == "1":
            pytest.fail("TABSERVE_REQUIRE_REDIS=1 but redis-server is missing (scripts/install-redis.sh)")
        pytest.skip("no redis-server (scripts/install-redis.sh installs it on Debian)")
    server = RedisServer(tmp_path / "redis.log").start()
    yield server
    server.stop()


@pytest.fixture()
def stores(redis_server: RedisServer) -> Iterator[Callable[[], RedisStore]]:
    """Makes RedisStores on the test's Redis (two stand for two workers or replicas); closes them."""
    made: list[RedisStore] = []

    def make() -> RedisStore:
        made.append(RedisStore(redis_server.url))
        return made[-1]

    yield make
    for store in made:
        store.close()


def eventually(condition: Callable[[], bool], timeout: float = DEADLINE) -> bool:
    return wait_for(condition, timeout=timeout, interval=0.02)


# --- the backend ----------------------------------------------------------------------------------


def test_without_the_variable_the_state_file_stays_and_redis_is_not_imported(tmp_path):
    code = (
        "import sys; from tabserve.store.state import FileStore, state_store; "
        f"assert isinstance(state_store({str(tmp_path)!r}), FileStore); assert 'redis' not in sys.modules"
    )
    env = {key: value for key, value in os.environ.items() if key != STATE_URL_ENV}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_variable_picks_redis(monkeypatch, tmp_path, redis_server):
    monkeypatch.setenv(STATE_URL_ENV, redis_server.url)
    store = state_store(tmp_path)
    try:
        assert isinstance(store, RedisStore) and not isinstance(store, FileStore)
        assert store.where("penguins") == f"Redis at {redis_server.url}, key {KEY_PREFIX}penguins"
    finally:
        store.close()


def test_a_password_never_shows():
    assert redacted("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"
    assert redacted("redis://app:s3cret@cache/1") == "redis://app:***@cache/1"
    assert redacted("redis://cache:6379/0") == "redis://cache:6379/0"


def test_a_choice_is_read_back_at_once_and_followed_by_another_worker(stores):
    writer, follower = stores(), stores()
    mine, theirs = writer.choice("penguins"), follower.choice("penguins")
    assert mine.read() is None and theirs.read() is None
    mine.write("penguins_knn:abc")
    assert mine.read() == "penguins_knn:abc"  # the worker that chose answers with it straight away
    assert eventually(lambda: theirs.read() == "penguins_knn:abc")
    assert follower.choice("breast_cancer").read() is None  # datasets do not share a choice


def test_a_worker_started_later_reads_the_choice_before_its_first_request(stores):
    stores().choice("penguins").write("penguins_svm:abc")
    assert stores().choice("penguins").read() == "penguins_svm:abc"
    assert stores().current("penguins") == "penguins_svm:abc"


def test_a_damaged_value_reads_as_no_choice(stores, redis_server):
    choice = stores().choice("penguins")
    choice.write("penguins_knn:abc")
    redis_server.client().set(KEY_PREFIX + "penguins", b"{not json")
    assert eventually(lambda: choice.read() is None)


def test_redis_down_keeps_the_last_choice_refuses_writes_and_recovers(stores, redis_server):
    writer, follower = stores(), stores()
    mine, theirs = writer.choice("penguins"), follower.choice("penguins")
    mine.write("penguins_knn:abc")
    assert eventually(lambda: theirs.read() == "penguins_knn:abc")

    redis_server.stop()
    assert eventually(lambda: not follower.reachable)
    assert (mine.read(), theirs.read()) == ("penguins_knn:abc", "penguins_knn:abc")
    with pytest.raises(StateUnavailable, match=f"Redis at {redis_server.url}, is unreachable") as raised:
        mine.write("penguins_svm:def")
    assert "retry" in str(raised.value)
    assert mine.read() == "penguins_knn:abc"  # a choice that was not recorded is not served either
    with pytest.raises(StateUnavailable, match="unreachable"):
        writer.current("penguins")

    redis_server.start()  # same port, no data: the restart lost the choice
    assert eventually(lambda: follower.reachable and writer.reachable)
    assert redis_server.client().get(KEY_PREFIX + "penguins") is not None  # written back
    assert (mine.read(), theirs.read()) == ("penguins_knn:abc", "penguins_knn:abc")
    mine.write("penguins_svm:def")
    assert eventually(lambda: theirs.read() == "penguins_svm:def")


def test_a_restart_that_loses_the_data_does_not_lose_the_choice(stores, redis_server):
    writer, follower = stores(), stores()
    writer.choice("penguins").write("penguins_knn:abc")
    choice = follower.choice("penguins")
    redis_server.stop()
    redis_server.start()
    raw = redis_server.client()
    assert eventually(lambda: raw.get(EPOCH_KEY) is not None)
    assert writer.current("penguins") == "penguins_knn:abc"
    assert choice.read() == "penguins_knn:abc"


def test_a_new_worker_after_the_data_is_lost_does_not_hide_the_lost_choice(stores, redis_server):
    old = stores()
    remembered = old.choice("penguins")
    remembered.write("penguins_knn:abc")
    redis_server.stop()
    assert eventually(lambda: not old.reachable)
    time.sleep(1.5)  # the old worker now retries a second or more apart: the new one reaches Redis first
    redis_server.start()
    started_now = stores().choice("penguins")
    assert eventually(lambda: started_now.read() == "penguins_knn:abc")
    assert remembered.read() == "penguins_knn:abc"


def test_a_choice_deleted_on_purpose_is_followed(stores, redis_server):
    writer, follower = stores(), stores()
    writer.choice("penguins").write("penguins_knn:abc")
    choice = follower.choice("penguins")
    assert choice.read() == "penguins_knn:abc"
    raw = redis_server.client()
    assert eventually(lambda: raw.get(EPOCH_KEY) is not None)  # a worker with a choice made the marker
    raw.delete(KEY_PREFIX + "penguins")  # the marker stays: Redis kept its data
    assert eventually(lambda: choice.read() is None)
    assert redis_server.client().get(KEY_PREFIX + "penguins") is None  # nobody wrote it back


def run_models(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, STATE_URL_ENV: url}
    command = [sys.executable, "models.py", "--dataset", "penguins", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_models_cli_reads_the_choice_from_redis(stores, redis_server):
    stores().choice("penguins").write("penguins_knn:abc")
    result = run_models(redis_server.url, "--json")
    assert result.returncode == 0, result.stderr
    [view] = json.loads(result.stdout)
    assert view["selected"] == "penguins_knn:abc"
    assert view["state_file"] == f"Redis at {redis_server.url}, key {KEY_PREFIX}penguins"


def test_models_cli_says_the_state_store_is_unreachable():
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    result = run_models(url)
    assert result.returncode == 1
    assert f"Redis at {url}, is unreachable" in result.stderr
    assert "TABSERVE_STATE_URL" in result.stderr and "Traceback" not in result.stderr + result.stdout


# --- real servers -----------------------------------------------------------------------------


def predicted_model(url: str, prefix: str = "") -> str:
    """The answering model's tag, over a fresh connection (so every worker gets a turn)."""
    with httpx.Client(base_url=url, timeout=30) as fresh:
        response = fresh.post(f"{prefix}/predict", json=EXAMPLE)
    assert response.status_code == 200, response.text
    return response.json()["model"]


def seconds_until_steady(url: str, tag: str, started: float, in_a_row: int = 8) -> float | None:
    """Seconds from ``started`` until ``url`` answered with ``tag`` ``in_a_row`` times in a row over
    fresh connections (counted to the first answer of that run, so request time counts as delay),
    or None after DEADLINE."""
    run_began, streak = None, 0
    while time.monotonic() - started < DEADLINE:
        if predicted_model(url) == tag:
            run_began, streak = run_began or time.monotonic(), streak + 1
            if streak == in_a_row:
                return run_began - started
        else:
            run_began, streak = None, 0
    return None


@pytest.fixture()
def replicas(trained, redis_server, tmp_path, logs) -> Iterator[tuple[Server, Server]]:
    """Two servers sharing one Redis (one with two workers), each with a state folder of its own."""
    two_workers = service_config(tmp_path, "two-workers", workers=2)
    started: list[Server] = []
    try:
        for name, config in (("a", two_workers), ("b", None)):
            env = {STATE_URL_ENV: redis_server.url, "TABSERVE_STATE_DIR": str(tmp_path / f"state-{name}")}
            options = {"config": config} if config else {}
            started.append(Server(env, logs / f"shared-state-{name}.log", **options).start())
        yield started[0], started[1]
    finally:
        for server in started:
            server.stop()


@pytest.mark.slow
def test_replicas_follow_a_choice_keep_serving_without_redis_and_recover(replicas, redis_server, tmp_path):
    a, b = replicas
    delays = []
    with (
        httpx.Client(base_url=a.url, timeout=30, headers=ADMIN) as on_a,
        httpx.Client(base_url=b.url, timeout=30, headers=ADMIN) as on_b,
    ):
        for chooser, follower, model in ((on_a, b, "knn"), (on_b, a, "svm"), (on_a, b, "knn")):
            response = chooser.post("/select_model", json={"model": model})
            assert response.status_code == 200, response.text
            tag, chosen_at = response.json()["tag"], time.monotonic()
            delay = seconds_until_steady(follower.url, tag, chosen_at)
            assert delay is not None, f"{follower.url} still not answering with {tag} after {DEADLINE}s"
            delays.append(round(delay, 3))
        print(f"follow delays (s): {delays}")
        knn = tag

        redis_server.stop()
        for server in (a, b):
            assert {predicted_model(server.url) for _ in range(6)} == {knn}
            assert httpx.get(f"{server.url}/readyz").status_code == 200
        for prefix in ("", "/breast_cancer"):
            refused = on_a.post(f"{prefix}/select_model", json={"model": "svm"})
            assert refused.status_code == 503, refused.text
            message = refused.json()["error"]
            assert f"Redis at {redis_server.url}, is unreachable" in message and "retry" in message
        assert predicted_model(b.url) == knn

        redis_server.start()  # the same port, without the data: no server is restarted
        assert eventually(lambda: on_a.post("/select_model", json={"model": "svm"}).status_code == 200, 30)
        svm = on_a.get("/model_info").json()["tag"]
        assert seconds_until_steady(b.url, svm, time.monotonic()) is not None
    assert not list(tmp_path.glob("state-*/*"))  # the choices never went to a state file
