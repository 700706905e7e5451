"""Call every operation of this service through a client openapi-python-client generated.

The training tasks' calls train new versions: tests/test_openapi.py runs this against a server of
its own, on a copy of the model store.

Run by tests/test_openapi.py in its own process (the generated package must not leak into the
test process): ``python generated_client_calls.py PACKAGE_DIR BASE_URL ADMIN_TOKEN``. Exits non-zero
if a call fails, parses to the wrong type, or an operation of the generated client is not called.
"""

from __future__ import annotations

import importlib
import io
import pkgutil
import sys
import time
import typing
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from tabserve.datasets import AT_ROOT, DATASETS, DatasetSpec
from tabserve.http.routes import Route, service_routes


def operations(package: str) -> dict[str, ModuleType]:
    """Every generated operation module, by name (one per operationId)."""
    api = importlib.import_module(f"{package}.api")
    return {
        info.name.rsplit(".", 1)[-1]: importlib.import_module(info.name)
        for info in pkgutil.walk_packages(api.__path__, f"{package}.api.")
        if not info.ispkg
    }


def expect(module: ModuleType, client: Any, kind: type | None = None, **kwargs: Any) -> Any:
    """Call ``module`` and check the answer is a 200 that parsed as ``kind`` (not an ErrorBody)."""
    response = module.sync_detailed(client=client, **kwargs)
    assert response.status_code == 200, (module.__name__, response.status_code, response.content[:500])
    if kind is not None:
        assert isinstance(response.parsed, kind), (module.__name__, type(response.parsed))
    return response.parsed


def body_type(module: ModuleType) -> Any:
    """The generated class of an operation's request body (``X | Unset`` where it may be left out)."""
    hint = typing.get_type_hints(module.sync_detailed)["body"]
    return next((kind for kind in typing.get_args(hint) if hasattr(kind, "from_dict")), hint)


def csv_text(spec: DatasetSpec) -> bytes:
    """Two rows of ``spec``'s example as a CSV upload, the second with every optional cell empty."""
    names = [feature.name for feature in spec.fields_in_display_order]
    required = {feature.name for feature in spec.categorical if feature.required}
    rows = [[str(spec.example[name]) for name in names]]
    rows.append([str(spec.example[name]) if name in required else "" for name in names])
    return "\n".join(",".join(row) for row in [names, *rows]).encode() + b"\n"


