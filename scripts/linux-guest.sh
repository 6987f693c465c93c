#!/usr/bin/env bash
# The Linux guest `make bench-qemu` compares sevio with: Debian's arm64
# kernel and an initramfs holding busybox (static) and fio with the shared
# libraries it loads, every file taken from Debian packages, and the one
# program of the project's own: udp-bench (tools/guest-udp-bench, built
# here for aarch64-unknown-none: a static Linux program without a libc),
# the net workloads' measurement, as no Debian tool speaks net-bench's
# echo. Output in build/linux-guest/: `Image` (the kernel),
# `initrd.gz` (cpio newc, gzip). Idempotent: packages already downloaded
# are reused, and nothing is done when both outputs are newer than this
# script and udp-bench. The downloaded packages stay under build/ (not committed); the
# trees unpacked from them are removed once the initramfs is made.
#
# The guest's /init mounts proc, sys and dev, loads the virtio modules
# (Debian builds virtio-mmio, virtio-blk and virtio-net as modules), runs
# the fio jobs named on the kernel command line (`sevio.jobs=`) against
# /dev/vda with O_DIRECT and libaio (latency percentiles of the whole
# latency, submission to completion, as blk-bench measures), prints one `FIO <job> <terse line>`
# per job (fio's terse format version 3; the host turns it into BENCH
# lines) and `LINUX-GUEST DONE`, then powers off. Given `sevio.net=` a
# list of udp-bench workloads (`rr,stream`) instead, it gives eth0
# net-bench's address (10.0.2.16/24) and runs udp-bench for each, whose
# BENCH lines the host reads as they are.
set -euo pipefail
cd "$(dirname "$0")/.."

KERNEL_PACKAGE=${KERNEL_PACKAGE:-linux-image-6.1.0-57-arm64}
OUT=build/linux-guest
DEBS=$OUT/debs
ROOT=$OUT/unpacked
TREE=$OUT/initramfs

say() { echo "linux-guest: $*"; }

# udp-bench: its own target directory, so that `make build` (which copies
# every program of target/aarch64-unknown-none) never takes it for a PD.
UDP_BENCH=target/guest/aarch64-unknown-none/release/udp-bench
CARGO_TARGET_DIR=target/guest cargo build -q --release --target aarch64-unknown-none -p sevio-guest-udp-bench

if [ -f $OUT/Image ] && [ -f $OUT/initrd.gz ] && [ $OUT/initrd.gz -nt "$0" ] && [ $OUT/initrd.gz -nt $UDP_BENCH ]; then
    exit 0
fi

command -v apt-get >/dev/null || { say "needs Debian's apt-get (and root) to fetch the guest's packages"; exit 1; }
if ! command -v cpio >/dev/null || ! command -v readelf >/dev/null; then
    say "installing cpio and binutils (readelf)"
    apt-get install -y -q --no-install-recommends cpio binutils >/dev/null
fi
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    say "adding the arm64 architecture to dpkg (for apt-get download)"
    dpkg --add-architecture arm64
    apt-get update -q
fi
if ! apt-cache show "$KERNEL_PACKAGE:arm64" >/dev/null 2>&1; then
    apt-get update -q
fi

# fio's run-time closure: its Depends, recursively, libraries only (fio
# links librados, librbd, glusterfs... whose packages pull in perl and
# python, which the guest never runs).
mkdir -p $DEBS
packages=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances --no-pre-depends fio:arm64 |
    sed -n -E 's/^((lib[^ <]*|zlib1g):arm64)$/\1/p' | grep -v -E '^lib(perl|python)' | sort -u)
wanted="$KERNEL_PACKAGE:arm64 busybox-static:arm64 fio:arm64 $packages"
missing=()
for p in $wanted; do
    name=${p%:arm64}
    compgen -G "$DEBS/${name}_*_arm64.deb" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "downloading ${#missing[@]} Debian arm64 package(s)"
    # apt-get download writes into the current directory.
    (cd $DEBS && apt-get download -q "${missing[@]}" 2>&1 | grep -v -E '^(Get|Fetched|W: Download is performed unsandboxed)' || true)
fi

