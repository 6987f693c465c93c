//! The seL4 systems `make qemu-test` boots, and the deliberately broken
//! variants it must refuse: one table each.
//!
//! A system is a system file (perhaps changed, see [`Variant`]), the QEMU
//! devices it runs against, what its console must show, and what the host
//! checks on its disks afterwards. Device arguments name their disk images
//! `{disk0}`, `{disk1}`...: one fresh, zeroed 16 MiB image per entry of
//! [`System::disks`], made for each run.

use crate::disk::DiskCheck;
use crate::output::Expect;

/// A system file as it is, or changed for a variant.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Variant {
    /// The file as written.
    AsWritten,
    /// The blk driver's request queue mapped read-only: blk faults at its
    /// first request (what `make qemu-fault` boots).
    BlkRequestReadOnly,
    /// blk given a fault-drill page: it faults once, the first time its
    /// device is up (`pds/drivers/core/src/drill.rs`), and is restarted.
    BlkFaultDrill,
    /// net-bench-rr (request/response) in net-bench's place.
    NetBenchRr,
    /// The pci transport given the GICv2m frame and its first 16 SPIs
    /// (MSI-X; `transports/pci/README.md`), as `systems/pci-msix.xml` has
    /// them.
    PciMsix,
    /// `systems/journal.xml` with blk's storm page made a hang drill page:
    /// blk spins for ever in the middle of its work, once, and the bus
    /// must notice through its heartbeat.
    StormToHang,
}

/// How a broken variant breaks, and the failure it must be reported with.
#[derive(Copy, Clone, Debug)]
pub struct Broken {
    /// What was broken, for the report.
    pub how: &'static str,
    /// Flip the byte at this offset of disk 0 after the run, before the
    /// host checks it.
    pub flip_after_run: Option<usize>,
    /// Text the failure's reason must contain.
    pub reason: &'static str,
}

/// One system booted on QEMU.
#[derive(Copy, Clone, Debug)]
pub struct System {
    /// Short name, unique in the tables.
    pub name: &'static str,
    /// The system file, relative to the workspace.
    pub file: &'static str,
    /// The file as written or changed.
    pub variant: Variant,
    /// virtio-mmio devices in legacy (version 1) register mode.
    pub legacy_mmio: bool,
    /// QEMU device arguments, whitespace-separated, disks as `{diskN}`.
    pub devices: &'static str,
    /// One scratch disk per entry and what it must hold afterwards.
    pub disks: &'static [DiskCheck],
    /// What the console must show.
    pub expect: Expect<'static>,
    /// Set for a deliberately broken variant.
    pub broken: Option<Broken>,
    /// The gpu + input demo: once paint is ready, inject
    /// `sevio_e2e::paint`'s input script through QMP; after the run, take
    /// a screendump and check events and picture (`sevio_e2e::paint::check`).
    pub gpu_demo: bool,
    /// A directory QEMU exports (virtio-9p), named `{export}` in
    /// `devices`: made fresh for each run holding only the host's file,
    /// and checked afterwards (`sevio_client_9p::host`).
    pub export: bool,
    /// A vhost-user vsock device: `vhost-device-vsock` started for the
    /// run, its socket named `{vhost}` in `devices`, guest memory shared
    /// with it; the host program talks to the guest's echo server once it
    /// listens, a host listener echoes the guest's connection, and both
    /// are checked afterwards (`sevio_client_vsock::host`).
    pub vsock: bool,
    /// A WAV file QEMU's wav audiodev records the tone client's playback
    /// to, named `{wav}` in `devices` (in the run's scratch directory);
    /// after QEMU quit it must hold the tone
    /// (`sevio_client_sound::host::check_tone`).
    pub tone_wav: bool,
    /// Config sections written into PD images before the microkit tool
    /// runs, as an sDDF build does with `objcopy --update-section`
    /// (`sevio_elfcheck::section`): the changed images go first on the
    /// tool's search path, the rest come from the usual images.
    pub sections: &'static [ImageSection],
}

/// One config section of one PD image.
#[derive(Copy, Clone, Debug)]
pub struct ImageSection {
    /// The image (a `program_image` of the system).
    pub image: &'static str,
    /// The section, e.g. `.sevio_restart_policy`.
    pub name: &'static str,
    /// Its new contents (exactly the section's size).
    pub contents: &'static [u8],
}

/// The bus's `.sevio_restart_policy` for "3 faults in 2000 ms leave a
/// driver down; back-off 500 us doubling to 4000 us"
/// (`pds/bus/src/restart.rs`; what `Sevio.serialise_restart_policy(out,
/// max_faults=3, window_ms=2000, first_backoff_us=500,
/// max_backoff_us=4000)` writes).
const POLICY_3_IN_2S: &[u8] =
    &[b'S', b'V', b'R', b'P', 3, 0, 0, 0, 0xd0, 0x07, 0, 0, 0xf4, 0x01, 0, 0, 0xa0, 0x0f, 0, 0, 0, 0, 0, 0];

const ALL_CLIENTS: &[&str] = &["blk_client", "net_client", "console_client", "rng_client"];

