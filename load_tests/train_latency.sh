#!/usr/bin/env bash
# /predict latency while the service trains: idle, then during a full-grid /train task.
#   load_tests/train_latency.sh [SECONDS]       e.g. load_tests/train_latency.sh 30
# One worker pinned to CPU 1 serves a quick-trained store (as load_tests/compare.sh pins it); wrk
# (Debian's package), pinned to CPU 0, posts the README's penguin to /predict with 16 connections:
# once idle, then while a training task of every algorithm on full grids runs (its process is the
# worker's child, so it shares CPU 1, at the lowest priority). Each run follows an unreported
# 5-second warm-up. Prints p50 and p99 of both runs, their failed requests (non-2xx and socket
# errors) and the p99 ratio (target: at most 3, no failures); the training is canceled afterwards.
source "$(dirname "$0")/../scripts/env.sh"
SECONDS_PER_RUN="${1:-30}"
PORT=3903
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
[[ "$(nproc)" -ge 2 ]] || { echo "needs 2 CPUs: one for the server, one for wrk" >&2; exit 1; }

work="$(mktemp -d -t tabserve-train-latency-XXXXXX)"
export BENTOML_HOME="$work/bentoml" TABSERVE_STATE_DIR="$work/state" BENTOML_DO_NOT_TRACK=true
export BENTOML_CONFIG="$PWD/configuration.yaml" PENGUIN_ADMIN_TOKEN="bench-$RANDOM$RANDOM"
AUTH="Authorization: Bearer $PENGUIN_ADMIN_TOKEN"
URL="http://127.0.0.1:$PORT"
server=""
cleanup() {
    if [[ -n "$server" ]]; then
        pkill -TERM -P "$server" 2>/dev/null
        kill "$server" 2>/dev/null
        wait "$server" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT
cat >"$work/predict.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"island": "Biscoe", "bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181.0, "body_mass_g": 3750.0, "sex": "male"}'
LUA

echo "training the served models (quick grids) ..." >&2
.venv/bin/python train.py --quick --dataset penguins >"$work/train.log" 2>&1
taskset -c 1 .venv/bin/bentoml serve service:Svc --host 127.0.0.1 --port "$PORT" >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 240); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.5; done
curl -sf "$URL/readyz" >/dev/null || { echo "the server did not start; see its log:" >&2; tail "$work/serve.log" >&2; exit 1; }

measure() {  # name: a warm-up, then one measured run; prints "name p50 p99 failures"
    taskset -c 0 wrk -t1 -c16 -d5s -s "$work/predict.lua" "$URL/predict" >/dev/null
    taskset -c 0 wrk -t1 -c16 -d"${SECONDS_PER_RUN}s" --latency -s "$work/predict.lua" "$URL/predict" >"$work/$1.txt"
    local p50 p99 non2xx socket
    p50=$(awk '$1 == "50%" {print $2}' "$work/$1.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$work/$1.txt")
    non2xx=$(awk '/Non-2xx/ {print $5}' "$work/$1.txt")
    socket=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$work/$1.txt")
    echo "$1 $p50 $p99 $(( ${non2xx:-0} + ${socket:-0} )) $(awk '/Requests\/sec/ {print $2}' "$work/$1.txt")"
}

status() {
    curl -s "$URL/train/status?task_id=$1" -H "$AUTH" | .venv/bin/python -c 'import json, sys; print(json.load(sys.stdin)["status"])'
}

idle=$(measure idle)
task=$(curl -s -X POST "$URL/train/submit" -H "$AUTH" -F quick=false |
    .venv/bin/python -c 'import json, sys; print(json.load(sys.stdin)["task_id"])')
sleep 5 # the training process starts (imports) before the measured run
state=$(status "$task")
if [[ "$state" != in_progress ]]; then
    echo "the training task is $state, not running; its result and the server log:" >&2
    curl -s "$URL/train/get?task_id=$task" -H "$AUTH" >&2
    tail -20 "$work/serve.log" >&2
    exit 1
fi
during=$(measure during)
still=$(status "$task")
curl -s -X PUT "$URL/train/cancel?task_id=$task" -H "$AUTH" >/dev/null

.venv/bin/python - "$idle" "$during" "$still" "$SECONDS_PER_RUN" <<'PY'
import sys

def ms(text: str) -> float:
    """wrk's latency (``812.00us``, ``3.41ms``, ``1.20s``) in milliseconds."""
    for unit, factor in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    raise ValueError(text)

runs = {}
for line in sys.argv[1:3]:
    name, p50, p99, failed, rps = line.split()
    runs[name] = (ms(p50), ms(p99), int(failed), float(rps))
    print(f"{name:>6}: p50 {ms(p50):7.2f} ms, p99 {ms(p99):7.2f} ms, {failed} failed, {float(rps):.0f} req/s")
ratio = runs["during"][1] / runs["idle"][1]
failed = runs["idle"][2] + runs["during"][2]
print(f"p99 during training / idle: {ratio:.2f} (target <= 3); failed requests: {failed} (target 0)")
print(f"the training was still {sys.argv[3]} at the end of the {sys.argv[4]}-second run")
sys.exit(0 if ratio <= 3 and failed == 0 and sys.argv[3] == "in_progress" else 1)
PY
