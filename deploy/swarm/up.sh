#!/usr/bin/env bash
# Deploy tabserve on Docker Swarm: the service's replicas, Redis for the shared model choices, the shared
# model store and upload volumes, and an HAProxy load balancer published on PORT. Starts a single-node swarm
# if this engine is in none, builds the images that are missing, and waits until every replica is ready.
#   REPLICAS=3 PORT=3000 PENGUIN_ADMIN_TOKEN=... deploy/swarm/up.sh
# Other settings: STACK (tabserve), TABSERVE_IMAGE (tabserve:latest, built by docker/containerize.sh from
# the model store when missing), HELPER_BASE (the Debian image Redis and HAProxy are installed on; default:
# the local base image docker/build-base-image.sh builds, for machines without a container registry),
# SWARM_ADVERTISE_ADDR (127.0.0.1: a one-node swarm needs no other address).
# deploy/swarm/down.sh removes it all.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export STACK="${STACK:-tabserve}"
export REPLICAS="${REPLICAS:-3}"
export PORT="${PORT:-3000}"
export TABSERVE_IMAGE="${TABSERVE_IMAGE:-tabserve:latest}"
export PENGUIN_ADMIN_TOKEN="${PENGUIN_ADMIN_TOKEN:-}"
HELPER_BASE="${HELPER_BASE:-tabserve-base:bookworm-py311}"
#: The node label recording that up.sh started the swarm, so down.sh leaves it again (and only then).
CREATED_LABEL="tabserve.swarm-created-by-up-sh"

if ! docker info >/dev/null 2>&1; then
    echo "No Docker engine answers: start one (docker/start-engine.sh does it on Debian)." >&2
    exit 1
fi

if ! docker image inspect "$TABSERVE_IMAGE" >/dev/null 2>&1; then
    echo "Building $TABSERVE_IMAGE (docker/containerize.sh)..."
    "$ROOT/docker/containerize.sh" "$TABSERVE_IMAGE"
fi

TABSERVE_IMAGE_ID="$(docker image inspect -f '{{.Id}}' "$TABSERVE_IMAGE")"
export TABSERVE_IMAGE_ID

# Redis and HAProxy from Debian's archive; each image is tagged with a hash of its folder, so a changed
# configuration makes a new tag and `docker stack deploy` rolls it out.
if ! docker image inspect "$HELPER_BASE" >/dev/null 2>&1; then
    "$ROOT/docker/build-base-image.sh" "$HELPER_BASE"
fi
helper_image() {
    local name="$1" digest
    digest="$(cd "$HERE/$name" && cat ./* | sha256sum | cut -c1-12)"
    local image="tabserve-$2:$digest"
    if ! docker image inspect "$image" >/dev/null 2>&1; then
        echo "Building $image..." >&2
        local log
        log="$(docker build -q --build-arg "BASE=$HELPER_BASE" -t "$image" "$HERE/$name" 2>&1)" ||
            { echo "$log" >&2; return 1; }
    fi
    echo "$image"
}
REDIS_IMAGE="$(helper_image redis redis)"
BALANCER_IMAGE="$(helper_image haproxy balancer)"
export REDIS_IMAGE BALANCER_IMAGE

if [ "$(docker info -f '{{.Swarm.LocalNodeState}}')" != "active" ]; then
    echo "Starting a single-node swarm..."
    docker swarm init --advertise-addr "${SWARM_ADVERTISE_ADDR:-127.0.0.1}" >/dev/null
    docker node update --label-add "$CREATED_LABEL=1" "$(docker info -f '{{.Swarm.NodeID}}')" >/dev/null
fi

# The shared volumes exist before the stack, with its label (so down.sh finds them): the model store gets
# the image's packaged models merged in (no file already there is replaced), which Docker would do only
# for an empty volume, so a newer image's models reach a store that already exists; both volumes belong
# to the image's non-root user.
for volume in models data; do
    docker volume create --label "com.docker.stack.namespace=$STACK" "${STACK}_$volume" >/dev/null
done
docker run --rm --user 0 --entrypoint sh \
    -v "${STACK}_models:/shared/models" -v "${STACK}_data:/shared/data" "$TABSERVE_IMAGE" -c \
    'cp -a -n "$BENTO_PATH/models/." /shared/models/ && chown "$(id -u bentoml):$(id -g bentoml)" /shared/models /shared/data'

deployed="$(docker stack deploy --resolve-image never --prune -c "$HERE/stack.yml" "$STACK" 2>&1)" ||
    { echo "$deployed" >&2; exit 1; }
echo "Deployed stack $STACK ($TABSERVE_IMAGE, $REPLICAS replicas); waiting until every replica is ready..."
"$HERE/wait-ready.sh"