/// The reference system's devices, as `make qemu` attaches them, with
/// `$rng` as the entropy device.
macro_rules! reference_devices {
    ($rng:literal) => {
        concat!(
            "-drive file={disk0},if=none,format=raw,id=hd0 -device virtio-blk-device,drive=hd0 ",
            "-netdev user,id=net0,net=10.0.2.0/24,restrict=on ",
            "-device virtio-net-device,netdev=net0,mac=52:54:00:12:34:56 ",
            "-device virtio-serial-device -chardev null,id=con0 -device virtconsole,chardev=con0 ",
            $rng
        )
    };
}

const REFERENCE: System = System {
    name: "reference",
    file: "system.xml",
    variant: Variant::AsWritten,
    legacy_mmio: false,
    devices: reference_devices!("-device virtio-rng-device"),
    disks: &[DiskCheck::Pattern("blk_client")],
    expect: Expect {
        pass: ALL_CLIENTS,
        lines: &[
            "bus: blk0 <- virtio-blk at mmio slot",
            "bus: net0 <- virtio-net at mmio slot",
            "bus: console0 <- virtio-console at mmio slot",
            "bus: rng0 <- virtio-rng at mmio slot",
        ],
        faults: &[],
    },
    broken: None,
    gpu_demo: false,
    export: false,
    vsock: false,
    tone_wav: false,
    sections: &[],
};

const PCI_MODERN: System = System {
    name: "pci-modern",
    file: "systems/pci.xml",
    devices: "-drive file={disk0},if=none,format=raw,id=hd0 \
              -device virtio-blk-pci,drive=hd0,addr=2,disable-legacy=on",
    expect: Expect {
        pass: &["blk_client"],
        lines: &["pci: 00:02.0: virtio-blk (modern)", "bus: blk0 <- virtio-blk at pci 00:02.0"],
        faults: &[],
    },
    ..REFERENCE
};

const NET_PCI_MODERN: System = System {
    name: "net-pci-modern",
    file: "systems/net-pci.xml",
    // romfile=: no option ROM (the guest has no firmware to run it).
    devices: "-netdev user,id=net0,net=10.0.2.0/24,restrict=on \
              -device virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,addr=1,disable-legacy=on,romfile=",
    disks: &[],
    expect: Expect { pass: &["net_client"], lines: &["bus: net0 <- virtio-net at pci 00:01.0"], faults: &[] },
    ..REFERENCE
};

const GPU: System = System {
    name: "gpu",
    file: "systems/gpu.xml",
    devices: "-device virtio-gpu-device -device virtio-keyboard-device -device virtio-mouse-device \
              -device virtio-tablet-device",
    disks: &[],
    expect: Expect {
        pass: &["paint"],
        lines: &["bus: gpu0 <- virtio-gpu at mmio slot", "paint: frame fnv1a="],
        faults: &[],
    },
    gpu_demo: true,
    ..REFERENCE
};

/// What p9-client logs when it read the host's file exactly
/// (`sevio_client_9p::host::host_read_line`, checked by a test).
pub const P9_HOST_READ: &str = "host.txt: 3000 bytes, fnv1a ea607c0ac59b21a5";

const P9_MMIO: System = System {
    name: "9p",
    file: "systems/9p.xml",
    devices: "-fsdev local,id=fs0,path={export},security_model=none \
              -device virtio-9p-device,fsdev=fs0,mount_tag=sevio",
    disks: &[],
    expect: Expect {
        pass: &["p9_client"],
        lines: &[
            "bus: 9p0 <- virtio-9p at mmio slot",
            "p9: mount tag \"sevio\"",
            "listed 3 names, as made",
            P9_HOST_READ,
        ],
        faults: &[],
    },
    export: true,
    ..REFERENCE
};

/// What the vsock client logs once the host's bytes came back (see
/// `tools/e2e/tests/vsock.rs`: the same host side).
const VSOCK_LINES: &[&str] = &[
    "bus: vsock0 <- virtio-vsock at",
    "vsock: guest cid 3",
    "300000 bytes to the host and back, in order",
    "connection to 2:4321 closed",
    "echo server listening on port 1234",
    "after 200000 bytes echoed",
];

const VSOCK_MMIO: System = System {
    name: "vsock",
    file: "systems/vsock.xml",
    devices: "-chardev socket,id=vsock0,path={vhost} -device vhost-user-vsock-device,chardev=vsock0",
    disks: &[],
    expect: Expect { pass: &["vsock_client"], lines: VSOCK_LINES, faults: &[] },
    vsock: true,
    ..REFERENCE
};

const VSOCK_PCI: System = System {
    name: "vsock-pci",
    file: "systems/vsock-pci.xml",
    devices: "-chardev socket,id=vsock0,path={vhost} \
              -device vhost-user-vsock-pci,chardev=vsock0,addr=2,disable-legacy=on,romfile=",
    ..VSOCK_MMIO
};

const P9_PCI: System = System {
    name: "9p-pci",
    file: "systems/9p-pci.xml",
    devices: "-fsdev local,id=fs0,path={export},security_model=none \
              -device virtio-9p-pci,fsdev=fs0,mount_tag=sevio,addr=2,disable-legacy=on,romfile=",
    expect: Expect {
        pass: &["p9_client"],
        lines: &[
            "bus: 9p0 <- virtio-9p at pci 00:02.0",
            "p9: mount tag \"sevio\"",
            "listed 3 names, as made",
            P9_HOST_READ,
        ],
        faults: &[],
    },
    ..P9_MMIO
};

