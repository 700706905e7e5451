#!/usr/bin/env bash
# Make sure a Docker engine answers; on a Debian machine without one (CI), install and start it.
set -euo pipefail
if docker info >/dev/null 2>&1; then
    exit 0
fi
if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
    echo "Installing Docker and debootstrap from Debian's archive..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
fi
echo "Starting dockerd..."
nohup dockerd >/tmp/dockerd.log 2>&1 &
for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
        exit 0
    fi
    sleep 1
done
echo "dockerd did not start; see /tmp/dockerd.log" >&2
exit 1
