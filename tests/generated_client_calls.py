"""Call every operation of this service through a client openapi-python-client generated.

Run by tests/test_openapi.py in its own process (the generated package must not leak into the
test process): ``python generated_client_calls.py PACKAGE_DIR BASE_URL ADMIN_TOKEN``. Exits non-zero
if a call fails, parses to the wrong type, or an operation of the generated client is not called.
"""

from __future__ import annotations

import importlib
import io
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

PENGUIN = {"island": "Biscoe", "bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181.0}
CSV = b"island,bill_length_mm,sex\nBiscoe,39.1,male\nDream,,\n"


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


def calls(package: str, url: str, token: str) -> dict[str, Callable[[dict[str, ModuleType]], None]]:
    """What to check for each operation, by the name of its generated module."""
    client_module = importlib.import_module(f"{package}.client")
    models = importlib.import_module(f"{package}.models")
    types = importlib.import_module(f"{package}.types")
    settings: dict[str, Any] = {"base_url": url, "timeout": 60, "raise_on_unexpected_status": True}
    anonymous = client_module.Client(**settings)
    admin = client_module.AuthenticatedClient(token=token, **settings)

    def predict(ops: dict[str, ModuleType]) -> None:
        for sex in (None, "female"):
            body = models.PenguinIODescriptor.from_dict({**PENGUIN, "body_mass_g": None, "sex": sex})
            assert body.to_dict()["sex"] == sex  # sent as an explicit null, not dropped
            operation = ops["penguin_classifier_predict"]
            answer = expect(operation, anonymous, models.PenguinPredictionIODescriptor, body=body)
            assert answer.species.value in answer.probabilities.to_dict()

    def predict_batch(ops: dict[str, ModuleType]) -> None:
        body = models.PredictBatchInput.from_dict({"penguins": [PENGUIN, {"island": "Dream", "sex": None}]})
        operation = ops["penguin_classifier_predict_batch"]
        answer = expect(operation, anonymous, models.PenguinBatchPredictionIODescriptor, body=body)
        assert len(answer.predictions) == 2

    def predict_csv(ops: dict[str, ModuleType]) -> None:
        upload = types.File(payload=io.BytesIO(CSV), file_name="penguins.csv", mime_type="text/csv")
        body = models.PredictCsvInput(file=upload)
        answer = expect(ops["penguin_classifier_predict_csv"], anonymous, str, body=body)
        lines = answer.splitlines()
        assert lines[0].startswith("island,bill_length_mm,sex,species") and len(lines) == 3, lines

    def select_model(ops: dict[str, ModuleType]) -> None:
        operation = ops["penguin_classifier_select_model"]
        body = models.SelectModelInput(model="logistic_regression")
        refused = operation.sync_detailed(client=anonymous, body=body)
        assert refused.status_code == 401 and isinstance(refused.parsed, models.ErrorBody), refused
        answer = expect(operation, admin, models.ModelInfoIODescriptor, body=body)
        assert answer.algorithm == "logistic_regression"

    def list_models(ops: dict[str, ModuleType]) -> None:
        answer = expect(ops["list_models_models_get"], anonymous, models.ModelList)
        assert answer.models and answer.active in [m.tag for m in answer.models]

    def model_info(ops: dict[str, ModuleType]) -> None:
        answer = expect(ops["model_info_model_info_get"], anonymous, models.ModelInfo)
        assert answer.classes and answer.created.year > 2000

    def plain(name: str) -> Callable[[dict[str, ModuleType]], None]:
        return lambda ops: expect(ops[name], anonymous)

    return {
        "penguin_classifier_predict": predict,
        "penguin_classifier_predict_batch": predict_batch,
        "penguin_classifier_predict_csv": predict_csv,
        "penguin_classifier_select_model": select_model,
        "list_models_models_get": list_models,
        "model_info_model_info_get": model_info,
        **{name: plain(name) for name in ("get_livez", "get_readyz", "get_healthz", "get_metrics")},
    }


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