/// What the recorder logs when it was given every frame it asked for.
pub const RECORDER_CAPTURED: &str = "recorder: captured 24576 frames of 24576 asked";

/// The tone's device records to `{wav}` at the stream's own format; the
/// recorder's has the none audiodev (QEMU's wav has no input). The bus
/// names a driver by its rank among those registered when it binds, so
/// which instance got which device is read from the drivers' own lines.
const SOUND: System = System {
    name: "sound",
    file: "systems/sound.xml",
    devices: "-audiodev wav,id=snd0,path={wav},out.frequency=48000,out.channels=1,out.format=s16 \
              -device virtio-sound-device,audiodev=snd0 \
              -audiodev none,id=snd1 -device virtio-sound-pci,audiodev=snd1,addr=2,romfile=",
    disks: &[],
    expect: Expect {
        pass: &["tone", "recorder"],
        lines: &[
            "<- virtio-sound at mmio slot",
            "<- virtio-sound at pci 00:02.0",
            "sound0: sound: bound to Mmio",
            "sound1: sound: bound to Pci",
            RECORDER_CAPTURED,
            "tone: played 50048 frames of 50048",
        ],
        faults: &[],
    },
    tone_wav: true,
    ..REFERENCE
};

const SOUND_PCI: System = System {
    name: "sound-pci",
    file: "systems/sound-pci.xml",
    devices: "-audiodev wav,id=snd0,path={wav},out.frequency=48000,out.channels=1,out.format=s16 \
              -device virtio-sound-pci,audiodev=snd0,addr=2,romfile= \
              -audiodev none,id=snd1 -device virtio-sound-device,audiodev=snd1",
    expect: Expect {
        pass: &["tone", "recorder"],
        lines: &[
            "<- virtio-sound at pci 00:02.0",
            "<- virtio-sound at mmio slot",
            "sound0: sound: bound to Pci",
            "sound1: sound: bound to Mmio",
            RECORDER_CAPTURED,
            "tone: played 50048 frames of 50048",
        ],
        faults: &[],
    },
    ..SOUND
};

const BLK_PCI_SMMU: System = System {
    name: "blk-pci-smmu",
    file: "systems/blk-pci-smmu.xml",
    // QEMU virt's SMMUv3 in front of the PCIe devices, stage 2 (the
    // smmu PD's tables are stage-2 tables); iommu_platform=on as for
    // the virtio-iommu.
    devices: "-machine iommu=smmuv3 -global arm-smmuv3.stage=2 \
              -drive file={disk0},if=none,format=raw,id=hd0 \
              -device virtio-blk-pci,drive=hd0,addr=2,disable-legacy=on,iommu_platform=on",
    expect: Expect {
        pass: &["blk_client"],
        lines: &[
            "smmu: SMMUv3 enabled, stage 2",
            "bus: blk0 <- virtio-blk at pci 00:02.0 waits for the IOMMU",
            "smmu: driver 0: device 00:02.0 confined",
            "bus: blk0 <- virtio-blk at pci 00:02.0 (DMA confined by the IOMMU)",
        ],
        faults: &[],
    },
    ..PCI_MODERN
};

const NET_PCI_SMMU: System = System {
    name: "net-pci-smmu",
    file: "systems/net-pci-smmu.xml",
    devices: "-machine iommu=smmuv3 -global arm-smmuv3.stage=2 \
              -netdev user,id=net0,net=10.0.2.0/24,restrict=on \
              -device virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,addr=1,disable-legacy=on,romfile=,\
              iommu_platform=on",
    expect: Expect {
        pass: &["net_client"],
        lines: &[
            "smmu: driver 1: device 00:01.0 confined",
            "bus: net0 <- virtio-net at pci 00:01.0 (DMA confined by the IOMMU)",
        ],
        faults: &[],
    },
    ..NET_PCI_MODERN
};

