#!/usr/bin/env bash
# Train every declared dataset's classifiers (those whose dataset has none in the model store, or all
# with --retrain) and serve them.
#   scripts/serve.sh             train what is missing, then serve on http://localhost:3000
#   scripts/serve.sh --retrain   add a fresh version of every model first
#   PORT=3100 scripts/serve.sh   serve on another port
source "$(dirname "$0")/env.sh"

if [[ "${1:-}" == "--retrain" ]]; then
    python train.py
else
    untrained="$(python -c '
from tabserve.datasets import DATASETS
from tabserve.store.registry import list_records
print(",".join(name for name in DATASETS if not list_records(name)))')"
    if [[ -n "$untrained" ]]; then
        python train.py --dataset "$untrained"
    fi
fi
exec bentoml serve service:Svc --port "${PORT:-3000}"
