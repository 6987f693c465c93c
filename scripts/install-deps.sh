#!/usr/bin/env bash
# Installs what `make test` and `make run` need on a fresh machine:
# the aarch64-unknown-none Rust target and QEMU for arm (which provides
# qemu-system-aarch64). Idempotent: does nothing when both are present.
set -euo pipefail

if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-none; then
    echo "install-deps: adding rust target aarch64-unknown-none"
    rustup target add aarch64-unknown-none
fi

if ! command -v qemu-system-aarch64 >/dev/null 2>&1; then
    echo "install-deps: installing qemu-system-arm (apt)"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends qemu-system-arm >/dev/null
fi

qemu-system-aarch64 --version | head -1
