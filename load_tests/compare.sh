#!/usr/bin/env bash
# Side-by-side /predict throughput of this checkout against another revision, on this machine.
#   load_tests/compare.sh REV [ROUNDS] [SECONDS]     e.g. load_tests/compare.sh c5f6e66 3 15
# Each side gets a git worktree (REV only), its own locked environment and a quick-trained model store,
# and serves one worker pinned to CPU 1 while wrk (Debian's package), pinned to CPU 0, posts the
# README's penguin to /predict with 16 connections. The sides alternate (A B A B ...) so drift on a
# shared machine hits both; each run is preceded by an unreported 5-second warm-up. Prints every run
# and the ratio of the medians.
source "$(dirname "$0")/../scripts/env.sh"
REV="${1:?usage: load_tests/compare.sh REV [ROUNDS] [SECONDS]}"
ROUNDS="${2:-3}"
SECONDS_PER_RUN="${3:-15}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
[[ "$(nproc)" -ge 2 ]] || { echo "needs 2 CPUs: one for the server, one for wrk" >&2; exit 1; }

work="$(mktemp -d -t tabserve-compare-XXXXXX)"
git worktree add -q --detach "$work/other" "$REV"
trap 'git worktree remove --force "$work/other"; rm -rf "$work"' EXIT
(cd "$work/other" && uv sync --locked --quiet)
cat >"$work/predict.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"island": "Biscoe", "bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181.0, "body_mass_g": 3750.0, "sex": "male"}'
LUA

prepare() {  # side checkout: train quick models into the side's own store
    (cd "$2" && BENTOML_HOME="$work/$1/bentoml" .venv/bin/python train.py --quick >"$work/$1-train.log" 2>&1)
}

run() {  # side checkout port: one measured run, prints requests/s
    local side=$1 checkout=$2 port=$3
    (cd "$checkout" && BENTOML_HOME="$work/$side/bentoml" TABSERVE_STATE_DIR="$work/$side/state" \
        BENTOML_CONFIG="$checkout/configuration.yaml" exec taskset -c 1 .venv/bin/bentoml serve service:Svc \
        --host 127.0.0.1 --port "$port" >>"$work/$side-serve.log" 2>&1) &
    local server=$!
    for _ in $(seq 1 120); do curl -sf "127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.5; done
    taskset -c 0 wrk -t1 -c16 -d5s -s "$work/predict.lua" "http://127.0.0.1:$port/predict" >/dev/null
    taskset -c 0 wrk -t1 -c16 -d"${SECONDS_PER_RUN}s" --latency -s "$work/predict.lua" \
        "http://127.0.0.1:$port/predict" >"$work/wrk.txt"
    pkill -TERM -P "$server" 2>/dev/null; kill "$server" 2>/dev/null; wait "$server" 2>/dev/null
    local rps p99 non2xx
    rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
    non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt")
    echo "$side: ${rps} req/s, p99 ${p99}, non-2xx ${non2xx:-0}" >&2
    echo "$rps"
}

prepare this "$PWD"
prepare other "$work/other"
this=() other=()
for round in $(seq 1 "$ROUNDS"); do
    other+=("$(run other "$work/other" 3901)")
    this+=("$(run this "$PWD" 3902)")
done
python3 - "${this[*]}" "${other[*]}" "$REV" <<'PY'
import statistics, sys
this, other = (sorted(map(float, text.split())) for text in sys.argv[1:3])
ratio = statistics.median(this) / statistics.median(other)
print(f"/predict median req/s: this checkout {statistics.median(this):.0f}, {sys.argv[3]} "
      f"{statistics.median(other):.0f}; ratio {ratio:.2f}")
PY