/// Every system the README says runs on seL4.
pub const SYSTEMS: &[System] = &[
    System {
        name: "pingpong",
        file: "systems/pingpong.xml",
        devices: "",
        disks: &[],
        expect: Expect {
            pass: &["ping"],
            lines: &["tally: hello (passive)", "tally: call 3 sums to 153"],
            faults: &[],
        },
        ..REFERENCE
    },
    REFERENCE,
    System {
        name: "rproc",
        file: "systems/rproc.xml",
        devices: "",
        disks: &[],
        expect: Expect {
            pass: &["rpmsg_client", "rng_client"],
            lines: &[
                "bus: rpmsg0 <- virtio-rpmsg at rproc entry 0",
                "bus: rng0 <- virtio-rng at rproc entry 1",
                "rpmsg_client: remote endpoint rpmsg-echo at 1024",
                "vhost: rpmsg: the driver announced 'echo-client' at 1024 (Create)",
                "rpmsg_client: burst of 100 echoed in order",
                // The device side's deterministic stream, as in sim.
                "rng_client: request 4: 10000 bytes at 0x1200 in 3 pieces, 256 distinct values, fnv1a 45fd0782b2be0c91",
            ],
            faults: &[],
        },
        ..REFERENCE
    },
    System {
        name: "reference-legacy",
        legacy_mmio: true,
        expect: Expect {
            lines: &[
                "mmio: slot 31: virtio-blk (register version 1)",
                "bus: blk0 <- virtio-blk at mmio slot",
                "bus: net0 <- virtio-net at mmio slot",
                "bus: console0 <- virtio-console at mmio slot",
                "bus: rng0 <- virtio-rng at mmio slot",
            ],
            ..REFERENCE.expect
        },
        ..REFERENCE
    },
    System {
        name: "reference-packed",
        devices: concat!(
            "-drive file={disk0},if=none,format=raw,id=hd0 -device virtio-blk-device,drive=hd0,packed=on ",
            "-netdev user,id=net0,net=10.0.2.0/24,restrict=on ",
            "-device virtio-net-device,netdev=net0,mac=52:54:00:12:34:56,packed=on ",
            "-device virtio-serial-device,packed=on -chardev null,id=con0 -device virtconsole,chardev=con0 ",
            "-device virtio-rng-device,packed=on"
        ),
        expect: Expect {
            lines: &[
                "blk: packed virtqueues (VIRTIO_F_RING_PACKED)",
                "net: packed virtqueues (VIRTIO_F_RING_PACKED)",
                "console: packed virtqueues (VIRTIO_F_RING_PACKED)",
                "rng: packed virtqueues (VIRTIO_F_RING_PACKED)",
            ],
            ..REFERENCE.expect
        },
        ..REFERENCE
    },
    PCI_MODERN,
    System {
        name: "pci-legacy",
        devices: "-drive file={disk0},if=none,format=raw,id=hd0 \
                  -device virtio-blk-pci,drive=hd0,addr=4,disable-modern=on,disable-legacy=off",
        expect: Expect {
            pass: &["blk_client"],
            lines: &["pci: 00:04.0: virtio-blk (legacy)", "bus: blk0 <- virtio-blk at pci 00:04.0"],
            faults: &[],
        },
        ..PCI_MODERN
    },
    System {
        name: "pci-root-port",
        devices: "-device pcie-root-port,id=rp0,chassis=1,slot=1,addr=6 \
                  -drive file={disk0},if=none,format=raw,id=hd0 -device virtio-blk-pci,drive=hd0,bus=rp0",
        expect: Expect {
            pass: &["blk_client"],
            lines: &["pci: 1 bridge(s)", "bus: blk0 <- virtio-blk at pci 01:00.0"],
            faults: &[],
        },
        ..PCI_MODERN
    },
    System {
        name: "mmio-pci",
        file: "systems/mmio-pci.xml",
        devices: "-drive file={disk0},if=none,format=raw,id=hd0 -device virtio-blk-device,drive=hd0 \
                  -drive file={disk1},if=none,format=raw,id=hd1 -device virtio-blk-pci,drive=hd1,addr=2",
        disks: &[DiskCheck::Pattern("client0"), DiskCheck::Pattern("client1")],
        expect: Expect {
            pass: &["client0", "client1"],
            // Not the bus's names for the drivers: it numbers them in the
            // order they register, which differs between runs on seL4.
            lines: &["<- virtio-blk at mmio slot 31", "<- virtio-blk at pci 00:02.0"],
            faults: &[],
        },
        ..REFERENCE
    },
    GPU,
    System {
        name: "gpu-pci",
        file: "systems/gpu-pci.xml",
        devices: "-device virtio-gpu-pci,addr=2,disable-legacy=on,romfile= -device virtio-keyboard-pci,addr=3 \
                  -device virtio-mouse-pci,addr=4 -device virtio-tablet-pci,addr=5",
        expect: Expect { lines: &["bus: gpu0 <- virtio-gpu at pci 00:02.0", "paint: frame fnv1a="], ..GPU.expect },
        ..GPU
    },
    NET_PCI_MODERN,
    System {
        name: "net-pci-legacy",
        devices: "-netdev user,id=net0,net=10.0.2.0/24,restrict=on \
                  -device virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,addr=5,disable-modern=on,romfile=",
        expect: Expect { lines: &["bus: net0 <- virtio-net at pci 00:05.0"], ..NET_PCI_MODERN.expect },
        ..NET_PCI_MODERN
    },
    System {
        name: "net-pci-msix",
        file: "systems/net-pci-msix.xml",
        expect: Expect {
            lines: &[
                "pci: GICv2m frame at 0x8020000: 64 SPIs from INTID 80",
                "pci: 00:01.0:   MSI-X: 4 vector(s), INTIDs 80..=83",
                "bus: net0 <- virtio-net at pci 00:01.0",
            ],
            ..NET_PCI_MODERN.expect
        },
        ..NET_PCI_MODERN
    },
    System {
        name: "blk-pci-iommu",
        file: "systems/blk-pci-iommu.xml",
        // The IOMMU first: QEMU gives a PCI device its DMA address space
        // when it creates it. iommu_platform=on: QEMU sends a virtio
        // device's DMA through the IOMMU only when it offers
        // VIRTIO_F_ACCESS_PLATFORM.
        devices: "-device virtio-iommu-pci,addr=1,boot-bypass=off \
                  -drive file={disk0},if=none,format=raw,id=hd0 \
                  -device virtio-blk-pci,drive=hd0,addr=2,disable-legacy=on,iommu_platform=on",
        expect: Expect {
            pass: &["blk_client"],
            lines: &[
                "bus: blk0 <- virtio-blk at pci 00:02.0 waits for the IOMMU",
                "iommu: driver 0: device 00:02.0 confined",
                "bus: blk0 <- virtio-blk at pci 00:02.0 (DMA confined by the IOMMU)",
            ],
            faults: &[],
        },
        ..PCI_MODERN
    },
    System {
        name: "net-pci-iommu",
        file: "systems/net-pci-iommu.xml",
        devices: "-device virtio-iommu-pci,addr=3,boot-bypass=off -netdev user,id=net0,net=10.0.2.0/24,restrict=on \
                  -device virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,addr=1,disable-legacy=on,romfile=,\
                  iommu_platform=on",
        expect: Expect {
            pass: &["net_client"],
            lines: &[
                "iommu: driver 1: device 00:01.0 confined",
                "bus: net0 <- virtio-net at pci 00:01.0 (DMA confined by the IOMMU)",
            ],
            faults: &[],
        },
        ..NET_PCI_MODERN
    },
    BLK_PCI_SMMU,
    NET_PCI_SMMU,
    System {
        name: "blk-pci-smmu-msix",
        file: "systems/blk-pci-smmu-msix.xml",
        expect: Expect {
            lines: &[
                "smmu: SMMUv3 enabled, stage 2",
                "smmu: MSI frame 0x8020000 mapped write-only in every confined slot",
                "pci: GICv2m frame at 0x8020000: 64 SPIs from INTID 80",
                "pci: 00:02.0:   MSI-X: 2 vector(s), INTIDs 80..=81",
                "smmu: driver 0: device 00:02.0 confined",
                "bus: blk0 <- virtio-blk at pci 00:02.0 (DMA confined by the IOMMU)",
            ],
            ..BLK_PCI_SMMU.expect
        },
        ..BLK_PCI_SMMU
    },
    System {
        name: "net-pci-smmu-msix",
        file: "systems/net-pci-smmu-msix.xml",
        expect: Expect {
            lines: &[
                "smmu: MSI frame 0x8020000 mapped write-only in every confined slot",
                "pci: 00:01.0:   MSI-X: 4 vector(s), INTIDs 80..=83",
                "smmu: driver 1: device 00:01.0 confined",
                "bus: net0 <- virtio-net at pci 00:01.0 (DMA confined by the IOMMU)",
            ],
            ..NET_PCI_SMMU.expect
        },
        ..NET_PCI_SMMU
    },
    System {
        name: "blk-pci-msix",
        file: "systems/pci-msix.xml",
        expect: Expect {
            lines: &[
                "pci: GICv2m frame at 0x8020000: 64 SPIs from INTID 80",
                "pci: 00:02.0:   MSI-X: 2 vector(s), INTIDs 80..=81",
                "bus: blk0 <- virtio-blk at pci 00:02.0",
            ],
            ..PCI_MODERN.expect
        },
        ..PCI_MODERN
    },
    System {
        name: "rogue-pci",
        file: "systems/rogue-pci.xml",
        devices: "-drive file={disk0},if=none,format=raw,id=hd0 \
                  -device virtio-blk-pci,drive=hd0,addr=2,disable-legacy=on,iommu_platform=on",
        // The rogue only reads: the (zeroed) disk is not checked.
        disks: &[DiskCheck::Scratch],
        expect: Expect {
            pass: &["canary"],
            lines: &[
                "rogue: asked the device to read sectors 0..8 into 0x48300000",
                "canary: changed: 4096 of 4096 bytes, the first at offset 0",
            ],
            faults: &[],
        },
        ..PCI_MODERN
    },
    System {
        name: "rogue-pci-iommu",
        file: "systems/rogue-pci-iommu.xml",
        devices: "-device virtio-iommu-pci,addr=1,boot-bypass=off -drive file={disk0},if=none,format=raw,id=hd0 \
                  -device virtio-blk-pci,drive=hd0,addr=2,disable-legacy=on,iommu_platform=on",
        disks: &[DiskCheck::Scratch],
        expect: Expect {
            pass: &["canary"],
            lines: &[
                "rogue: asked the device to read sectors 0..8 into 0x48300000",
                "iommu: DMA fault: device 00:02.0 (driver 0) access at 0x48300000 refused",
                "bus: blk0 </- virtio-blk at pci 00:02.0",
                "bus: restarting blk0 in 1000 us (restart 1 of 11",
                "canary: intact",
            ],
            faults: &["iommu: DMA fault", "bus: driver 0 faulted (blk0): the IOMMU refused"],
        },
        ..PCI_MODERN
    },
    System {
        name: "rogue-pci-smmu",
        file: "systems/rogue-pci-smmu.xml",
        devices: "-machine iommu=smmuv3 -global arm-smmuv3.stage=2 \
                  -drive file={disk0},if=none,format=raw,id=hd0 \
                  -device virtio-blk-pci,drive=hd0,addr=2,disable-legacy=on,iommu_platform=on",
        disks: &[DiskCheck::Scratch],
        expect: Expect {
            pass: &["canary"],
            lines: &[
                "rogue: asked the device to read sectors 0..8 into 0x48300000",
                "smmu: DMA fault: device 00:02.0 (driver 0) write at 0x48300000 refused (F_TRANSLATION)",
                "bus: blk0 </- virtio-blk at pci 00:02.0",
                "bus: restarting blk0 in 1000 us (restart 1 of 11",
                "canary: intact",
            ],
            faults: &["smmu: DMA fault", "bus: driver 0 faulted (blk0): the IOMMU refused"],
        },
        ..PCI_MODERN
    },
    P9_MMIO,
    P9_PCI,
    VSOCK_MMIO,
    VSOCK_PCI,
    SOUND,
    SOUND_PCI,
    System {
        name: "timer",
        file: "systems/timer.xml",
        // No devices: the timer PD drives the CPU's own generic timer.
        devices: "",
        disks: &[],
        expect: Expect {
            // Each client checks its own deadlines (none early, none for a
            // replaced timeout, lateness within its limit) and passes.
            pass: &["timer_client0", "timer_client1", "timer_client2"],
            lines: &[
                "timer: Arm generic timer (EL0 physical) at",
                "timer_client0: lateness 1 ms",
                "timer_client1: lateness 1 ms",
                "timer_client2: lateness 1 ms",
            ],
            faults: &[],
        },
        ..REFERENCE
    },
    System {
        name: "fault",
        variant: Variant::BlkRequestReadOnly,
        // blk faults mid-run: what reached the disk is not checked.
        disks: &[DiskCheck::Scratch],
        expect: Expect {
            pass: &["net_client", "console_client", "rng_client"],
            lines: &[
                "bus: driver 0 faulted (blk0): VM fault at address 0x2402",
                "bus: blk0 </- virtio-blk at mmio slot",
                "mmio: driver 0 unbound; device at",
                "bus: restarting blk0 in 1000 us (restart 1 of 11",
                "bus: blk0 bound again",
                "bus: restarting blk0 in 16000 us (restart 11 of 11",
                "bus: blk0 stays down: stopped 12 times in 10000 ms",
            ],
            faults: &["bus: driver 0 faulted"],
        },
        ..REFERENCE
    },
    System {
        name: "fault-policy",
        variant: Variant::BlkRequestReadOnly,
        // The fault loop above under the system's own restart policy.
        disks: &[DiskCheck::Scratch],
        sections: &[ImageSection { image: "bus", name: ".sevio_restart_policy", contents: POLICY_3_IN_2S }],
        expect: Expect {
            pass: &["net_client", "console_client", "rng_client"],
            lines: &[
                "bus: restart policy from .sevio_restart_policy: 3 faults in 2000 ms leave a driver down",
                "bus: driver 0 faulted (blk0): VM fault at address 0x2402",
                "bus: restarting blk0 in 500 us (restart 1 of 2",
                "bus: restarting blk0 in 1000 us (restart 2 of 2",
                "bus: blk0 stays down: stopped 3 times in 2000 ms",
            ],
            // The policy line names faults too ("3 faults in 2000 ms").
            faults: &["bus: driver 0 faulted", "bus: restart policy from"],
        },
        ..REFERENCE
    },
    System {
        name: "restart",
        variant: Variant::BlkFaultDrill,
        // blk faults once with its device up, is restarted, and serves its
        // client to the end: the disk must hold the client's pattern.
        expect: Expect {
            pass: ALL_CLIENTS,
            lines: &[
                "blk: fault drill: faulting once with the device up",
                "bus: driver 0 faulted (blk0): user exception",
                "mmio: driver 0 unbound; device at",
                "bus: restarting blk0 in 1000 us (restart 1 of 11",
                "bus: blk0 bound again",
            ],
            faults: &["bus: driver 0 faulted", "fault drill", "panicked at pds/drivers/core/src/drill.rs"],
        },
        ..REFERENCE
    },
    System {
        name: "journal",
        file: "systems/journal.xml",
        devices: "-drive file={disk0},if=none,format=raw,id=hd0 -device virtio-blk-device,drive=hd0",
        // Every block blk-soak was told was written holds its last round's
        // pattern, nothing else was written.
        disks: &[DiskCheck::SoakPattern("blk_client")],
        expect: Expect {
            // blk-soak passes only if every block read back is the one it
            // wrote and no id was answered twice.
            pass: &["blk_client"],
            lines: &[
                "blk: fault storm: 10 faults, seed",
                "blk: fault storm: fault 5 of 10, at bring-up",
                "blk: fault storm: fault 10 of 10",
                "bus: restarting blk0 in 16000 us (restart 10 of 11",
                "blk: journal at start",
                "blk: first answer since the restart at",
                "blk-client: round 12 of 12",
            ],
            faults: &["bus: driver 0 faulted", "fault storm", "panicked at pds/drivers/core/src/drill.rs"],
        },
        ..REFERENCE
    },
    System {
        name: "journal-hang",
        file: "systems/journal.xml",
        variant: Variant::StormToHang,
        devices: "-drive file={disk0},if=none,format=raw,id=hd0 -device virtio-blk-device,drive=hd0",
        disks: &[DiskCheck::SoakPattern("blk_client")],
        expect: Expect {
            pass: &["blk_client"],
            lines: &[
                "bus: watching 1 driver heartbeat(s)",
                "blk: hang drill: spinning for ever at",
                "bus: driver 0 hung (blk0): inside one event for",
                "bus: blk0 bound again",
                "blk: journal at start 2:",
                "blk-client: round 12 of 12",
            ],
            // The bus's hang line says it is treated as a fault.
            faults: &["bus: driver 0 hung (blk0)"],
        },
        ..REFERENCE
    },
];

