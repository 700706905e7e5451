#!/usr/bin/env bash
# Build a local Debian 12 + Python 3.11 base image for `bentoml containerize`, for machines that reach
# PyPI and Debian's archive but no container registry (so `FROM python:3.11-slim` cannot be pulled).
#   docker/build-base-image.sh [IMAGE]      default IMAGE: tabserve-base:bookworm-py311
# Needs root, debootstrap and a running Docker engine. Takes about a minute; the result is ~200 MB.
set -euo pipefail
IMAGE="${1:-tabserve-base:bookworm-py311}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ROOTFS="$(mktemp -d /tmp/tabserve-rootfs.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT

echo "debootstrap: Debian bookworm with python3 into $ROOTFS"
debootstrap --variant=minbase --include=python3,ca-certificates bookworm "$ROOTFS" "$MIRROR" >/dev/null

# HTTPS from inside containers on these machines is trusted only with the host's CA bundle.
cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
# BentoML's Dockerfile installs packages with uv; it would `pip install uv`, which Debian refuses.
# The uv binary ships inside its PyPI wheel.
WHEELS="$ROOTFS/tmp/uv-wheel"
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$WHEELS" "uv==${UV_VERSION:-0.13.9}"
python3 -m zipfile -e "$WHEELS"/uv-*.whl "$WHEELS/unpacked"
install -m 0755 "$WHEELS"/unpacked/uv-*.data/scripts/uv "$ROOTFS/usr/local/bin/uv"
rm -rf "$WHEELS"
# Nothing a server needs: package lists, docs, locales, and the interpreter's test suite and GUI kits.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/usr/share/doc/* \
    "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/usr/share/locale/* \
    "$ROOTFS"/usr/lib/python3.11/{test,idlelib,tkinter,lib2to3,ensurepip,pydoc_data}

tar -C "$ROOTFS" -c . | docker import \
    --change 'ENV UV_SYSTEM_CERTS=1' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV LANG=C.UTF-8' \
    - "$IMAGE" >/dev/null
echo "built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
