# Sourced by the other scripts: find or install uv, then install the locked environment.
# Needs only Python 3.11 (with pip) and network access to PyPI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

UV_VERSION=0.13.9
#: Where uv goes when the machine has none: inside the checkout, so nothing lands in $HOME and the
#: binary stays reachable after .venv is activated (.venv's python3 cannot run `-m uv`).
UV_TOOLS="$PWD/.tools"

# A python3 with pip, other than an activated virtual environment's (uv's have no pip).
pip_python() {
    local candidate
    for candidate in $(type -ap python3); do
        [[ -n "${VIRTUAL_ENV:-}" && "$candidate" == "$VIRTUAL_ENV"/* ]] && continue
        if "$candidate" -m pip --version >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    echo "No uv on PATH and no python3 with pip to install it: install uv, or pip (apt-get install python3-pip)" >&2
    return 1
}

if ! command -v uv >/dev/null 2>&1; then
    if [[ ! -x "$UV_TOOLS/bin/uv" ]]; then
        echo "Installing uv ${UV_VERSION} (the project's package manager) into .tools/ ..."
        "$(pip_python)" -m pip install --quiet --disable-pip-version-check --target "$UV_TOOLS" "uv==${UV_VERSION}"
    fi
    export PATH="$UV_TOOLS/bin:$PATH"
fi
UV_COMMAND="$(command -v uv)"
export UV_COMMAND  # for tests that call uv

# Exactly the versions in uv.lock, with the optional MLflow group (its tests, train.py's tracking and
# `models.py import-mlflow`; serving never needs it, so requirements/serve.txt leaves it out).
uv sync --locked --group mlflow --quiet
# shellcheck disable=SC1091
source .venv/bin/activate

export BENTOML_DO_NOT_TRACK=true                 # no usage analytics calls from BentoML
export MLFLOW_DISABLE_TELEMETRY=true             # nor from MLflow (the optional mlflow group)
export BENTOML_CONFIG="${BENTOML_CONFIG:-$PWD/configuration.yaml}"
