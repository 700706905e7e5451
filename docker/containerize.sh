#!/usr/bin/env bash
# bentoml build + bentoml containerize of every declared dataset's latest models, choosing the base image
# automatically: BentoML's default base image when a container registry answers, otherwise a local
# Debian 12 base built by docker/build-base-image.sh. Prints the image's size and the build time.
#   docker/containerize.sh [IMAGE]      default IMAGE: tabserve:latest, also tagged penguin-classifier:latest
source "$(dirname "$0")/../scripts/env.sh"
DEFAULT_IMAGE="tabserve:latest"
# The default image's name before the service served several datasets; README commands and existing
# docker-compose setups still run it.
FORMER_IMAGE="penguin-classifier:latest"
IMAGE="${1:-$DEFAULT_IMAGE}"
LOCAL_BASE="tabserve-base:bookworm-py311"
started=$SECONDS

# The build configuration: bentofile.yaml plus the models, pinned to the versions found now. It lives
# outside the build context, which is the project root.
BUILD_DIR="$(mktemp -d -t tabserve-build-XXXXXX)"
trap 'rm -rf "$BUILD_DIR"' EXIT
BENTOFILE="$BUILD_DIR/bentofile.yaml"
python -m tabserve.image "$BENTOFILE"

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

BENTO="$(bentoml build --bentofile "$BENTOFILE" --output tag . | tail -1 | sed 's/^__tag__://')"
log="$BUILD_DIR/containerize.log"
bentoml containerize "$BENTO" -t "$IMAGE" >"$log" 2>&1 || { tail -40 "$log"; exit 1; }
if [ "$IMAGE" = "$DEFAULT_IMAGE" ]; then
    docker tag "$IMAGE" "$FORMER_IMAGE"
fi
size=$(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')
echo "Built $IMAGE from $BENTO: $size, $((SECONDS - started)) s."
