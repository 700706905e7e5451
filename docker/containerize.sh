#!/usr/bin/env bash
# bentoml build + bentoml containerize, choosing the base image automatically:
# BentoML's default base image when a container registry answers, otherwise a local Debian 12 base
# built by docker/build-base-image.sh. Prints the image's size and the build time.
#   docker/containerize.sh [IMAGE]      default IMAGE: penguin-classifier:latest
source "$(dirname "$0")/../scripts/env.sh"
IMAGE="${1:-penguin-classifier:latest}"
LOCAL_BASE="tabserve-base:bookworm-py311"
started=$SECONDS

python - <<'PY'
import sys

from tabserve.training.algorithms import ALGORITHMS
from tabserve.store.registry import list_records

trained = {r.algorithm for r in list_records("penguins")}
missing = [a for a in ALGORITHMS if a not in trained]
if missing:
    sys.exit(
        f"The model store has no {', '.join(missing)} model: run `python train.py` "
        "(or scripts/serve.sh) first, then build again."
    )
PY

if ! docker info >/dev/null 2>&1; then
    echo "No Docker engine answers: start one (docker/start-engine.sh does it on Debian)." >&2
    exit 1
fi
# BentoML builds with BuildKit. Debian's docker client has it built in; a newer client without the
# buildx plugin refuses, so prefer Debian's, or fall back to the classic builder.
if ! docker buildx version >/dev/null 2>&1; then
    if [ -x /usr/bin/docker ]; then
        export PATH="/usr/bin:$PATH"
    else
        export DOCKER_BUILDKIT=0
    fi
fi

if timeout 15 docker pull -q python:3.11-slim >/dev/null 2>&1; then
    echo "A registry answers: BentoML's default base image."
    unset TABSERVE_BASE_IMAGE
else
    echo "No container registry answers: local base image $LOCAL_BASE."
    docker image inspect "$LOCAL_BASE" >/dev/null 2>&1 || "$(dirname "$0")/build-base-image.sh" "$LOCAL_BASE"
    export TABSERVE_BASE_IMAGE="$LOCAL_BASE"
fi

BENTO="$(bentoml build --output tag | tail -1 | sed 's/^__tag__://')"
log="$(mktemp)"
bentoml containerize "$BENTO" -t "$IMAGE" >"$log" 2>&1 || { tail -40 "$log"; exit 1; }
rm -f "$log"
size=$(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')
echo "Built $IMAGE from $BENTO: $size, $((SECONDS - started)) s."
