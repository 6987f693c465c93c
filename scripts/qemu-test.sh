#!/usr/bin/env bash
# make qemu-test: boot systems on seL4 (QEMU, a Microkit SDK) and check
# what their test clients print on the kernel debug console.
#
#   scripts/qemu-test.sh SYSTEM PASSES SECONDS [QEMU_DEVICES]
#
# Boots SYSTEM with `make qemu`, waits until PASSES lines read exactly
# PASS (each test client prints one), a line starts with FAIL, or SECONDS
# pass; then stops QEMU. Exit status 0 only for PASSES passes and no FAIL.
# The console is kept in build/qemu-test-<system>.log.
set -euo pipefail
cd "$(dirname "$0")/.."

system=$1 passes=$2 seconds=$3 devices=${4:--nic none}
: "${MICROKIT_SDK:?set MICROKIT_SDK to a Microkit 2.3.0 SDK}"
mkdir -p build
log="build/qemu-test-$(basename "$system" .xml).log"
make -s image SYSTEM="$system" MICROKIT_SDK="$MICROKIT_SDK" >/dev/null
make -s qemu SYSTEM="$system" MICROKIT_SDK="$MICROKIT_SDK" QEMU_DEVICES="$devices" </dev/null >"$log" 2>&1 &
make_pid=$!
# The console ends lines with CR LF.
count_passes() { tr -d '\r' <"$log" | grep -c '^PASS$' || true; }
verdict=timeout
for _ in $(seq $((seconds * 10))); do
    if grep -q '^FAIL' "$log"; then verdict=fail; break; fi
    if [ "$(count_passes)" -ge "$passes" ]; then verdict=pass; break; fi
    if ! kill -0 "$make_pid" 2>/dev/null; then verdict=exited; break; fi
    sleep 0.1
done
# QEMU is make's child; stop exactly that one, then make.
qemu_pid=$(pgrep -P "$make_pid" -x qemu-system-aar || true)
[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null || true
kill "$make_pid" 2>/dev/null || true
wait "$make_pid" 2>/dev/null || true
sed -n '/MON|INFO: Microkit Monitor started/,$p' "$log" | tr -d '\r'
echo "qemu-test: $system: $verdict ($(count_passes) of $passes PASS)"
[ "$verdict" = pass ]
