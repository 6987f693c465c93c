#!/usr/bin/env bash
# make bench: every benchmark, printed as `BENCH <name> <value> <unit>` and
# `RATIO <name> <ours/theirs>` lines (above 1.0: sevio ahead).
#
# 1. Micro-benchmarks (cargo bench). First, the headline: the sDDF
#    client queues against rtrb, like with like (same entry, capacity,
#    batch and CPUs; per item: RATIO queue_vs_rtrb_per_item; batched
#    against rtrb's chunk API: RATIO queue_vs_rtrb_chunks, two threads,
#    and RATIO queue_vs_rtrb_chunks_one_thread, the handles' own cost per
#    entry with no cache line moving between CPUs). Then the split
#    virtqueue against the virtio-drivers crate's, both driven by
#    rust-vmm's device side; the packed virtqueue against the split one
#    in the same run (same raw device work, batches of 1 and 32: RATIO
#    packed_vs_split).
# 2. Whole systems under sim, PDs built with --release, against QEMU's
#    devices: every systems/*-bench.xml. sim counts every notification and
#    every IRQ, so the clients report signals per request. Throughput in
#    sim is bounded by the simulator (each device register access is a
#    round trip to QEMU), not by the drivers: compare the figures with each
#    other, not with hardware. The cost of DMA confinement: blk over PCI
#    with and without the virtio-iommu (blk-pci-bench.xml and
#    blk-pci-iommu-bench.xml, same run), as RATIO
#    blk_pci_iommu_vs_blk_pci_<metric>, and with the SMMUv3
#    (blk-pci-smmu-bench.xml) as RATIO blk_pci_smmu_vs_blk_pci_<metric>
#    (confined over unconfined for
#    throughput, unconfined over confined for latencies and counts: above
#    1.0, confinement cost nothing).
#    blk-bench.xml runs BLK_ROUNDS times over
#    split virtqueues and as often over packed ones (QEMU's packed=on,
#    systems/blk-bench-packed.sim.toml), alternately: the medians print as
#    `BENCH blk_*` and `BENCH blk_packed_*`, and `RATIO
#    blk_packed_vs_split_<figure>` (packed/split; above 1.0 packed ahead)
#    for each throughput, with `RATIO blk_packed_vs_split` the qd32 random
#    read one.
# 3. Input end to end under sim: QMP events into virtio-mouse, through the
#    input driver, to paint (tools/e2e/tests/gpu.rs, input_bench).
# 4. vsock end to end under sim (tools/e2e/tests/vsock.rs, vsock_bench).
# 5. Sound under sim (systems/sound.xml): the tone's playback and the
#    recorder's capture against QEMU's virtio-sound, in audio seconds per
#    wall second from START answered to the last frame back. The device
#    sets the pace: about 1 means driver and client kept up with it.
# 6. Restart of a faulted blk driver under load (tools/e2e/tests/journal.rs,
#    restart_bench): fault to first answer after the restart.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "# headline, like for like: sevio's sDDF net queue against rtrb (above 1.0: sevio ahead)"
cargo bench -q -p sevio-queue 2>/dev/null | grep -E '^(BENCH|RATIO) ' || true
cargo bench -q -p sevio-virtio 2>/dev/null | grep -E '^(BENCH|RATIO) ' || true

