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

# sdfgen (PyPI), the generator sDDF/LionsOS systems are built with:
# tools/sdfgen (sevio's helper for it) and the sDDF config tests use it.
# Pinned, in a venv under build/ so nothing is installed system-wide;
# SEVIO_SDFGEN_PYTHON elsewhere points the tests at another interpreter.
SDFGEN_VERSION=0.35.1
SDFGEN_VENV="$(cd "$(dirname "$0")/.." && pwd)/build/sdfgen-venv"
if ! "$SDFGEN_VENV/bin/python3" -c "import importlib.metadata as m, sys; sys.exit(m.version('sdfgen') != '$SDFGEN_VERSION')" 2>/dev/null; then
    echo "install-deps: installing sdfgen $SDFGEN_VERSION (pip, in $SDFGEN_VENV)"
    python3 -m venv "$SDFGEN_VENV" || { echo "install-deps: python3 -m venv failed (Debian: apt-get install python3-venv)"; exit 1; }
    "$SDFGEN_VENV/bin/pip" install -q "sdfgen==$SDFGEN_VERSION"
fi

qemu-system-aarch64 --version | head -1
