"""Every curl example in the README runs against a real server and answers in the shape it shows."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest

from load_tests.server import ROOT

FENCE = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)


def curl_examples() -> list[tuple[str, str]]:
    """(bash block, the output block right after it) for every bash block that calls curl."""
    blocks = FENCE.findall((ROOT / "README.md").read_text())
    return [
        (code, blocks[i + 1][1])
        for i, (lang, code) in enumerate(blocks[:-1])
        if lang == "bash" and "curl" in code and "localhost:3000" in code and blocks[i + 1][0] != "bash"
    ]


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
    for route in ("/predict ", "/predict_batch", "/predict_csv", "/models", "/model_info", "/select_model"):
        assert f"localhost:3000{route}" in examples + " ", route


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README examples use curl")
@pytest.mark.parametrize(("code", "shown"), curl_examples())
def test_readme_example_answers_as_shown(client, tmp_path, code, shown):
    host = client.base_url.netloc.decode()
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code.replace("localhost:3000", host)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
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
