#!/usr/bin/env bash
# make fuzz: run every cargo-fuzz target under protocols/*/fuzz for
# SECONDS seconds each (default 60). cargo-fuzz needs nightly features;
# the stable toolchain is told to allow them with RUSTC_BOOTSTRAP=1, so no
# second toolchain is needed. `make test` runs the same fuzz bodies on a
# bounded number of random inputs without any of this.
set -euo pipefail
SECONDS_EACH=${1:-60}
cd "$(dirname "$0")/.."
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1
status=0
for dir in protocols/*/fuzz; do
    [ -f "$dir/Cargo.toml" ] || continue
    crate=$(dirname "$dir")
    for target in $(cd "$crate" && cargo fuzz list); do
        echo "fuzz: $crate $target for ${SECONDS_EACH}s"
        (cd "$crate" && cargo fuzz run "$target" -- -max_total_time="$SECONDS_EACH") || status=1
    done
done
exit $status
