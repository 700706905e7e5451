"""The container image of the service, for ``bentoml build`` / ``bentoml containerize``.

Python packages are exactly the serving part of ``uv.lock`` (``requirements/serve.txt``, kept in sync
by a test). By default BentoML's own Debian base image is used; ``TABSERVE_BASE_IMAGE`` names a local
base image instead (``docker/build-base-image.sh``: for machines that reach no container registry),
without BentoML's build toolchain step, which serving does not need.

The models to package depend on what the store holds, so ``bentofile.yaml`` has none: ``python -m
tabserve.image BUILD_FILE`` (run by ``docker/containerize.sh``) writes a copy of it that lists every
declared dataset's latest models, or refuses when a dataset has none.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bentoml

if TYPE_CHECKING:
    from tabserve.datasets import DatasetSpec
    from tabserve.store.registry import ModelRecord

PYTHON_VERSION = "3.11"
REQUIREMENTS = "requirements/serve.txt"
BASE_IMAGE_ENV = "TABSERVE_BASE_IMAGE"
#: Where the active-model choice lives in the container: mount a volume here to keep it.
STATE_DIR = "/home/bentoml/state"
#: Where the stack and docker-compose.yaml keep training-data uploads (TABSERVE_DATA_DIR): a volume here.
DATA_DIR = "/home/bentoml/data"
#: The generic part of the build configuration, at the project root.
BENTOFILE = Path(__file__).resolve().parent.parent / "bentofile.yaml"


def service_image() -> bentoml.images.Image:
    base = os.environ.get(BASE_IMAGE_ENV)
    if base:
        image = bentoml.images.Image(
            base_image=base, python_version=PYTHON_VERSION, distro="none", lock_python_packages=False
        )
    else:
        image = bentoml.images.Image(python_version=PYTHON_VERSION, lock_python_packages=False)
    image = image.requirements_file(REQUIREMENTS)
    # The state and data folders must exist, owned by the non-root user, for named volumes to inherit them.
    return image.run(f"mkdir -p {STATE_DIR} {DATA_DIR} && chown -R 1034:1034 {STATE_DIR} {DATA_DIR}")


def latest_tags(records: Iterable[ModelRecord]) -> list[str]:
    """Each algorithm's newest version as a full ``name:version`` tag (not ``name:latest``), so the
    bento packages exactly the versions checked and listed when the build started."""
    newest: dict[str, ModelRecord] = {}
    for record in records:
        if record.algorithm not in newest or record.created > newest[record.algorithm].created:
            newest[record.algorithm] = record
    return sorted(record.tag for record in newest.values())


def packaged_models(specs: Iterable[DatasetSpec]) -> dict[str, list[str]]:
    """Per dataset, the tags the image packages: each algorithm's latest model in the store."""
    from tabserve.store.registry import list_records

    return {spec.name: latest_tags(list_records(spec.name)) for spec in specs}


def untrained_message(models: dict[str, list[str]]) -> str | None:
    """Why the image cannot be built, when a dataset has no model at all (it could not answer)."""
    empty = [name for name, tags in models.items() if not tags]
    if not empty:
        return None
    return (
        f"The model store has no model for {', '.join(empty)}: run `python train.py --dataset "
        f"{','.join(empty)}` (or `python train.py` for every dataset) first, then build again."
    )


def partial_notes(models: dict[str, list[str]]) -> list[str]:
    """One line per dataset trained with only some algorithms: it is packaged and serves those."""
    from tabserve.store.registry import model_name
    from tabserve.training.algorithms import ALGORITHMS

    notes = []
    for dataset, tags in models.items():
        names = {tag.partition(":")[0] for tag in tags}
        missing = [a for a in ALGORITHMS if model_name(dataset, a) not in names]
        if tags and missing:
            notes.append(
                f"{dataset}: no {', '.join(missing)} model; the image serves the others "
                f"(`python train.py --dataset {dataset} --algorithms {','.join(missing)}` adds them)."
            )
    return notes


def build_config(models: dict[str, list[str]], template: Path = BENTOFILE) -> dict[str, Any]:
    """``bentofile.yaml`` with the models to package and a label naming the datasets they serve."""
    import yaml

    config = yaml.safe_load(template.read_text())
    config["models"] = [tag for tags in models.values() for tag in tags]
    config.setdefault("labels", {})["datasets"] = ",".join(models)
    return config


def main(argv: list[str]) -> int:
    """Write the build-time bentofile to ``argv[0]``; exit 1 with the training command to run when a
    dataset has no model."""
    import yaml

    from tabserve.datasets import DATASETS

    if len(argv) != 1:
        print("usage: python -m tabserve.image BUILD_BENTOFILE", file=sys.stderr)
        return 2
    models = packaged_models(DATASETS.values())
    refusal = untrained_message(models)
    if refusal:
        print(refusal, file=sys.stderr)
        return 1
    for note in partial_notes(models):
        print(f"Note: {note}", file=sys.stderr)
    config = build_config(models)
    Path(argv[0]).write_text(yaml.safe_dump(config, sort_keys=False))
    print(f"Packaging {len(config['models'])} models: {', '.join(config['models'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