rm -rf $ROOT $TREE
mkdir -p $ROOT $TREE
for deb in $DEBS/*.deb; do
    dpkg-deb -x "$deb" $ROOT
done

kver=${KERNEL_PACKAGE#linux-image-}
cp $ROOT/boot/vmlinuz-$kver $OUT/Image

# The initramfs: busybox and its applets, fio, the libraries fio needs
# (followed through DT_NEEDED from the unpacked packages), the modules.
mkdir -p $TREE/{bin,sbin,proc,sys,dev,tmp,lib,lib64,usr/bin,modules}
cp $ROOT/bin/busybox $TREE/bin/busybox
for applet in sh mount mkdir cat echo sleep poweroff insmod ls grep dd ifconfig; do
    ln -sf busybox $TREE/bin/$applet
done
cp $ROOT/usr/bin/fio $TREE/usr/bin/fio
cp $UDP_BENCH $TREE/usr/bin/udp-bench
libdirs=("$ROOT/lib/aarch64-linux-gnu" "$ROOT/usr/lib/aarch64-linux-gnu" "$ROOT/lib" "$ROOT/usr/lib")
find_lib() {
    local dir
    for dir in "${libdirs[@]}"; do
        if [ -e "$dir/$1" ]; then
            echo "$dir/$1"
            return
        fi
    done
    # A library under a subdirectory (e.g. ceph's private libraries).
    find "$ROOT" -name "$1" \( -type f -o -type l \) | head -n 1
}
queue=("$TREE/usr/bin/fio")
declare -A copied=()
while [ ${#queue[@]} -gt 0 ]; do
    elf=${queue[0]}
    queue=("${queue[@]:1}")
    for soname in $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        [ -n "${copied[$soname]:-}" ] && continue
        copied[$soname]=1
        src=$(find_lib "$soname")
        if [ -z "$src" ]; then
            say "no package provides $soname (needed by $(basename "$elf"))"
            exit 1
        fi
        cp -L "$src" "$TREE/lib/$soname"
        queue+=("$TREE/lib/$soname")
    done
done
# The dynamic loader at the path fio's PT_INTERP names.
interp=$(readelf -l "$TREE/usr/bin/fio" | sed -n 's/.*interpreter: \(.*\)\]/\1/p')
mkdir -p "$TREE$(dirname "$interp")"
cp -L "$(find_lib "$(basename "$interp")")" "$TREE$interp"
mkdir -p $TREE/etc
echo "/lib" >$TREE/etc/ld.so.conf
mods=$ROOT/lib/modules/$kver/kernel
for m in drivers/virtio/virtio_mmio drivers/block/virtio_blk net/core/failover drivers/net/net_failover drivers/net/virtio_net; do
    cp $mods/$m.ko $TREE/modules/
done

cat >$TREE/init <<'EOF'
#!/bin/sh
# sevio bench-qemu Linux guest: see scripts/linux-guest.sh.
export PATH=/bin:/usr/bin LD_LIBRARY_PATH=/lib
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in virtio_mmio virtio_blk failover net_failover virtio_net; do
    insmod /modules/$m.ko
done
jobs=$(sed -n 's/.*sevio\.jobs=\([^ ]*\).*/\1/p' /proc/cmdline)
net=$(sed -n 's/.*sevio\.net=\([^ ]*\).*/\1/p' /proc/cmdline)
n=0
while [ ! -b /dev/vda ] && [ ! -e /sys/class/net/eth0 ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
if [ -n "$net" ]; then
    # net-bench's host: 10.0.2.16 at the NIC's MAC (QEMU's mac=).
    if ! ifconfig eth0 10.0.2.16 netmask 255.255.255.0 up; then
        echo "LINUX-GUEST FAIL: no eth0"
    fi
    for workload in $(echo "$net" | sed 's/,/ /g'); do
        udp-bench "$workload" || echo "LINUX-GUEST FAIL: udp-bench $workload"
    done
elif [ ! -b /dev/vda ]; then
    echo "LINUX-GUEST FAIL: no /dev/vda"
else
    # Linux at its best for this: no I/O scheduler (sevio has none), no
    # merging of adjacent requests (blk-bench's requests reach the device
    # as issued).
    echo none >/sys/block/vda/queue/scheduler
    echo 2 >/sys/block/vda/queue/nomerges
    # A job: name,rw,bs,iodepth,number_ios (comma-separated; jobs by ':').
    for job in $(echo "$jobs" | sed 's/:/ /g'); do
        set -- $(echo "$job" | sed 's/,/ /g')
        line=$(fio --name="$1" --filename=/dev/vda --direct=1 --ioengine=libaio --rw="$2" --bs="$3" \
            --iodepth="$4" --number_ios="$5" --lat_percentiles=1 \
            --output-format=terse --terse-version=3 2>&1 | grep '^3;')
        echo "FIO $1 $line"
    done
fi
echo "LINUX-GUEST DONE"
poweroff -f
EOF
chmod +x $TREE/init

(cd $TREE && find . | cpio -o -H newc --quiet | gzip -1) >$OUT/initrd.gz.tmp
mv $OUT/initrd.gz.tmp $OUT/initrd.gz
# The unpacked packages take about 600 MB; the .debs stay for next time.
rm -rf $ROOT $TREE
say "kernel $OUT/Image ($KERNEL_PACKAGE), initramfs $OUT/initrd.gz ($(du -h $OUT/initrd.gz | cut -f1))"
