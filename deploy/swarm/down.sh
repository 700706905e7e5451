#!/usr/bin/env bash
# Remove what deploy/swarm/up.sh deployed: the stack's services, their containers, its network and volumes
# (the shared model store, uploads and Redis' data go too), and the swarm itself if up.sh started it.
#   STACK=tabserve deploy/swarm/down.sh
set -euo pipefail
STACK="${STACK:-tabserve}"
CREATED_LABEL="tabserve.swarm-created-by-up-sh"
stack_filter="label=com.docker.stack.namespace=$STACK"

if [ "$(docker info -f '{{.Swarm.LocalNodeState}}')" != "active" ]; then
    echo "No swarm here: nothing to remove."
    exit 0
fi
docker stack rm "$STACK" >/dev/null 2>&1 || true

# `docker stack rm` returns before the tasks' containers and the network are gone, and a volume in use by
# a container cannot be removed.
for _ in $(seq 1 120); do
    if [ -z "$(docker ps -aq --filter "$stack_filter")" ] && [ -z "$(docker network ls -q --filter "$stack_filter")" ]; then
        break
    fi
    sleep 1
done
volumes="$(docker volume ls -q --filter "$stack_filter")"
if [ -n "$volumes" ]; then
    # shellcheck disable=SC2086
    docker volume rm $volumes >/dev/null
fi
echo "Removed stack $STACK."

node="$(docker info -f '{{.Swarm.NodeID}}')"
if [ -n "$(docker node inspect -f "{{index .Spec.Labels \"$CREATED_LABEL\"}}" "$node" 2>/dev/null)" ]; then
    docker swarm leave --force >/dev/null
    # Swarm's bridge to the host outlives the swarm; remove it unless something else uses it.
    docker network rm docker_gwbridge >/dev/null 2>&1 || true
    echo "Left the swarm up.sh had started."
fi