/// Broken variants: each must be reported as failed, for its reason.
pub const BROKEN: &[System] = &[
    System {
        name: "broken-rng-zeros",
        // The entropy device reads /dev/zero: the rng client must FAIL.
        devices: reference_devices!(
            "-object rng-random,id=zeros,filename=/dev/zero -device virtio-rng-device,rng=zeros"
        ),
        broken: Some(Broken {
            how: "the entropy device returns zeros",
            flip_after_run: None,
            // `rng_client: FAIL: the bytes are (nearly) constant`.
            reason: "rng_client: FAIL",
        }),
        ..REFERENCE
    },
    System {
        name: "broken-disk-flipped",
        broken: Some(Broken {
            how: "one byte of the disk flipped after the run",
            // Byte 17 of the last block, one the client wrote.
            flip_after_run: Some(crate::disk::DISK_BYTES - 4096 + 17),
            reason: "block 4095 byte 17 is",
        }),
        ..PCI_MODERN
    },
    System {
        name: "broken-disk-read-only",
        // The client passes (it checks that writes are refused), but the
        // disk does not hold what it was asked to write.
        devices: "-drive file={disk0},if=none,format=raw,id=hd0,readonly=on \
                  -device virtio-blk-pci,drive=hd0,addr=2,disable-legacy=on",
        broken: Some(Broken {
            how: "the disk is read-only",
            flip_after_run: None,
            reason: "block 0 byte 0 is 0x00, the client wrote",
        }),
        ..PCI_MODERN
    },
];

