# sevio: VirtIO driver PDs for seL4 Microkit.
#
#   make run    the reference system: on QEMU with MICROKIT_SDK set, else in sim
#   make test   everything CI checks (installs what it needs first)
#
# Other targets: build (aarch64 PD ELFs), image, qemu, qemu-test,
# bench-qemu (need MICROKIT_SDK), sim, bench, fuzz, readme-table, deps,
# clean.

MICROKIT_BOARD  ?= qemu_virt_aarch64
MICROKIT_CONFIG ?= debug
SYSTEM          ?= system.xml
SIM_TIMEOUT     ?= 60
FUZZ_SECONDS    ?= 60
# make bench-qemu: kernel configurations (the release kernel's figures
# are the ones that count; the debug kernel's are labelled sel4_debug)
# and rounds per system.
BENCH_CONFIGS   ?= release debug
BENCH_ROUNDS    ?= 3
export MICROKIT_BOARD MICROKIT_CONFIG

CARGO        ?= cargo
PD_TARGET    := aarch64-unknown-none
BUILD_DIR    := build/$(MICROKIT_CONFIG)
# Every crate that is a protection domain (its binary is a program image).
PD_PACKAGES  := $(shell sed -n 's/^name = "\(sevio-[a-z0-9-]*\)"/\1/p' pds/*/Cargo.toml pds/*/*/Cargo.toml transports/*/Cargo.toml)
HOST_PD_DIR  := target/debug
# The interpreter scripts/install-deps.sh installs sdfgen for.
SDFGEN_PYTHON ?= build/sdfgen-venv/bin/python3

# -nic none: no default NIC (on arm virt a virtio-net-pci whose option ROM
# comes from the ipxe-qemu package); systems that use a NIC name theirs.
QEMU_ARGS := -machine virt,virtualization=on -cpu cortex-a53 -m size=2G -nographic \
	-serial mon:stdio -nic none -global virtio-mmio.force-legacy=false
# The reference system's devices, on virtio-mmio slots QEMU picks (from 31
# down; the bus finds each wherever it is): a 16 MiB scratch disk, a NIC on
# user networking restricted to the guest network (the client pings the
# gateway; nothing leaves the host), a console whose output is discarded,
# and an entropy source.
DISK_IMG     ?= build/disk.img
QEMU_DEVICES ?= -drive file=$(DISK_IMG),if=none,format=raw,id=hd0 -device virtio-blk-device,drive=hd0 \
	-netdev user,id=net0,net=10.0.2.0/24,restrict=on -device virtio-net-device,netdev=net0,mac=52:54:00:12:34:56 \
	-device virtio-serial-device -chardev null,id=con0 -device virtconsole,chardev=con0 \
	-device virtio-rng-device

.PHONY: run test test-cargo test-loom test-images build image qemu qemu-fault qemu-gpu qemu-test bench-qemu readme-table sim bench fuzz deps clean check-sdk host-pds

run:
ifdef MICROKIT_SDK
	$(MAKE) qemu
else
	$(MAKE) sim
endif

deps:
	@scripts/install-deps.sh

# Unit, property, model-checked and sim end-to-end tests, then the PD
# images for aarch64 and the check that the microkit tool will accept them.
# The three steps run even when one fails (make -k), and cargo runs every
# test binary (--no-fail-fast): a failure names itself, nothing is skipped.
test: deps
	@$(MAKE) -k test-cargo test-loom test-images

test-cargo:
	$(CARGO) test --workspace --no-fail-fast
	@# sevio's sdfgen helper, in sdfgen systems with sDDF's virtualisers.
	$(SDFGEN_PYTHON) tools/sdfgen/run_tests.py

# The client queues' signalling protocols, model-checked (no lost wake-up)
# with loom; its own target dir, as --cfg loom rebuilds all.
test-loom:
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom $(CARGO) test --release -p sevio-queue --test loom

test-images: build
	@status=0; for sys in $(SYSTEM) systems/*.xml; do \
		$(CARGO) run -q -p sevio-elfcheck -- --system $$sys $(BUILD_DIR) || { echo "elfcheck: $$sys failed"; status=1; }; \
	done; exit $$status
	@# The check must also fail: a real image with one patched symbol renamed.
	@perl -pe 's/microkit_irqs\0/microkit_irqz\0/g' $(BUILD_DIR)/ping > $(BUILD_DIR)/ping.broken
	@if $(CARGO) run -q -p sevio-elfcheck -- $(BUILD_DIR)/ping.broken 2>/dev/null; then \
		echo "elfcheck accepted an image without microkit_irqs"; exit 1; \
	else echo "elfcheck refuses a broken image: ok"; fi

# aarch64 ELF of every PD, under its program-image name in $(BUILD_DIR).
build:
	$(CARGO) build --release --target $(PD_TARGET) $(addprefix -p ,$(PD_PACKAGES))
	@mkdir -p $(BUILD_DIR)
	@for f in $$(find target/$(PD_TARGET)/release -maxdepth 1 -type f -executable); do \
		cp $$f $(BUILD_DIR)/; done
	@echo "PD images in $(BUILD_DIR): $$(cd $(BUILD_DIR) && ls | grep -v '\.' | tr '\n' ' ')"

check-sdk:
ifndef MICROKIT_SDK
	@echo "error: set MICROKIT_SDK to a Microkit 2.3.0 SDK (e.g. make $(MAKECMDGOALS) MICROKIT_SDK=~/microkit-sdk-2.3.0);"
	@echo "       MICROKIT_BOARD (default qemu_virt_aarch64) and MICROKIT_CONFIG (debug|release, default debug) are optional."
	@echo "       Without an SDK, 'make run' runs the same system.xml in the simulator."
	@exit 1
endif
	@test -x "$(MICROKIT_SDK)/bin/microkit" || { echo "error: $(MICROKIT_SDK)/bin/microkit not found: is MICROKIT_SDK a Microkit SDK?"; exit 1; }

image: check-sdk build
	$(MICROKIT_SDK)/bin/microkit $(SYSTEM) --search-path $(BUILD_DIR) --board $(MICROKIT_BOARD) \
		--config $(MICROKIT_CONFIG) -o $(BUILD_DIR)/loader.img -r $(BUILD_DIR)/report.txt

$(DISK_IMG):
	@mkdir -p $(dir $@)
	truncate -s 16M $@

qemu: image $(DISK_IMG)
	qemu-system-aarch64 $(QEMU_ARGS) $(QEMU_DEVICES) \
		-device loader,file=$(BUILD_DIR)/loader.img,addr=0x70000000,cpu-num=0

# The gpu + input demo on seL4 in a QEMU window (needs a display): paint
# on a virtio-gpu, a keyboard, a mouse and a tablet; the serial console
# stays on the terminal.
GPU_DEVICES := -device virtio-gpu-device -device virtio-keyboard-device -device virtio-mouse-device \
	-device virtio-tablet-device
qemu-gpu:
	$(MAKE) qemu SYSTEM=systems/gpu.xml QEMU_ARGS="$(subst -nographic,,$(QEMU_ARGS))" QEMU_DEVICES="$(GPU_DEVICES)"

# Fault containment on seL4: the reference system with the blk driver's
# request queue mapped read-only, so blk faults at its first request. The
# fault goes to the bus (blk's parent), which unbinds blk; the transport
# resets the disk; net, console and rng clients still pass.
qemu-fault:
	@mkdir -p build
	sed '/<protection_domain name="blk"/,/<\/protection_domain>/ s|\(<map mr="blk_request" .*\) perms="rw"|\1 perms="r"|' \
		$(SYSTEM) > build/fault-system.xml
	$(MAKE) qemu SYSTEM=build/fault-system.xml

# The seL4 counterpart of the end-to-end tests: boot every system the
# README says runs on seL4 (tools/qemu-test/src/systems.rs), one after
# another under QEMU, check every client's verdict, faults and the disks
# from the host, one line per system and `N passed, M failed`; then the
# deliberately broken variants, which must fail. QEMU_TEST_ARGS adds
# options (e.g. --only pci-modern, --no-self-test, --timeout 300).
qemu-test: check-sdk build
	$(CARGO) run -q -p sevio-qemu-test -- run --sdk $(MICROKIT_SDK) --board $(MICROKIT_BOARD) \
		--config $(MICROKIT_CONFIG) --images $(BUILD_DIR) $(QEMU_TEST_ARGS)

# sevio against Linux on the same virtual hardware: blk-bench on seL4
# (systems/blk-bench.xml) and fio on a Linux guest made from Debian's
# packages (scripts/linux-guest.sh: Debian's arm64 kernel, busybox, fio),
# on one QEMU command line (machine, CPU, memory, a 256 MiB raw disk with
# cache=none where the host allows O_DIRECT), BENCH_ROUNDS rounds
# alternating the two; prints the medians and `RATIO
# <metric>_sel4_vs_linux` lines (above 1.0: sevio ahead); then the
# `journal` system BENCH_ROUNDS times (blk faulted ten times under load):
# `BENCH blk_restart_fault_to_first_answer_*` on seL4. Not part of
# make test: it needs the SDK and takes minutes.
bench-qemu: check-sdk
	@scripts/linux-guest.sh
	@for config in $(BENCH_CONFIGS); do \
		$(MAKE) --no-print-directory build MICROKIT_CONFIG=$$config >/dev/null || exit 1; \
		$(CARGO) run -q --release -p sevio-qemu-test -- bench --sdk $(MICROKIT_SDK) --board $(MICROKIT_BOARD) \
			--config $$config --images build/$$config --guest build/linux-guest --rounds $(BENCH_ROUNDS) || exit 1; \
		$(CARGO) run -q --release -p sevio-qemu-test -- restart-bench --sdk $(MICROKIT_SDK) --board $(MICROKIT_BOARD) \
			--config $$config --images build/$$config --rounds $(BENCH_ROUNDS) || exit 1; \
	done

# The README's "what works" table, from the e2e tests and qemu-test's
# systems (make test fails when the committed one is stale).
readme-table:
	$(CARGO) run -q -p sevio-qemu-test -- readme-table --write README.md

host-pds:
	$(CARGO) build $(addprefix -p ,$(PD_PACKAGES)) -p sevio-sim

sim: deps host-pds
	$(CARGO) run -q -p sevio-sim -- run $(SYSTEM) --pd-dir $(HOST_PD_DIR) --timeout $(SIM_TIMEOUT)

bench: deps
	@scripts/bench.sh

fuzz:
	@scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	$(CARGO) clean
	rm -rf build
