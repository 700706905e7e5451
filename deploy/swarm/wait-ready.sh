#!/usr/bin/env bash
# Wait until the stack's service runs REPLICAS ready tasks, the balancer sends to exactly those, and a
# request through the published port answers. Used by up.sh, after `docker service scale` and by the tests.
#   STACK=tabserve REPLICAS=3 PORT=3000 deploy/swarm/wait-ready.sh [TIMEOUT_SECONDS]
set -euo pipefail
STACK="${STACK:-tabserve}"
REPLICAS="${REPLICAS:-3}"
PORT="${PORT:-3000}"
deadline=$((SECONDS + ${1:-300}))

# Tasks Swarm counts as running: with a health check, that means /readyz answered.
running_tasks() {
    docker service ps "${STACK}_api" --filter desired-state=running --format '{{.CurrentState}}' |
        grep -c '^Running' || true
}

# A rolling update in progress (a redeploy with a changed spec) is not ready yet.
updating() {
    case "$(docker service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "${STACK}_api")" in
        updating | rollback_started) return 0 ;;
        *) return 1 ;;
    esac
}

balancer_container() {
    docker ps -q --filter "label=com.docker.swarm.service.name=${STACK}_balancer" | head -1
}

# Replicas the balancer has found through DNS and whose /readyz passed its last check.
balancer_up() {
    local box
    box="$(balancer_container)"
    [ -n "$box" ] || { echo 0; return; }
    docker exec "$box" python3 -c '
import csv, io, urllib.request
rows = csv.DictReader(io.StringIO(urllib.request.urlopen("http://127.0.0.1:8404/stats;csv", timeout=2).read().decode().lstrip("# ")))
print(sum(r["pxname"] == "replicas" and r["svname"] != "BACKEND" and r["status"].startswith("UP") for r in rows))
' 2>/dev/null || echo 0
}

answers() {
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${PORT}/readyz', timeout=2)" 2>/dev/null
}

while [ "$SECONDS" -lt "$deadline" ]; do
    tasks="$(running_tasks)"
    up="$(balancer_up)"
    if [ "$tasks" -eq "$REPLICAS" ] && [ "$up" -eq "$REPLICAS" ] && ! updating && answers; then
        echo "Ready: $REPLICAS replicas of ${STACK}_api behind the balancer at http://127.0.0.1:${PORT}"
        exit 0
    fi
    sleep 1
done
echo "Not ready after ${1:-300} s: $(running_tasks) running tasks, $(balancer_up) replicas up in the balancer." >&2
docker service ps --no-trunc "${STACK}_api" >&2 || true
exit 1