/// The system named `name`, in either table.
pub fn find(name: &str) -> Option<&'static System> {
    SYSTEMS.iter().chain(BROKEN).find(|s| s.name == name)
}

/// The system file's text for `variant`: `Err` if the file no longer has
/// what the variant changes.
pub fn apply(variant: Variant, text: &str) -> Result<String, String> {
    match variant {
        Variant::AsWritten => Ok(text.to_string()),
        Variant::BlkRequestReadOnly => {
            let start = text.find(r#"<protection_domain name="blk""#).ok_or("no protection domain named blk")?;
            let end = start + text[start..].find("</protection_domain>").ok_or("blk's protection domain never ends")?;
            let blk = &text[start..end];
            let map = blk.find(r#"<map mr="blk_request""#).ok_or("blk maps no blk_request")?;
            let perms = map + blk[map..].find(r#"perms="rw""#).ok_or("blk's blk_request map is not rw")?;
            let rest = &text[start + perms + r#"perms="rw""#.len()..];
            Ok(format!("{}perms=\"r\"{rest}", &text[..start + perms]))
        }
        Variant::NetBenchRr => {
            let image = r#"<program_image path="net-bench" />"#;
            if !text.contains(image) {
                return Err("no net-bench program image".into());
            }
            Ok(text.replace(image, r#"<program_image path="net-bench-rr" />"#))
        }
        Variant::PciMsix => {
            let first_pd = text.find("<protection_domain ").ok_or("no protection domain")?;
            let image = r#"<program_image path="pci" />"#;
            let pci = text.find(image).ok_or("no pci program image")? + image.len();
            if pci < first_pd {
                return Err("pci's image before the first protection domain".into());
            }
            let irqs: String = (0..MSI_IRQS)
                .map(|i| format!("\n        <irq irq=\"{}\" id=\"{}\" trigger=\"edge\" />", MSI_FIRST_INTID + i, 4 + i))
                .collect();
            Ok(format!(
                "{}{MSI_REGION}\n    {}\n        {MSI_MAP}{irqs}{}",
                &text[..first_pd],
                &text[first_pd..pci],
                &text[pci..]
            ))
        }
        Variant::StormToHang => {
            let storm = r#"setvar_vaddr="fault_storm_vaddr""#;
            if !text.contains(storm) {
                return Err("no fault storm page to turn into a hang drill".into());
            }
            Ok(text.replace(storm, r#"setvar_vaddr="fault_hang_vaddr""#))
        }
        Variant::BlkFaultDrill => {
            let first_pd = text.find("<protection_domain ").ok_or("no protection domain")?;
            let image = r#"<program_image path="blk" />"#;
            let blk = text.find(image).ok_or("no blk program image")? + image.len();
            if blk < first_pd {
                return Err("blk's image before the first protection domain".into());
            }
            Ok(format!(
                "{}{DRILL_REGION}\n    {}\n            {DRILL_MAP}{}",
                &text[..first_pd],
                &text[first_pd..blk],
                &text[blk..]
            ))
        }
    }
}

/// QEMU arm virt's GICv2m frame, the pci PD's map of it, and its SPIs
/// ([`Variant::PciMsix`]).
const MSI_REGION: &str = r#"<memory_region name="gicv2m" size="0x1000" phys_addr="0x8020000" />"#;
const MSI_MAP: &str = r#"<map mr="gicv2m" vaddr="0x14000000" perms="rw" cached="false" setvar_vaddr="pci_msi_frame_vaddr" />
        <setvar symbol="pci_msi_frame_paddr" region_paddr="gicv2m" />"#;
const MSI_FIRST_INTID: usize = 80;
const MSI_IRQS: usize = 16;

/// The drill page of [`Variant::BlkFaultDrill`] and blk's map of it (past
/// blk's other maps).
const DRILL_REGION: &str = r#"<memory_region name="blk_fault_drill" size="0x1000" />"#;
const DRILL_MAP: &str = r#"<map mr="blk_fault_drill" vaddr="0x2a00000" perms="rw" setvar_vaddr="fault_drill_vaddr" />"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_disks_are_numbered_as_declared() {
        let all: Vec<&System> = SYSTEMS.iter().chain(BROKEN).collect();
        for (i, s) in all.iter().enumerate() {
            assert!(all[..i].iter().all(|t| t.name != s.name), "{} twice", s.name);
            for n in 0..4 {
                let named = s.devices.contains(&format!("{{disk{n}}}"));
                assert_eq!(named, n < s.disks.len(), "{}: disk{n}", s.name);
            }
            assert_eq!(s.broken.is_some(), BROKEN.iter().any(|b| b.name == s.name), "{}", s.name);
        }
    }

    #[test]
    fn every_expected_pd_is_in_its_system_file() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for s in SYSTEMS.iter().chain(BROKEN) {
            let text = std::fs::read_to_string(root.join(s.file)).unwrap();
            for pd in s.expect.pass {
                assert!(text.contains(&format!("<protection_domain name=\"{pd}\"")), "{}: no PD {pd}", s.name);
            }
        }
    }

    #[test]
    fn the_fault_variant_makes_only_blks_request_map_read_only() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let text = std::fs::read_to_string(root.join("system.xml")).unwrap();
        let changed = apply(Variant::BlkRequestReadOnly, &text).unwrap();
        assert_eq!(changed.len(), text.len() - 1);
        let diff: Vec<(&str, &str)> = text.lines().zip(changed.lines()).filter(|(a, b)| a != b).collect();
        assert_eq!(diff.len(), 1, "{diff:?}");
        assert!(diff[0].1.contains(r#"<map mr="blk_request""#) && diff[0].1.contains(r#"perms="r""#), "{diff:?}");
        assert!(apply(Variant::BlkRequestReadOnly, "<system/>").is_err());
    }

    #[test]
    fn the_drill_variant_adds_a_region_and_maps_it_into_blk_only() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let text = std::fs::read_to_string(root.join("system.xml")).unwrap();
        let changed = apply(Variant::BlkFaultDrill, &text).unwrap();
        let system = sevio_sdf::parse(&changed).unwrap();
        let blk = system.pds.iter().find(|p| p.name == "blk").unwrap();
        assert!(blk.maps.iter().any(|m| m.mr == "blk_fault_drill"));
        let mapped_by: usize =
            system.pds.iter().map(|p| p.maps.iter().filter(|m| m.mr == "blk_fault_drill").count()).sum();
        assert_eq!(mapped_by, 1);
        assert!(apply(Variant::BlkFaultDrill, "<system/>").is_err());
    }

    #[test]
    fn the_rr_variant_swaps_only_the_bench_image_and_still_checks() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let text = std::fs::read_to_string(root.join("systems/net-bench-peer.xml")).unwrap();
        let changed = apply(Variant::NetBenchRr, &text).unwrap();
        let system = sevio_sdf::parse(&changed).unwrap();
        let bench = system.pds.iter().find(|p| p.name == "net_bench").unwrap();
        assert_eq!(bench.program_image, "net-bench-rr");
        assert_eq!(changed.lines().count(), text.lines().count());
        assert!(apply(Variant::NetBenchRr, "<system/>").unwrap_err().contains("no net-bench"));
    }

    #[test]
    fn the_msix_variant_gives_pci_what_the_msix_system_files_give_it() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for (intx, msix) in
            [("systems/pci.xml", "systems/pci-msix.xml"), ("systems/net-pci.xml", "systems/net-pci-msix.xml")]
        {
            let text = std::fs::read_to_string(root.join(intx)).unwrap();
            let changed = sevio_sdf::parse(&apply(Variant::PciMsix, &text).unwrap()).unwrap();
            let written = sevio_sdf::load(root.join(msix)).unwrap();
            let pci = |s: &sevio_sdf::System| {
                let p = s.pds.iter().find(|p| p.name == "pci").unwrap();
                let irqs: Vec<String> = p.irqs.iter().map(|i| format!("{} {} {:?}", i.irq, i.id, i.trigger)).collect();
                let maps: Vec<String> = p
                    .maps
                    .iter()
                    .map(|m| format!("{} {:#x} {:?} {}", m.mr, m.vaddr, m.setvar_vaddr, m.cached))
                    .collect();
                let vars: Vec<String> = p.setvars.iter().map(|v| format!("{} {}", v.symbol, v.region_paddr)).collect();
                let sorted = |mut v: Vec<String>| {
                    v.sort();
                    v
                };
                (sorted(irqs), sorted(maps), sorted(vars))
            };
            assert_eq!(pci(&changed), pci(&written), "{msix}");
            let frame = |s: &sevio_sdf::System| s.memory_region("gicv2m").map(|r| (r.size, r.phys_addr));
            assert_eq!(frame(&changed), frame(&written));
            assert!(frame(&changed).is_some());
        }
        assert!(apply(Variant::PciMsix, "<system/>").is_err());
    }
}
