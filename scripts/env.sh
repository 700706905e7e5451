# Sourced by the other scripts: find or install uv, then install the locked environment.
# Needs only Python 3.11 and network access to PyPI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

UV_VERSION=0.13.9
if command -v uv >/dev/null 2>&1; then
    UV=(uv)
elif python3 -m uv --version >/dev/null 2>&1; then
    UV=(python3 -m uv)
else
    echo "Installing uv ${UV_VERSION} (the project's package manager) for this user..."
    python3 -m pip install --quiet --user "uv==${UV_VERSION}" 2>/dev/null \
        || python3 -m pip install --quiet --user --break-system-packages "uv==${UV_VERSION}"
    UV=(python3 -m uv)
fi

export UV_COMMAND="${UV[*]}"  # for tests that call uv

# Exactly the versions in uv.lock.
"${UV[@]}" sync --locked --quiet
# shellcheck disable=SC1091
source .venv/bin/activate

export BENTOML_DO_NOT_TRACK=true                 # no usage analytics calls from BentoML
export BENTOML_CONFIG="${BENTOML_CONFIG:-$PWD/configuration.yaml}"
