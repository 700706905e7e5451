"""The image's Python packages are exactly the serving part of uv.lock."""

import os
import shlex
import shutil
import subprocess

from load_tests.server import ROOT

#: What docker/containerize.sh packages: no dev tools. The ONNX converter is in: the /train task trains
#: (and converts) inside the service.
EXPORT = "export --no-dev --no-hashes --frozen --no-emit-project --no-header --no-annotate"


def test_serving_requirements_match_the_lock_file():
    # scripts/env.sh names the uv it found or installed (.tools/bin/uv on a machine without one).
    uv = shlex.split(
        os.environ.get("UV_COMMAND") or shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    )
    exported = subprocess.run([*uv, *EXPORT.split()], cwd=ROOT, capture_output=True, text=True)
    assert exported.returncode == 0, exported.stderr
    committed = (ROOT / "requirements" / "serve.txt").read_text()
    assert exported.stdout == committed, (
        f"requirements/serve.txt is stale: regenerate it with `uv {EXPORT} -o requirements/serve.txt`"
    )
