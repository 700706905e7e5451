"""The Docker Swarm stack end to end (deploy/swarm): three replicas behind the balancer, one model choice
shared through Redis, a replica killed under load and replaced, a rolling restart and a Redis restart
under prediction load with no failed request, and down.sh leaving nothing behind.

All traffic from the host goes to the balancer on 127.0.0.1; what each replica answers is checked inside
its own container (``docker exec`` against its localhost). Needs a Docker engine: skipped without one,
unless TABSERVE_REQUIRE_DOCKER=1 (CI), in which case it fails. The tests run in file order on one stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from load_tests.server import ROOT, free_port, wait_for
from tests.conftest import ADMIN, ADMIN_TOKEN, docker, needs_docker
from tests.test_service import EXAMPLE

pytestmark = [pytest.mark.slow, needs_docker]

SWARM = ROOT / "deploy" / "swarm"
REPLICAS = 3
#: What the replicas promise: a choice made through any of them is followed by all within 1 s.
FOLLOW_WITHIN = 1.0
#: Concurrent clients of the prediction load: continuous traffic that leaves CPU to the rollout itself.
LOAD_CLIENTS = 4

#: Run inside a replica: POST /predict on its own localhost until the model named by argv[1] answers (or
#: argv[2] seconds pass), then print the wall-clock time it first did. The host and the containers share
#: one clock, so the host subtracts the time its /select_model call returned.
WATCH = """
import json, sys, time, urllib.request
expected, timeout, body = sys.argv[1], float(sys.argv[2]), sys.argv[3].encode()
print("watching", flush=True)
deadline, seen = time.time() + timeout, None
while seen is None and time.time() < deadline:
    request = urllib.request.Request(
        "http://localhost:3000/predict", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        model = json.load(urllib.request.urlopen(request, timeout=5))["model"]
    except OSError:
        model = None
    if model == expected:
        seen = time.time()
    else:
        time.sleep(0.02)
print(json.dumps({"seen_at": seen}), flush=True)
"""


@dataclass
class Stack:
    """One deployment of deploy/swarm/stack.yml under its own stack name and port."""

    name: str
    port: int
    swarm_was_active: bool
    url: str = field(init=False)

    def __post_init__(self) -> None:
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "STACK": self.name, "PORT": str(self.port), "REPLICAS": str(REPLICAS)}

    def script(self, name: str, **env: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["bash", str(SWARM / name)],
            cwd=ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done

    def wait_ready(self) -> None:
        self.script("wait-ready.sh")

    def replicas(self) -> list[str]:
        """IDs of the running containers of the service's tasks."""
        listed = docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={self.name}_api")
        return listed.stdout.split()

    def select(self, model: str, dataset_prefix: str = "") -> str:
        """Choose ``model`` through the balancer; the chosen tag."""
        answer = httpx.post(
            f"{self.url}{dataset_prefix}/select_model", json={"model": model}, headers=ADMIN, timeout=30
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["tag"]

    def another_model(self) -> str:
        """The tag of a model other than the one answering now."""
        listed = httpx.get(f"{self.url}/models", timeout=30).json()
        return next(m["tag"] for m in listed["models"] if m["tag"] != listed["active"])

    def labelled(self, kind: str) -> list[str]:
        """Docker objects of this stack still present (``kind``: container, network, volume, service)."""
        command = ["ps", "-aq"] if kind == "container" else [kind, "ls", "-q"]
        return docker(*command, "--filter", f"label=com.docker.stack.namespace={self.name}").stdout.split()


def switch_and_watch(stack: Stack, tag: str) -> dict[str, float]:
    """Choose ``tag`` through the balancer; per replica container, the seconds until a prediction on
    its own localhost answered with it (the watchers run before the choice is made)."""
    watchers = {
        box: subprocess.Popen(
            ["docker", "exec", box, "python", "-c", WATCH, tag, "30", json.dumps(EXAMPLE)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for box in stack.replicas()
    }
    for watcher in watchers.values():
        assert watcher.stdout is not None and watcher.stdout.readline().strip() == "watching"
    assert stack.select(tag) == tag
    selected_at = time.time()
    delays = {}
    for box, watcher in watchers.items():
        out, _ = watcher.communicate(timeout=60)
        seen_at = json.loads(out)["seen_at"]
        assert seen_at is not None, f"replica {box} never answered with {tag}"
        delays[box] = round(max(seen_at - selected_at, 0.0), 3)
    print(f"follow delays after /select_model (s): {sorted(delays.values())}")
    return delays


def answered_model(box: str) -> str:
    """The model a replica's own localhost answers a prediction with."""
    script = (
        "import json, sys, urllib.request; r = urllib.request.Request('http://localhost:3000/predict', "
        "data=sys.argv[1].encode(), headers={'Content-Type': 'application/json'}); "
        "print(json.load(urllib.request.urlopen(r, timeout=30))['model'])"
    )
    return docker("exec", box, "python", "-c", script, json.dumps(EXAMPLE)).stdout.strip()


class Load:
    """Continuous predictions through the balancer from a few threads, counting every outcome that is
    not a 200 (status codes and transport errors)."""

    def __init__(self, url: str, clients: int = LOAD_CLIENTS):
        self.url, self.clients = url, clients
        self.answered = 0
        self.failures: Counter[str] = Counter()
        self.examples: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as http:
            while not self._stop.is_set():
                try:
                    response = http.post("/predict", json=EXAMPLE)
                    outcome = "200" if response.status_code == 200 else str(response.status_code)
                    detail = response.text[:300]
                except httpx.HTTPError as exc:
                    outcome, detail = type(exc).__name__, repr(exc)
                with self._lock:
                    if outcome == "200":
                        self.answered += 1
                    else:
                        self.failures[outcome] += 1
                        self.examples.append(detail)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=90)
        print(f"load through the balancer: {self.answered} answered, failures {dict(self.failures)}")


@pytest.fixture(scope="module")
def stack(image: str) -> Iterator[Stack]:
    """deploy/swarm/up.sh with the test image, 3 replicas, on a free port; down.sh afterwards."""
    active = docker("info", "-f", "{{.Swarm.LocalNodeState}}").stdout.strip() == "active"
    deployed = Stack(f"tabserve-test-{uuid.uuid4().hex[:6]}", free_port(), swarm_was_active=active)
    started = time.monotonic()
    try:
        deployed.script("up.sh", TABSERVE_IMAGE=image, PENGUIN_ADMIN_TOKEN=ADMIN_TOKEN)
        print(f"up.sh: {time.monotonic() - started:.1f} s")
        yield deployed
    finally:
        deployed.script("down.sh")


def test_every_replica_follows_a_choice_made_through_the_balancer(stack):
    assert len(stack.replicas()) == REPLICAS
    delays = switch_and_watch(stack, stack.another_model())
    assert len(delays) == REPLICAS
    assert max(delays.values()) <= FOLLOW_WITHIN, delays


def test_the_replicas_share_the_model_store_and_the_upload_folder(stack):
    boxes = stack.replicas()
    for target in ("/home/bentoml/bento/models", "/home/bentoml/data"):
        sources = {
            docker("inspect", "-f", f'{{{{range .Mounts}}}}{{{{if eq .Destination "{target}"}}}}'
                   f"{{{{.Name}}}}{{{{end}}}}{{{{end}}}}", box).stdout.strip()
            for box in boxes
        }  # fmt: skip
        assert len(sources) == 1 and "" not in sources, (target, sources)
    marker = f"/home/bentoml/data/probe-{uuid.uuid4().hex[:6]}"
    docker("exec", boxes[0], "sh", "-c", f"echo shared > {marker}")
    assert docker("exec", boxes[-1], "cat", marker).stdout.strip() == "shared"
    docker("exec", boxes[-1], "rm", marker)


#: Run inside a replica: the tags its own localhost lists for breast cancer (GET /breast_cancer/models).
LISTED = """
import json, urllib.request
listed = json.load(urllib.request.urlopen("http://localhost:3000/breast_cancer/models", timeout=30))
print(json.dumps([model["tag"] for model in listed["models"]]))
"""


def test_a_training_task_through_the_balancer_saves_models_every_replica_serves(stack):
    """/train calls all reach the replica running the task; what it saves is in the shared store."""
    form = {"algorithms": (None, "logistic_regression"), "quick": (None, "true")}
    with httpx.Client(base_url=stack.url, headers=ADMIN, timeout=60) as http:
        submitted = http.post("/breast_cancer/train/submit", files=form)
        assert submitted.status_code == 200, submitted.text
        task = {"task_id": submitted.json()["task_id"]}
        deadline = time.monotonic() + 600
        while (status := http.get("/breast_cancer/train/status", params=task).json())[
            "status"
        ] == "in_progress":
            assert time.monotonic() < deadline, status
            time.sleep(1)
        assert status["status"] == "completed", status
        (model,) = http.get("/breast_cancer/train/get", params=task).json()["models"]
        for box in stack.replicas():
            assert model["tag"] in json.loads(docker("exec", box, "python", "-c", LISTED).stdout), box
        assert stack.select(model["tag"], "/breast_cancer") == model["tag"]


def test_a_killed_replica_is_replaced_and_serves_the_shared_choice(stack):
    """Under load: the requests the killed replica had in flight are retried on another one."""
    chosen = stack.select(stack.another_model())
    before = set(stack.replicas())
    with Load(stack.url) as load:
        time.sleep(1)
        docker("kill", sorted(before)[0])
        assert wait_for(lambda: len(set(stack.replicas()) - before) == 1, timeout=300, interval=1)
        stack.wait_ready()
    assert load.answered > 0
    assert not load.failures, load.examples[:5]
    (newcomer,) = set(stack.replicas()) - before
    assert answered_model(newcomer) == chosen
    assert {answered_model(box) for box in stack.replicas()} == {chosen}


def test_a_rolling_restart_under_load_loses_no_request(stack):
    before = set(stack.replicas())
    started = time.monotonic()
    with Load(stack.url) as load:
        docker("service", "update", "--force", "--detach=false", "--quiet", f"{stack.name}_api")
        stack.wait_ready()
    print(f"rolling restart: {time.monotonic() - started:.1f} s")
    assert not before & set(stack.replicas())  # every replica was replaced
    assert load.answered > 0
    assert not load.failures, load.examples[:5]


def test_predictions_keep_answering_while_redis_restarts_and_switching_works_after(stack):
    redis = f"{stack.name}_redis"
    with Load(stack.url) as load:
        docker("service", "scale", "--detach=false", f"{redis}=0")
        refused = httpx.post(
            f"{stack.url}/select_model", json={"model": stack.another_model()}, headers=ADMIN, timeout=30
        )
        docker("service", "scale", "--detach=false", f"{redis}=1")
    assert refused.status_code == 503, refused.text
    assert "unreachable" in refused.json()["error"]
    assert load.answered > 0
    assert not load.failures, load.examples[:5]
    # The replicas reconnect by themselves (backing off to 2 s apart): switching works again.
    assert wait_for(lambda: _selects(stack), timeout=60, interval=0.5)
    delays = switch_and_watch(stack, stack.another_model())
    assert max(delays.values()) <= FOLLOW_WITHIN, delays


def _selects(stack: Stack) -> bool:
    """Whether a /select_model of the active model itself is accepted (Redis reachable again)."""
    active = httpx.get(f"{stack.url}/models", timeout=30).json()["active"]
    answer = httpx.post(f"{stack.url}/select_model", json={"model": active}, headers=ADMIN, timeout=30)
    return answer.status_code == 200


def test_down_leaves_nothing_behind(stack):
    stack.script("down.sh")
    for kind in ("container", "network", "volume"):
        assert stack.labelled(kind) == [], kind
    if stack.swarm_was_active:
        assert stack.labelled("service") == []
    else:  # up.sh started the swarm, so down.sh left it
        assert docker("info", "-f", "{{.Swarm.LocalNodeState}}").stdout.strip() == "inactive"
        assert docker("network", "ls", "-q", "--filter", "name=^docker_gwbridge$").stdout.strip() == ""
