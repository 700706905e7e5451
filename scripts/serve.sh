#!/usr/bin/env bash
# Train the penguin classifiers (when the model store has none, or with --retrain) and serve them.
#   scripts/serve.sh             train if needed, then serve on http://localhost:3000
#   scripts/serve.sh --retrain   add a fresh version of every model first
#   PORT=3100 scripts/serve.sh   serve on another port
source "$(dirname "$0")/env.sh"

if [[ "${1:-}" == "--retrain" ]] || ! python -c '
import sys
from tabserve.store.registry import list_records
sys.exit(0 if list_records("penguins") else 1)' 2>/dev/null; then
    python train.py
fi
exec bentoml serve service:Svc --port "${PORT:-3000}"