def calls(package: str, url: str, token: str) -> dict[str, Callable[[dict[str, ModuleType]], None]]:
    """What to check for each operation, by the name of its generated module: every route of the
    route table, so a dataset added to the service is called too."""
    client_module = importlib.import_module(f"{package}.client")
    models = importlib.import_module(f"{package}.models")
    types = importlib.import_module(f"{package}.types")
    settings: dict[str, Any] = {"base_url": url, "timeout": 60, "raise_on_unexpected_status": True}
    anonymous = client_module.Client(**settings)
    admin = client_module.AuthenticatedClient(token=token, **settings)

    def predict(spec: DatasetSpec, operation: ModuleType) -> None:
        optional = next(
            f.name for f in (*spec.categorical, *spec.numeric) if not getattr(f, "required", False)
        )
        for value in (None, spec.example[optional]):
            body = body_type(operation).from_dict({**spec.example, optional: value})
            assert body.to_dict()[optional] == value  # sent as an explicit null, not dropped
            answer = expect(operation, anonymous, None, body=body)
            label = getattr(answer, spec.target)
            assert getattr(label, "value", label) in answer.probabilities.to_dict()

    def predict_batch(spec: DatasetSpec, operation: ModuleType) -> None:
        body = body_type(operation).from_dict({spec.rows_noun: [spec.example, spec.example]})
        assert len(expect(operation, anonymous, None, body=body).predictions) == 2

    def predict_csv(spec: DatasetSpec, operation: ModuleType) -> None:
        upload = types.File(payload=io.BytesIO(csv_text(spec)), file_name="rows.csv", mime_type="text/csv")
        answer = expect(operation, anonymous, str, body=body_type(operation)(file=upload))
        lines = answer.splitlines()
        assert f",{spec.target},confidence," in lines[0] and len(lines) == 3, lines

    def select_model(spec: DatasetSpec, operation: ModuleType) -> None:
        body = body_type(operation)(model="logistic_regression")
        refused = operation.sync_detailed(client=anonymous, body=body)
        assert refused.status_code == 401 and isinstance(refused.parsed, models.ErrorBody), refused
        assert expect(operation, admin, None, body=body).algorithm == "logistic_regression"

    def list_models(spec: DatasetSpec, operation: ModuleType) -> None:
        answer = expect(operation, anonymous, models.ModelList)
        assert answer.models and answer.active in [m.tag for m in answer.models]

    def model_info(spec: DatasetSpec, operation: ModuleType) -> None:
        answer = expect(operation, anonymous, models.ModelInfo)
        assert answer.dataset == spec.name and answer.created.year > 2000

    checks = {
        "predict": predict,
        "predict_batch": predict_batch,
        "predict_csv": predict_csv,
        "select_model": select_model,
        "models": list_models,
        "model_info": model_info,
    }

    def check(route: Route) -> Callable[[dict[str, ModuleType]], None]:
        return lambda ops: checks[route.operation.name](route.spec, ops[module_name(route)])

    def task_checks(route: Route) -> dict[str, Callable[[dict[str, ModuleType]], None]]:
        """A training task's endpoints, called in order: a quick training of the packaged data,
        polled to its result; then a retry of it, canceled before it saves anything."""
        tasks: dict[str, str] = {}
        name = f"tabserve_{route.api_name}"

        def submit(ops: dict[str, ModuleType]) -> None:
            operation = ops[f"{name}_submit"]
            body = body_type(operation)(algorithms="logistic_regression", quick=True)
            refused = operation.sync_detailed(client=anonymous, body=body)
            assert refused.status_code == 401 and isinstance(refused.parsed, models.ErrorBody), refused
            tasks["trained"] = expect(operation, admin, models.TaskStatus, body=body).task_id

        def status(ops: dict[str, ModuleType]) -> None:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                answer = expect(ops[f"{name}_status"], admin, models.TaskStatus, task_id=tasks["trained"])
                if answer.status.value != "in_progress":
                    break
                time.sleep(1)
            assert answer.status.value == "completed", answer

        def get(ops: dict[str, ModuleType]) -> None:
            answer = expect(
                ops[f"{name}_get"], admin, models.TrainingOutcomeIODescriptor, task_id=tasks["trained"]
            )
            assert answer.dataset == route.spec.name and answer.models[0].algorithm == "logistic_regression"

        def retry(ops: dict[str, ModuleType]) -> None:
            tasks["retried"] = expect(
                ops[f"{name}_retry"], admin, models.TaskStatus, task_id=tasks["trained"]
            ).task_id

        def cancel(ops: dict[str, ModuleType]) -> None:
            answer = expect(ops[f"{name}_cancel"], admin, models.TaskStatus, task_id=tasks["retried"])
            assert answer.status.value == "canceled", answer

        return {
            f"{name}_{endpoint}": check
            for endpoint, check in (
                ("submit", submit),
                ("status", status),
                ("get", get),
                ("retry", retry),
                ("cancel", cancel),
            )
        }

    def plain(name: str) -> Callable[[dict[str, ModuleType]], None]:
        return lambda ops: expect(ops[name], anonymous)

    routes = service_routes(DATASETS.values(), AT_ROOT)
    return {
        **{module_name(route): check(route) for route in routes if not route.operation.task},
        **{
            name: check
            for route in routes
            if route.operation.task
            for name, check in task_checks(route).items()
        },
        **{name: plain(name) for name in ("get_livez", "get_readyz", "get_healthz", "get_metrics")},
    }


def module_name(route: Route) -> str:
    """The generated module of a route: named after its operationId (BentoML's ``<service>_<api>``
    for POST routes, ``<api><path>_get`` for the GET routes)."""
    if route.operation.method == "GET":
        return f"{route.api_name}{route.path.replace('/', '_')}_get"
    return f"tabserve_{route.api_name}"


def main(package_dir: Path, url: str, token: str) -> None:
    (package,) = [path.name for path in package_dir.iterdir() if (path / "api").is_dir()]
    sys.path.insert(0, str(package_dir))
    ops = operations(package)
    checks = calls(package, url, token)
    assert set(checks) == set(ops), f"not called: {set(ops) - set(checks)}, gone: {set(checks) - set(ops)}"
    for name, check in checks.items():
        check(ops)
        print("ok", name)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
