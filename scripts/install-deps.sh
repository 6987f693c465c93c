#!/usr/bin/env bash
# Installs what `make test`, `make run` and `make qemu` use on a fresh
# machine, and nothing when it is all there (one quick check each):
# - the Rust target aarch64-unknown-none (rustup; the toolchain itself is
#   rustup's, pinned by rust-toolchain.toml);
# - a host C toolchain to link the host builds (gcc, libc6-dev), make, and
#   perl (the image check in `make test`);
# - qemu-system-aarch64 10.x (Debian's qemu-system-arm): on Debian 12 from
#   bookworm-backports, which this adds if missing; on Debian 13 and later
#   from main. Without recommends: ipxe-qemu is not needed, because no
#   PCI device here gets an option ROM (`romfile=`).
# - vhost-device-vsock (cargo install, pinned): the vsock tests' device
#   side (below).
# A Microkit SDK (`make qemu`) is not installed: it is built from upstream.
set -euo pipefail

QEMU_MAJOR_WANTED=10

say() { echo "install-deps: $*"; }

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        SUDO=missing
    else
        SUDO=sudo
    fi
fi
as_root() {
    if [ "$SUDO" = missing ]; then
        say "need root (or sudo) to run: $*"
        exit 1
    fi
    $SUDO "$@"
}

APT_UPDATED=""
apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        say "no apt-get: install $* (or their equivalents) yourself"
        exit 1
    fi
    if [ -z "$APT_UPDATED" ]; then
        as_root apt-get update -qq
        APT_UPDATED=yes
    fi
    say "installing $* (apt)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- Rust -------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1; then
    say "cargo not found: install rustup (https://rustup.rs), then run this again"
    exit 1
fi
if command -v rustup >/dev/null 2>&1; then
    if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-none; then
        say "adding rust target aarch64-unknown-none"
        rustup target add aarch64-unknown-none
    fi
elif [ ! -d "$(rustc --print sysroot)/lib/rustlib/aarch64-unknown-none" ]; then
    say "rust has no aarch64-unknown-none target and there is no rustup to add it"
    exit 1
fi

# --- Host tools -------------------------------------------------------------
packages=()
command -v cc >/dev/null 2>&1 || packages+=(gcc libc6-dev)
command -v make >/dev/null 2>&1 || packages+=(make)
command -v perl >/dev/null 2>&1 || packages+=(perl-base)
command -v python3 >/dev/null 2>&1 || packages+=(python3 python3-venv)
if [ ${#packages[@]} -gt 0 ]; then
    apt_install "${packages[@]}"
fi

# --- QEMU -------------------------------------------------------------------
qemu_major() {
    qemu-system-aarch64 --version 2>/dev/null | sed -n '1s/.*version \([0-9][0-9]*\)\..*/\1/p'
}

have=$(qemu_major || true)
if [ -z "$have" ] || [ "$have" -lt "$QEMU_MAJOR_WANTED" ]; then
    [ -n "$have" ] && say "qemu-system-aarch64 is $have.x; sevio is tested on $QEMU_MAJOR_WANTED.x"
    distro=""
    if [ -r /etc/os-release ]; then
        # shellcheck disable=SC1091
        distro=$(. /etc/os-release && echo "${ID:-}:${VERSION_CODENAME:-}")
    fi
    case "$distro" in
        debian:bookworm)
            if ! grep -qs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
                /etc/apt/sources.list.d/*.sources; then
                say "adding bookworm-backports to apt's sources"
                echo "deb http://deb.debian.org/debian bookworm-backports main" |
                    as_root tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
            fi
            apt_install -t bookworm-backports qemu-system-arm
            ;;
        debian:*)
            apt_install qemu-system-arm
            ;;
        *)
            if [ -z "$have" ]; then
                say "not Debian: install QEMU $QEMU_MAJOR_WANTED.x (qemu-system-aarch64) yourself"
                exit 1
            fi
            say "not Debian: keeping QEMU $have.x (7.2 works too; see README)"
            ;;
    esac
    have=$(qemu_major || true)
    if [ -z "$have" ]; then
        say "qemu-system-aarch64 is still missing"
        exit 1
    fi
    if [ "$have" -lt "$QEMU_MAJOR_WANTED" ]; then
        say "warning: qemu-system-aarch64 is still $have.x"
    fi
fi

# sdfgen (PyPI), the generator sDDF/LionsOS systems are built with:
# tools/sdfgen (sevio's helper for it) and the sDDF config tests use it.
# Pinned, in a venv under build/ so nothing is installed system-wide;
# SEVIO_SDFGEN_PYTHON elsewhere points the tests at another interpreter.
SDFGEN_VERSION=0.35.1
SDFGEN_VENV="$(cd "$(dirname "$0")/.." && pwd)/build/sdfgen-venv"
if ! "$SDFGEN_VENV/bin/python3" -c "import importlib.metadata as m, sys; sys.exit(m.version('sdfgen') != '$SDFGEN_VERSION')" 2>/dev/null; then
    echo "install-deps: installing sdfgen $SDFGEN_VERSION (pip, in $SDFGEN_VENV)"
    if ! python3 -m venv "$SDFGEN_VENV" 2>/dev/null; then
        # Debian's python3 keeps venv (ensurepip) in its own package.
        echo "install-deps: python3 -m venv failed; installing python3-venv (apt)"
        rm -rf "$SDFGEN_VENV"
        apt_install python3-venv
        python3 -m venv "$SDFGEN_VENV"
    fi
    "$SDFGEN_VENV/bin/pip" install -q "sdfgen==$SDFGEN_VERSION"
fi

# vhost-device-vsock (crates.io, rust-vmm), the host side of QEMU's
# vhost-user-vsock devices in the vsock tests (this host has no
# /dev/vhost-vsock for vhost-vsock-device): pinned, built from source
# with the locked dependencies, into cargo's bin directory. About 1.5
# minutes on 2 cores, once.
VSOCK_BACKEND_VERSION=0.3.0
if ! vsock_backend=$(command -v vhost-device-vsock || ls "${CARGO_HOME:-$HOME/.cargo}/bin/vhost-device-vsock" 2>/dev/null) ||
    [ "$("$vsock_backend" --version 2>/dev/null)" != "vhost-device-vsock $VSOCK_BACKEND_VERSION" ]; then
    say "installing vhost-device-vsock $VSOCK_BACKEND_VERSION (cargo install)"
    cargo install -q --locked --version "$VSOCK_BACKEND_VERSION" vhost-device-vsock
fi

qemu-system-aarch64 --version | head -1
