"""Every curl example in the README runs against a real server and answers in the shape it shows.

The retraining examples are one flow (submit, poll, read the result, select, predict): they run in
order, in one folder, against a server of their own (the versions they train stay out of the
session's store), with time for the training.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from load_tests.server import ROOT, Server
from tabserve.store.registry import ModelRecord
from tests.conftest import server_on_copy

FENCE = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)


def curl_examples() -> list[tuple[str, str]]:
    """(bash block, the output block right after it) for every bash block that calls curl."""
    blocks = FENCE.findall((ROOT / "README.md").read_text())
    return [
        (code, blocks[i + 1][1])
        for i, (lang, code) in enumerate(blocks[:-1])
        if lang == "bash" and "curl" in code and "localhost:3000" in code and blocks[i + 1][0] != "bash"
    ]


RETRAINING = "## Retraining through the API"


def retraining_examples() -> set[str]:
    """The bash blocks of the README's retraining section."""
    text = (ROOT / "README.md").read_text()
    start = text.index(RETRAINING)
    section = text[start : text.index("\n## ", start + len(RETRAINING))]
    return {code for lang, code in FENCE.findall(section) if lang == "bash"}


@pytest.fixture(scope="module")
def training_server(trained: list[ModelRecord], logs: Path) -> Iterator[Server]:
    running = server_on_copy("readme-training", logs)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def training_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the retraining flow keeps its files from one step to the next (task.json, ...)."""
    return tmp_path_factory.mktemp("readme-training")


#: Objects whose keys depend on the model shown (each algorithm has its own hyper-parameters).
FREE_FORM = frozenset({"hyperparameters"})


def shape(value: Any, key: str | None = None) -> Any:
    """The structure of a JSON value: object keys with their shapes, each list's distinct element
    shapes (in any order), and "value" for a scalar: which model is active, or selected, differs
    between the README's store and the test's, the fields do not."""
    if key in FREE_FORM and isinstance(value, dict):
        return "object"
    if isinstance(value, dict):
        return {k: shape(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return sorted({json.dumps(shape(item), sort_keys=True) for item in value})
    return "value"


def test_the_readme_has_an_example_for_every_endpoint():
    examples = " ".join(code for code, _ in curl_examples())
    routes = ("/predict ", "/predict_batch", "/predict_csv", "/models", "/model_info", "/select_model")
    for route in (*routes, "/train/submit", "/train/status", "/train/get"):
        assert f"localhost:3000{route}" in examples + " ", route


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README examples use curl")
@pytest.mark.parametrize(("code", "shown"), curl_examples())
def test_readme_example_answers_as_shown(request, client, tmp_path, code, shown):
    host, cwd, timeout = client.base_url.netloc.decode(), tmp_path, 60
    if code in retraining_examples():
        host = request.getfixturevalue("training_server").url.split("//", 1)[1]
        cwd, timeout = request.getfixturevalue("training_folder"), 600
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code.replace("localhost:3000", host)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        # The README's commands run in the project's environment (`source .venv/bin/activate`).
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
    )
    assert result.returncode == 0, result.stderr
    answer, shown = result.stdout.strip(), shown.strip()
    if shown.startswith("HTTP/"):
        assert answer.splitlines()[0].strip() == shown.splitlines()[0].strip()
        assert "x-model-tag:" in answer.lower()
        answer, shown = answer.split("\n\n", 1)[-1], shown.split("\n\n", 1)[-1]
    if shown.startswith("{"):
        # The example is the whole answer: every field the API returns is shown, none is made up.
        assert shape(json.loads(answer)) == shape(json.loads(shown))
        if '"error"' in shown:
            assert json.loads(answer)["error"].split(":")[0] == re.search(r'"error": ?"([^:"]*)', shown)[1]
    else:
        assert answer.splitlines()[0] == shown.splitlines()[0]
        assert len(answer.splitlines()) == len(shown.splitlines())
