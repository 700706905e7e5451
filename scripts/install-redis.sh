#!/usr/bin/env bash
# Make sure Debian's redis-server is installed, for the shared-state tests (tests/test_shared_state.py,
# which start their own redis-server on a free port); on a Debian machine without it (CI), install it
# (as root). Only the binary is needed: the tests never use the system service.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi
echo "Installing redis-server from Debian's archive..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