pds=$(sed -n 's/^name = "\(sevio-[a-z0-9-]*\)"/\1/p' pds/*/Cargo.toml pds/*/*/Cargo.toml transports/*/Cargo.toml | sed 's/^/-p /')
# shellcheck disable=SC2086
cargo build -q --release -p sevio-sim $pds
status=0
BLK_ROUNDS=${BLK_ROUNDS:-3}
# blk over split and packed virtqueues, alternately; "<format> <figure>
# <value> <unit>" per line into $blk_figures, medians and ratios below.
blk_figures=$(mktemp)
system_lines=$(mktemp)
trap 'rm -f "$blk_figures" "$system_lines"' EXIT
for _ in $(seq "$BLK_ROUNDS"); do
    for format in split packed; do
        args=()
        if [ "$format" = packed ]; then args=(--sim systems/blk-bench-packed.sim.toml); fi
        out=$(target/release/sevio-sim run systems/blk-bench.xml "${args[@]}" --pd-dir target/release --timeout 300 2>&1) || {
            echo "bench: systems/blk-bench.xml ($format) failed:" >&2
            echo "$out" >&2
            status=1
        }
        echo "$out" | sed -n "s/^blk_client: BENCH blk_\([a-z0-9_]*\) \([0-9.]*\) \(.*\)/$format \1 \2 \3/p" >>"$blk_figures"
    done
done
sort -k1,1 -k2,2 -k3,3g "$blk_figures" | awk '
    { key = $1 " " $2; n[key]++; v[key, n[key]] = $3; unit[$2] = $4; figs[$2] = 1 }
    function median(key) { return v[key, int((n[key] + 1) / 2)] }
    END {
        for (f in figs) {
            if (("split " f) in n) printf "BENCH blk_%s %s %s\n", f, median("split " f), unit[f]
            if (("packed " f) in n) printf "BENCH blk_packed_%s %s %s\n", f, median("packed " f), unit[f]
            if ((unit[f] == "IOPS" || unit[f] == "MB/s") && ("split " f) in n && ("packed " f) in n && median("split " f) > 0)
                printf "RATIO blk_packed_vs_split_%s %.2f\n", f, median("packed " f) / median("split " f)
        }
        f = "qd32_randread_4k_iops"
        if (("split " f) in n && ("packed " f) in n && median("split " f) > 0)
            printf "RATIO blk_packed_vs_split %.2f\n", median("packed " f) / median("split " f)
    }' | sort
# systems/9p-bench.xml exports this directory; the benchmark removes its file.
rm -rf build/9p-bench-export && mkdir -p build/9p-bench-export
for system in systems/*-bench.xml; do
    # vsock needs its device's host side and a host listener: its own run
    # below.
    [ "$system" = systems/vsock-bench.xml ] && continue
    # Run above, over both ring formats.
    [ "$system" = systems/blk-bench.xml ] && continue
    out=$(target/release/sevio-sim run "$system" --pd-dir target/release --timeout 300 2>&1) || {
        echo "bench: $system failed:" >&2
        echo "$out" >&2
        status=1
    }
    # blk-pci-bench.xml reports as blk_pci_*: the client names its lines
    # after the device class, the system file says which transport.
    tag=$(basename "$system" -bench.xml | tr - _)
    echo "$out" | sed -n 's/^[a-z0-9_]*: \(\(BENCH\|RATIO\) .*\)/\1/p' | sed "s/^BENCH blk_/BENCH ${tag}_/" |
        tee -a "$system_lines"
done
awk '$1 == "BENCH" { value[$2] = $3; unit[$2] = $4 }
    END {
        for (name in value) {
            if (name !~ /^blk_pci_(iommu|smmu)_/) continue
            backend = (name ~ /^blk_pci_iommu_/) ? "iommu" : "smmu"
            metric = substr(name, length("blk_pci_" backend "_") + 1)
            plain = "blk_pci_" metric
            if (!(plain in value) || value[plain] == 0 || value[name] == 0) continue
            faster_is_higher = (unit[name] == "IOPS" || unit[name] == "MB/s")
            ratio = faster_is_higher ? value[name] / value[plain] : value[plain] / value[name]
            printf "RATIO blk_pci_%s_vs_blk_pci_%s %.3f\n", backend, metric, ratio
        }
    }' "$system_lines" | sort
# 4. vsock under sim: round trips and an 8 MiB stream between the guest
#    and a host echo listener, through QEMU's vhost-user-vsock and
#    vhost-device-vsock (tools/e2e/tests/vsock.rs, vsock_bench).
if ! cargo test -q --release -p sevio-e2e --test vsock -- --ignored vsock_bench --nocapture 2>&1 | grep -E '^BENCH '; then
    echo "bench: the vsock benchmark failed" >&2
    status=1
fi
if ! cargo test -q --release -p sevio-e2e --test gpu -- --ignored input_bench --nocapture 2>&1 | grep -E '^BENCH '; then
    echo "bench: the input benchmark failed" >&2
    status=1
fi
mkdir -p build
if out=$(target/release/sevio-sim run systems/sound.xml --pd-dir target/release --timeout 120 2>&1); then
    echo "$out" | sed -n 's/^[a-z0-9_]*: \(BENCH .*\)/\1/p'
else
    echo "bench: systems/sound.xml failed:" >&2
    echo "$out" >&2
    status=1
fi
# 6. Restart: a fault storm on blk under the soak client (systems/journal.xml),
#    fault to the restarted driver's first answer on the runtime's clock.
if ! cargo test -q --release -p sevio-e2e --test journal -- --ignored restart_bench --nocapture 2>&1 | grep -E '^BENCH '; then
    echo "bench: the restart benchmark failed" >&2
    status=1
fi
exit $status
