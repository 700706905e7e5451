#!/usr/bin/env bash
# Make sure Debian's headless-capable Chromium and its WebDriver are installed, for the Swagger page
# test (tests/test_swagger_page.py); on a Debian machine without them (CI), install them (as root).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
echo "Installing chromium and chromium-driver from Debian's archive..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
