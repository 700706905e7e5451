#!/usr/bin/env bash
# /predict through the Docker Swarm balancer (deploy/swarm) with 1 replica, then with REPLICAS replicas:
# requests/s and p99 latency for each, measured by wrk (Debian's package) from this machine.
#   load_tests/scale_out.sh [SECONDS] [CONNECTIONS]      defaults: 30 s, 32 connections
# Environment: REPLICAS (the larger count, 3), PORT (3000), STACK (tabserve), WRK_THREADS (2). Uses the
# running stack if there is one (and leaves it at the replica count it found); otherwise deploys one with
# deploy/swarm/up.sh and removes it afterwards with down.sh. Each measured run follows `docker service
# scale`, a wait until the balancer sends to exactly that many ready replicas, and a 5-second warm-up.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SWARM="$HERE/../deploy/swarm"
SECONDS_PER_RUN="${1:-30}"
CONNECTIONS="${2:-32}"
export STACK="${STACK:-tabserve}"
export PORT="${PORT:-3000}"
MOST="${REPLICAS:-3}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

work="$(mktemp -d -t tabserve-scale-out-XXXXXX)"
found="$(docker service inspect -f '{{.Spec.Mode.Replicated.Replicas}}' "${STACK}_api" 2>/dev/null || true)"
cleanup() {
    if [ -n "$found" ]; then
        docker service scale --detach=false "${STACK}_api=$found" >/dev/null 2>&1 || true
    else
        "$SWARM/down.sh" >/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
if [ -z "$found" ]; then
    REPLICAS=1 "$SWARM/up.sh"
fi

cat >"$work/predict.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"island": "Biscoe", "bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181.0, "body_mass_g": 3750.0, "sex": "male"}'
LUA
url="http://127.0.0.1:$PORT/predict"
wrk_run() {
    wrk -t"${WRK_THREADS:-2}" -c"$CONNECTIONS" "$@" -s "$work/predict.lua" "$url"
}

echo "$(nproc) CPUs here; ${SECONDS_PER_RUN} s per run, $CONNECTIONS connections, through the balancer at $url"
results=()
for replicas in 1 "$MOST"; do
    docker service scale --detach=false "${STACK}_api=$replicas" >/dev/null
    REPLICAS="$replicas" "$SWARM/wait-ready.sh" >/dev/null
    wrk_run -d5s >/dev/null
    wrk_run -d"${SECONDS_PER_RUN}s" --latency >"$work/wrk.txt"
    rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
    non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt")
    errors=$(awk '/Socket errors/ {print $0}' "$work/wrk.txt")
    line="$replicas replica(s): ${rps} req/s, p99 ${p99}, non-2xx ${non2xx:-0}${errors:+, $errors}"
    echo "$line"
    results+=("$rps")
done
awk -v one="${results[0]}" -v most="${results[1]}" -v n="$MOST" \
    'BEGIN {printf "req/s with %s replicas / with 1: %.2f\n", n, most / one}'
