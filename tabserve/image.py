"""The container image of the service, for ``bentoml build`` / ``bentoml containerize``.

Python packages are exactly the serving part of ``uv.lock`` (``requirements/serve.txt``, kept in sync
by a test). By default BentoML's own Debian base image is used; ``TABSERVE_BASE_IMAGE`` names a local
base image instead (``docker/build-base-image.sh``: for machines that reach no container registry),
without BentoML's build toolchain step, which serving does not need.
"""

from __future__ import annotations

import os

import bentoml

PYTHON_VERSION = "3.11"
REQUIREMENTS = "requirements/serve.txt"
BASE_IMAGE_ENV = "TABSERVE_BASE_IMAGE"
#: Where the active-model choice lives in the container: mount a volume here to keep it.
STATE_DIR = "/home/bentoml/state"


def service_image() -> bentoml.images.Image:
    base = os.environ.get(BASE_IMAGE_ENV)
    if base:
        image = bentoml.images.Image(
            base_image=base, python_version=PYTHON_VERSION, distro="none", lock_python_packages=False
        )
    else:
        image = bentoml.images.Image(python_version=PYTHON_VERSION, lock_python_packages=False)
    image = image.requirements_file(REQUIREMENTS)
    # The state folder must exist, owned by the non-root user, for a named volume to inherit it.
    return image.run(f"mkdir -p {STATE_DIR} && chown -R 1034:1034 {STATE_DIR}")
