#!/usr/bin/env bash
# Run every check: lint, formatting, and the whole pytest suite (which trains into a temporary
# BENTOML_HOME and starts real servers). Extra arguments go to pytest.
source "$(dirname "$0")/env.sh"

ruff check .
ruff format --check .
pytest "$@"
