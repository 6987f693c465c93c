"""sevio's protection domains for sdfgen systems.

sdfgen (PyPI) builds sDDF/LionsOS systems: ``Sddf.Blk(sdf, device, driver,
virt)`` and its siblings wire a driver PD to sDDF's virtualisers and
clients. A sevio driver does not map its device: a transport PD (virtio-mmio
or virtio-pci) owns the registers and IRQs, and the bus PD binds drivers to
devices. :class:`Sevio` adds those PDs and returns a driver PD to pass where
sdfgen expects the driver, with the device given as ``None``::

    sdf = SystemDescription(SystemDescription.Arch.AARCH64, 0x6000_0000)
    sevio = Sevio(sdf)
    blk_driver = sevio.add_driver("blk")                 # on virtio-mmio
    blk_virt = ProtectionDomain("blk_virt", "blk_virt.elf", priority=199)
    blk = Sddf.Blk(sdf, None, blk_driver, blk_virt)
    ...                                                  # clients, connect, serialise_config
    xml = sevio.render()                                 # not sdf.render(): see render()
    sevio.serialise_data_regions(xml, out_dir)           # blk_data_regions.data: see there

Each driver image then gets sdfgen's config for it and the data regions,
as sDDF's build does with objcopy::

    objcopy --update-section .blk_driver_config=blk_driver.data \
            --update-section .sevio_data_regions=blk_data_regions.data blk blk.elf

Wiring (README.md, "Wiring a driver into a system"): driver k is the bus's
child k; bus channel 8 + k and transport channel 40 + k (driver ends may
PPC); the transport on bus channel 0 (mmio) or 1 (pci), its end 32 may PPC;
mmio IRQs 48..79 as ids 0..31, pci INTA..INTD (35..38, level) as ids 0..3;
per driver a doorbell page and a 256 KiB DMA region at a fixed physical
address, both also mapped by (doorbell) or known to (DMA) its transport.

Priorities: PPC goes only to a higher priority, and sDDF's blk virtualiser
(199 in sDDF's examples) busy-waits in init for its driver to publish the
storage information; its serial tx virtualiser (199), in a debug build with
input, busy-waits in init until the driver has sent its "Begin input". So
the driver sits above the virtualisers (200), the transports above it
(252), the bus above them (254).

sevio's own systems (tools/sdfgen/systems.py, ``make systems``) use the
same class with their own priorities (bus 250, transports 200, drivers
150), the uart and timer PDs (:func:`add_uart`, :func:`add_timer`), the
remoteproc transport and its device side (:meth:`Sevio.add_vhost`), and
the client wirings of sevio's own clients (``connect_*``).
"""

from __future__ import annotations

import os
import re
import struct
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Tuple

from sdfgen import SystemDescription

# The bus's limits for a system's restart policy (pds/bus/src/restart.rs:
# MAX_FAULTS_LIMIT, WINDOW_MS_LIMIT, BACKOFF_US_LIMIT).
RESTART_MAX_FAULTS = 1000
RESTART_WINDOW_MS = 86_400_000
RESTART_BACKOFF_US = 100_000

PD = SystemDescription.ProtectionDomain
MR = SystemDescription.MemoryRegion
Map = SystemDescription.Map
Channel = SystemDescription.Channel
Irq = SystemDescription.IrqConventional

BUS_PRIORITY = 254
TRANSPORT_PRIORITY = 252
DRIVER_PRIORITY = 200

# Bus side: transports on 0 (mmio), 1 (pci) and 2 (rproc), driver k on 8 + k.
BUS_TRANSPORT_CHANNEL = {"mmio": 0, "pci": 1, "rproc": 2}
BUS_DRIVER_CHANNEL_BASE = 8
# Transport side: the bus on 32, driver k on 40 + k.
TRANSPORT_BUS_CHANNEL = 32
TRANSPORT_DRIVER_CHANNEL_BASE = 40
# Driver side: the bus on 0, the transport on 1; sdfgen gives the rest.
DRIVER_BUS_CHANNEL = 0
DRIVER_TRANSPORT_CHANNEL = 1
# Every transport serves drivers 0..7 (transports/core: driver<k>_* setvars).
MAX_DRIVERS = 8

DMA_REGION_SIZE = 0x4_0000  # transport protocol's DMA_WINDOW_SIZE
PAGE = 0x1000
DEFAULT_DMA_BASE = 0x4800_0000  # in the RAM window Microkit leaves to user PDs

BINDINGS_VADDR = 0x200_0000
DOORBELL_VADDR = 0x210_0000  # driver; transport: + k pages
DMA_VADDR = 0x220_0000
MMIO_REGS_VADDR = 0x300_0000
STACK_SIZE = 0x1_0000
# The net driver and the rproc transport overflowed 128 KiB and 64 KiB
# on seL4 (Microkit 2.3.0, debug and release: a VM fault just below the
# stack); sim cannot see it (its PDs run on host stacks).
NET_STACK_SIZE = 0x4_0000
RPROC_STACK_SIZE = 0x4_0000

# QEMU arm virt: 32 virtio-mmio slots of 0x200 bytes from 0xa000000, GIC
# INTIDs 48 + slot; PCIe ECAM, MMIO and I/O windows, INTA..INTD on 35..38.
MMIO_REGS = ("virtio_mmio", 0x4000, 0xA00_0000)
MMIO_IRQ_BASE, MMIO_SLOTS = 48, 32
PCI_WINDOWS = [  # name, size, paddr, vaddr, setvar
    ("pci_ecam", 0x40_0000, 0x40_1000_0000, 0x1000_0000, "pci_ecam_vaddr"),
    ("pci_mem", 0x100_0000, 0x1000_0000, 0x1200_0000, "pci_mem_vaddr"),
    ("pci_io", 0x1_0000, 0x3EFF_0000, 0x1300_0000, "pci_io_vaddr"),
]
PCI_IRQ_BASE, PCI_IRQS = 35, 4
# MSI-X (transports/pci/src/msix.rs): QEMU arm virt's GICv2m frame, whose
# MSI_TYPER names the SPIs it raises (INTIDs 80..144); the pci transport
# maps it and is given the first 16, edge-triggered, as its IRQ ids 4..19
# (after INTA..INTD, which legacy functions and functions without MSI-X
# keep using).
GICV2M = ("gicv2m", 0x1000, 0x802_0000)
GICV2M_VADDR = 0x1400_0000
MSIX_SPI_BASE, MSIX_SPIS = 80, 16
# The ECAM and memory windows are mapped with 2 MiB pages (fewer page
# table entries; both are 2 MiB-aligned in physical and virtual memory).
PCI_LARGE_PAGE_WINDOWS = ("pci_ecam", "pci_mem")
LARGE_PAGE = 0x20_0000

# remoteproc: the resource table and the doorbell mailbox, shared by the
# rproc transport (at RPROC_TABLE_VADDR) and the device side (vhost, at
# VHOST_TABLE_VADDR); each the page after the table. Its channel 0 to vhost.
RPROC_TABLE_VADDR = 0x210_0000
VHOST_TABLE_VADDR = 0x200_0000
RPROC_VHOST_CHANNEL = 0
# ... so the doorbell pages of drivers 0 and 1 (DOORBELL_VADDR + k pages)
# are taken there.
RPROC_FIRST_DRIVER = 2
VHOST_PRIORITY = 180

# Every PD prints through the uart PD: a PPC on its channel 61
# (runtime::line::LOG_CHANNEL) with one line; uart is passive and above all.
LOG_CHANNEL = 61
UART_PRIORITY = 254
UART_STACK_SIZE = 0x4000
PL011 = ("pl011", 0x1000, 0x900_0000)  # QEMU arm virt's PL011
UART_REGS_VADDR = 0x200_0000
# The timer PD owns the Arm generic timer's EL0 physical timer (PPI, INTID
# 30) as its id 0; its clients PPC it. Above every PD but uart.
TIMER_PRIORITY = 253
TIMER_STACK_SIZE = 0x4000
TIMER_IRQ = 30
# The channel on which a blk driver calls the timer for request deadlines.
BLK_TIMER_CHANNEL = 3

# Restart support (pds/drivers/blk/src/journal.rs, pds/drivers/core/src/
# drill.rs and heartbeat.rs): blk's request journal, which a restart keeps,
# the fault storm drill page and the heartbeat page, in the driver past its
# client's data regions; the bus maps driver k's heartbeat at
# BUS_HEARTBEAT_VADDR + k pages and reads it on the timer's timeouts (its
# channel 60).
JOURNAL_VADDR = 0x2c0_0000
JOURNAL_SIZE = 0x2000
FAULT_STORM_VADDR = 0x2c0_4000
HEARTBEAT_VADDR = 0x2c0_6000
BUS_HEARTBEAT_VADDR = 0x220_0000
BUS_TIMER_CHANNEL = 60

# DMA confinement (pds/drivers/iommu, protocols' bus<->IOMMU pages): the
# bus writes confinement requests to its IOMMU PD and reads the answers,
# one page each way, and notifies it on its channel 7 (the IOMMU PD's 2).
# The IOMMU PD maps region j of slot k (driver k) read-only, for its size
# (setvar confine<k>_region<j>_size; it never reads it), from
# CONFINE_VADDR, each region on a 2 MiB boundary.
CONFINE_REQUESTS_VADDR = 0x200_1000
CONFINE_ANSWERS_VADDR = 0x200_2000
BUS_IOMMU_CHANNEL = 7
IOMMU_BUS_CHANNEL = 2
CONFINE_VADDR = 0x300_0000
# The Arm SMMUv3 of QEMU arm virt (`-machine virt,iommu=smmuv3`, its
# stage 2 with `-global arm-smmuv3.stage=2`), the second confinement
# backend (pds/drivers/smmu): its two register pages, and its event queue
# and global error interrupts (SPIs 74 and 77 of the four from 74: eventq,
# priq, cmdq-sync, gerror; rising edge) as the SMMU PD's ids 1 and 2. Its
# tables region (stream table, queues, page tables) has a fixed physical
# address, which the PD is given (region_paddr) and hands the SMMU.
SMMU_REGS = ("smmu_regs", 0x2_0000, 0x905_0000)
SMMU_REGS_VADDR = 0x400_0000
SMMU_TABLES_VADDR = 0x500_0000
SMMU_TABLES_SIZE = 0x8_0000
SMMU_EVENTQ_IRQ, SMMU_GERROR_IRQ = 32 + 74, 32 + 77
SMMU_BUS_CHANNEL = 0
SMMU_EVENTQ_ID, SMMU_GERROR_ID = 1, 2
# The canary of the confinement tests: one page at a fixed physical
# address, which the rogue driver knows only by that address; the rogue
# notifies it (its 2, the canary's 0) when its attack is over.
CANARY_VADDR = 0x200_0000
CANARY_STACK_SIZE = 0x4000

# Where sevio's drivers and clients map what they share (both sides at the
# same addresses: the drivers' and clients' config.rs defaults).
SHARED_VADDR = 0x240_0000
DATA_VADDR = 0x260_0000


class DriverClass:
    """What the helper must know of a driver image: its program image and
    the setvar names it reads its transport wiring from."""

    def __init__(self, image: str, doorbell: str, dma_vaddr: str, dma_size: Optional[str], dma_paddr: str,
                 stack_size: int = STACK_SIZE):
        self.image = image
        self.doorbell = doorbell
        self.dma_vaddr = dma_vaddr
        self.dma_size = dma_size
        self.dma_paddr = dma_paddr
        self.stack_size = stack_size


# The drivers' current setvar names (pds/drivers/*/src/config.rs).
DRIVER_CLASSES: Dict[str, DriverClass] = {
    "blk": DriverClass("blk", "blk_doorbell_vaddr", "blk_virtqueue_vaddr", "blk_virtqueue_size", "blk_virtqueue_paddr"),
    "net": DriverClass("net", "doorbell_vaddr", "dma_vaddr", "dma_size", "dma_paddr", stack_size=NET_STACK_SIZE),
    "console": DriverClass("console", "console_doorbell_vaddr", "console_dma_vaddr", "console_dma_size",
                           "console_dma_paddr"),
    "rng": DriverClass("rng", "rng_doorbell_vaddr", "rng_dma_vaddr", "rng_dma_size", "rng_dma_paddr"),
    "gpu": DriverClass("gpu", "gpu_doorbell_vaddr", "gpu_dma_vaddr", "gpu_dma_size", "gpu_dma_paddr"),
    "input": DriverClass("input", "input_doorbell_vaddr", "input_dma_vaddr", "input_dma_size", "input_dma_paddr"),
    # 9P2000.L runs in the driver PD: its message buffers are on the stack.
    "9p": DriverClass("p9", "p9_doorbell_vaddr", "p9_dma_vaddr", "p9_dma_size", "p9_dma_paddr",
                      stack_size=0x4_0000),
    "rpmsg": DriverClass("rpmsg", "rpmsg_doorbell_vaddr", "rpmsg_dma_vaddr", "rpmsg_dma_size", "rpmsg_dma_paddr"),
    "sound": DriverClass("sound", "sound_doorbell_vaddr", "sound_dma_vaddr", "sound_dma_size", "sound_dma_paddr"),
    "vsock": DriverClass("vsock", "vsock_doorbell_vaddr", "vsock_dma_vaddr", "vsock_dma_size", "vsock_dma_paddr"),
    # The virtio-iommu driver: confines other drivers' devices (add_iommu).
    "iommu": DriverClass("iommu", "iommu_doorbell_vaddr", "iommu_dma_vaddr", "iommu_dma_size", "iommu_dma_paddr"),
    # The misbehaving blk driver of the DMA-confinement tests (add_canary).
    "rogue": DriverClass("rogue-blk", "rogue_doorbell_vaddr", "rogue_dma_vaddr", "rogue_dma_size", "rogue_dma_paddr"),
}


class Sevio:
    """sevio's bus, transports and drivers in one sdfgen SystemDescription."""

    def __init__(self, sdf: SystemDescription, *, dma_base: int = DEFAULT_DMA_BASE,
                 bus_priority: int = BUS_PRIORITY, transport_priority: int = TRANSPORT_PRIORITY,
                 bus_stack_size: Optional[int] = STACK_SIZE,
                 bus_image: str = "bus", mmio_image: str = "mmio", pci_image: str = "pci",
                 rproc_image: str = "rproc"):
        if not bus_priority > transport_priority:
            raise ValueError("the bus must be above the transports (they PPC it)")
        self.sdf = sdf
        self._next_dma = dma_base
        self._transport_priority = transport_priority
        self._images = {"mmio": mmio_image, "pci": pci_image, "rproc": rproc_image}
        self._transports: Dict[str, PD] = {}
        self._drivers: List[Tuple[PD, str]] = []
        self._driver_ids: Dict[str, int] = {}
        self._regions: Dict[str, MR] = {}
        self._paddrs: Dict[str, int] = {}
        # (pd name, symbol, region name): <setvar region_paddr>, which
        # sdfgen's Python API cannot express; render() adds them.
        self._paddr_setvars: List[Tuple[str, str, str]] = []
        # region name -> page size: the page_size attribute sdfgen's Python
        # API cannot express either; render() adds it.
        self._page_sizes: Dict[str, int] = {}
        self._bus_on_timer = False
        self._msix: set = set()
        self.bindings = self.region("bus_bindings", PAGE)
        self.bus = PD("bus", bus_image, priority=bus_priority, stack_size=bus_stack_size)
        self.bus.add_map(Map(self.bindings, BINDINGS_VADDR, "rw", setvar_vaddr="bus_bindings_vaddr"))
        sdf.add_pd(self.bus)

    def region(self, name: str, size: int, *, paddr: Optional[int] = None, page_size: Optional[int] = None) -> MR:
        """Memory region `name`, added to the system on first use; a later
        use must ask for the same size and physical address."""
        known = self._regions.get(name)
        if known is not None:
            if known.size != size or (paddr is not None and self._paddrs.get(name) != paddr):
                raise ValueError(f"memory region '{name}' asked for again with another size or address")
            return known
        mr = MR(self.sdf, name, size, paddr=paddr) if paddr is not None else MR(self.sdf, name, size)
        self.sdf.add_mr(mr)
        self._regions[name] = mr
        if paddr is not None:
            self._paddrs[name] = paddr
        if page_size is not None and page_size != PAGE:
            if size % page_size or (paddr is not None and paddr % page_size):
                raise ValueError(f"memory region '{name}': size or address not a multiple of its page size")
            self._page_sizes[name] = page_size
        return mr

    def setvar_paddr(self, pd: PD, symbol: str, region: str) -> None:
        """`<setvar symbol region_paddr=region>` in `pd` (added by render())."""
        if region not in self._paddrs:
            raise ValueError(f"{pd.name}: setvar {symbol}: region '{region}' has no fixed physical address")
        self._paddr_setvars.append((pd.name, symbol, region))

    def transport(self, kind: str, *, msix: bool = False) -> PD:
        """The transport PD of `kind` ("mmio", "pci" or "rproc"), added on
        first use; `msix`: the pci transport with the GICv2m frame and its
        SPIs (ask for it before the first pci driver)."""
        if msix and kind != "pci":
            raise ValueError(f"MSI-X is for the pci transport, not {kind}")
        if kind in self._transports:
            if msix and kind not in self._msix:
                raise ValueError("the pci transport was added without MSI-X: ask for MSI-X before any pci driver")
            return self._transports[kind]
        if kind not in BUS_TRANSPORT_CHANNEL:
            raise ValueError(f"unknown transport '{kind}' (mmio, pci or rproc)")
        stack_size = RPROC_STACK_SIZE if kind == "rproc" else STACK_SIZE
        pd = PD(kind, self._images[kind], priority=self._transport_priority, stack_size=stack_size)
        if kind == "mmio":
            name, size, paddr = MMIO_REGS
            regs = self.region(name, size, paddr=paddr)
            pd.add_map(Map(regs, MMIO_REGS_VADDR, "rw", cached=False, setvar_vaddr="mmio_regs_vaddr"))
            for slot in range(MMIO_SLOTS):
                pd.add_irq(Irq(MMIO_IRQ_BASE + slot, id=slot))
        elif kind == "pci":
            for name, size, paddr, vaddr, setvar in PCI_WINDOWS:
                page = LARGE_PAGE if name in PCI_LARGE_PAGE_WINDOWS else None
                window = self.region(name, size, paddr=paddr, page_size=page)
                pd.add_map(Map(window, vaddr, "rw", cached=False, setvar_vaddr=setvar))
            for pin in range(PCI_IRQS):
                pd.add_irq(Irq(PCI_IRQ_BASE + pin, id=pin, trigger=Irq.Trigger.LEVEL))
            if msix:
                name, size, paddr = GICV2M
                frame = self.region(name, size, paddr=paddr)
                pd.add_map(Map(frame, GICV2M_VADDR, "rw", cached=False, setvar_vaddr="pci_msi_frame_vaddr"))
                self.setvar_paddr(pd, "pci_msi_frame_paddr", name)
                for k in range(MSIX_SPIS):
                    pd.add_irq(Irq(MSIX_SPI_BASE + k, id=PCI_IRQS + k, trigger=Irq.Trigger.EDGE))
                self._msix.add(kind)
        pd.add_map(Map(self.bindings, BINDINGS_VADDR, "r", setvar_vaddr="bus_bindings_vaddr"))
        if kind == "rproc":
            table, mailbox = self._rproc_regions()
            pd.add_map(Map(table, RPROC_TABLE_VADDR, "rw", setvar_vaddr="rproc_table_vaddr"))
            pd.add_map(Map(mailbox, RPROC_TABLE_VADDR + PAGE, "rw", setvar_vaddr="rproc_mailbox_vaddr"))
        self.sdf.add_pd(pd)
        self.sdf.add_channel(Channel(pd, self.bus, a_id=TRANSPORT_BUS_CHANNEL, b_id=BUS_TRANSPORT_CHANNEL[kind],
                                     pp_a=True))
        self._transports[kind] = pd
        return pd

    def _rproc_regions(self) -> Tuple[MR, MR]:
        return self.region("rproc_table", PAGE), self.region("rproc_mailbox", PAGE)

    def add_vhost(self, dma_regions: List[Tuple[str, int]], *, name: str = "vhost", image: str = "vhost",
                  priority: int = VHOST_PRIORITY, stack_size: int = STACK_SIZE) -> PD:
        """The remote side of the rproc transport: shares its resource
        table and mailbox, and maps each DMA region in `dma_regions` (name,
        vaddr; added with dma_region() if no driver has it), where the
        rings and buffers it serves are. The region `<class>_dma` is
        reached through `<class>_dma_vaddr` and `<class>_dma_paddr`."""
        rproc = self.transport("rproc")
        table, mailbox = self._rproc_regions()
        pd = PD(name, image, priority=priority, stack_size=stack_size)
        pd.add_map(Map(table, VHOST_TABLE_VADDR, "rw", setvar_vaddr="rproc_table_vaddr"))
        pd.add_map(Map(mailbox, VHOST_TABLE_VADDR + PAGE, "rw", setvar_vaddr="rproc_mailbox_vaddr"))
        for region, vaddr in dma_regions:
            if region not in self._regions:
                raise ValueError(f"{name}: no DMA region '{region}' (add its driver or dma_region() first)")
            if not region.endswith("_dma"):
                raise ValueError(f"{name}: DMA region '{region}' is not named <vdev>_dma (vhost's setvars are)")
            prefix = region[: -len("_dma")]
            pd.add_map(Map(self._regions[region], vaddr, "rw", setvar_vaddr=f"{prefix}_dma_vaddr"))
            self.setvar_paddr(pd, f"{prefix}_dma_paddr", region)
        self.sdf.add_pd(pd)
        self.sdf.add_channel(Channel(rproc, pd, a_id=RPROC_VHOST_CHANNEL, b_id=RPROC_VHOST_CHANNEL))
        return pd

    def dma_region(self, name: str, paddr: int) -> MR:
        """A DMA region no driver of this system owns (a device side may
        still serve it)."""
        if paddr % DMA_REGION_SIZE:
            raise ValueError(f"{name}: DMA region paddr {paddr:#x} is not {DMA_REGION_SIZE:#x}-aligned")
        return self.region(name, DMA_REGION_SIZE, paddr=paddr)

    def add_driver(self, device_class: str, *, name: Optional[str] = None, transport: str = "mmio",
                   priority: int = DRIVER_PRIORITY, dma_paddr: Optional[int] = None,
                   image: Optional[str] = None, id: Optional[int] = None, child: bool = True,
                   dma_region: Optional[str] = None) -> PD:
        """Adds driver `id` (default: the next free one) for `device_class`
        on `transport`; returns its PD, to pass to Sddf.Blk / Sddf.Net /
        Sddf.Serial as the driver (with device None). With `child` (the
        default) it is the bus's child: do not add it to the system
        yourself; without, it is added here, and a fault stops it for good
        (Microkit's monitor reports it).
        `dma_region` names its DMA region (default `<name>_dma`)."""
        cls = DRIVER_CLASSES.get(device_class)
        if cls is None:
            raise ValueError(f"unknown device class '{device_class}' ({', '.join(DRIVER_CLASSES)})")
        taken_ids = set(self._driver_ids.values())
        k = id if id is not None else next(k for k in range(MAX_DRIVERS + 1) if k not in taken_ids)
        if not 0 <= k < MAX_DRIVERS:
            raise ValueError(f"a sevio system has at most {MAX_DRIVERS} drivers (ids 0..{MAX_DRIVERS - 1}), not {k}")
        if k in taken_ids:
            raise ValueError(f"driver id {k} is taken")
        if not priority < self._transport_priority:
            raise ValueError("a driver must be below its transport (it PPCs it)")
        if transport == "rproc" and k < RPROC_FIRST_DRIVER:
            raise ValueError(f"driver id {k}: the rproc transport maps its resource table and mailbox where "
                             f"the doorbells of drivers 0..{RPROC_FIRST_DRIVER - 1} would go")
        transport_pd = self.transport(transport)
        taken = {pd.name for pd, _ in self._drivers}
        name = name or (cls.image if cls.image not in taken else f"{cls.image}{k}")
        if dma_paddr is None:
            dma_paddr = self._next_dma
            self._next_dma += DMA_REGION_SIZE
        dma_region = dma_region or dma_name(name)
        dma = self.dma_region(dma_region, dma_paddr)

        driver = PD(name, image or cls.image, priority=priority, stack_size=cls.stack_size)
        doorbell = self.region(f"{name}_doorbell", PAGE)
        driver.add_map(Map(self.bindings, BINDINGS_VADDR, "r", setvar_vaddr="bus_bindings_vaddr"))
        driver.add_map(Map(doorbell, DOORBELL_VADDR, "rw", setvar_vaddr=cls.doorbell))
        driver.add_map(Map(dma, DMA_VADDR, "rw", setvar_vaddr=cls.dma_vaddr, setvar_size=cls.dma_size))
        self.setvar_paddr(driver, cls.dma_paddr, dma_region)
        if child:
            # Faults of driver k go to the bus, which unbinds it.
            self.bus.add_child_pd(driver, child_id=k)
        else:
            self.sdf.add_pd(driver)
        transport_pd.add_map(Map(doorbell, DOORBELL_VADDR + k * PAGE, "rw", setvar_vaddr=f"driver{k}_doorbell_vaddr"))
        self.setvar_paddr(transport_pd, f"driver{k}_dma_paddr", dma_region)
        self.sdf.add_channel(Channel(driver, self.bus, a_id=DRIVER_BUS_CHANNEL, b_id=BUS_DRIVER_CHANNEL_BASE + k,
                                     pp_a=True))
        self.sdf.add_channel(Channel(driver, transport_pd, a_id=DRIVER_TRANSPORT_CHANNEL,
                                     b_id=TRANSPORT_DRIVER_CHANNEL_BASE + k, pp_a=True))
        self._drivers.append((driver, device_class))
        self._driver_ids[name] = k
        return driver

    def add_journal(self, driver: PD) -> None:
        """blk's request journal: a region `driver` alone maps, which a
        restart of the driver does not clear."""
        journal = self.region(f"{driver.name}_journal", JOURNAL_SIZE)
        driver.add_map(Map(journal, JOURNAL_VADDR, "rw", setvar_vaddr="blk_journal_vaddr"))

    def add_fault_storm(self, driver: PD) -> None:
        """The fault storm drill page (test systems only): the driver
        faults at random points, as many times as the page says."""
        storm = self.region(f"{driver.name}_fault_storm", PAGE)
        driver.add_map(Map(storm, FAULT_STORM_VADDR, "rw", setvar_vaddr="fault_storm_vaddr"))

    def watch_heartbeat(self, driver: PD, timer: PD, *, timer_id: int) -> None:
        """`driver`'s heartbeat page, which the bus reads on the timer's
        timeouts (the timer's `timer_id` to the bus's channel 60, added
        with the first driver watched): a driver inside one event too long
        is treated as hung and restarted."""
        k = self._driver_ids.get(driver.name)
        if k is None:
            raise ValueError(f"{driver.name}: not a driver of this system (add_driver first)")
        heartbeat = self.region(f"{driver.name}_heartbeat", PAGE)
        driver.add_map(Map(heartbeat, HEARTBEAT_VADDR, "rw", setvar_vaddr="heartbeat_vaddr"))
        self.bus.add_map(Map(heartbeat, BUS_HEARTBEAT_VADDR + k * PAGE, "r",
                             setvar_vaddr=f"driver{k}_heartbeat_vaddr"))
        if not self._bus_on_timer:
            self.sdf.add_channel(Channel(timer, self.bus, a_id=timer_id, b_id=BUS_TIMER_CHANNEL, pp_b=True))
            self._bus_on_timer = True

    def add_iommu(self, *, id: int, transport: str, dma_paddr: int, priority: int,
                  confine: List[Tuple[PD, List[str]]], child: bool = False) -> PD:
        """The virtio-iommu driver (driver `id`; with `child`, the bus's
        child) and the bus's confinement pages; for each (driver, regions)
        in `confine`, the regions that driver's device may reach, named
        here (the driver's DMA region and its client's data regions, all
        with fixed physical addresses)."""
        iommu = self.add_driver("iommu", transport=transport, priority=priority, id=id, child=child,
                                dma_paddr=dma_paddr)
        self._confine(iommu, IOMMU_BUS_CHANNEL, confine)
        return iommu

    def add_smmu(self, *, tables_paddr: int, priority: int, confine: List[Tuple[PD, List[str]]]) -> PD:
        """The SMMUv3 PD (pds/drivers/smmu; not a driver: it owns the
        SMMU's registers, its event queue and global error interrupts and
        its tables region at `tables_paddr`) and the bus's confinement
        pages; `confine` as for add_iommu. QEMU must be started with
        `-machine iommu=smmuv3 -global arm-smmuv3.stage=2`. With a pci
        transport with MSI-X (asked for first), the PD is given the GICv2m
        frame's physical address (smmu_msi_frame_paddr) to map into every
        confined slot."""
        smmu = PD("smmu", "smmu", priority=priority, stack_size=STACK_SIZE)
        name, size, paddr = SMMU_REGS
        regs = self.region(name, size, paddr=paddr)
        smmu.add_map(Map(regs, SMMU_REGS_VADDR, "rw", cached=False, setvar_vaddr="smmu_regs_vaddr"))
        tables = self.region("smmu_tables", SMMU_TABLES_SIZE, paddr=tables_paddr)
        smmu.add_map(Map(tables, SMMU_TABLES_VADDR, "rw", setvar_vaddr="smmu_tables_vaddr",
                         setvar_size="smmu_tables_size"))
        self.setvar_paddr(smmu, "smmu_tables_paddr", "smmu_tables")
        if "pci" in self._msix:
            # MSI-X writes go through the SMMU like any DMA: each confined
            # slot's tables map the GICv2m frame page (write-only, device
            # memory), found by this physical address; the PD does not map it.
            self.setvar_paddr(smmu, "smmu_msi_frame_paddr", GICV2M[0])
        smmu.add_irq(Irq(SMMU_EVENTQ_IRQ, id=SMMU_EVENTQ_ID, trigger=Irq.Trigger.EDGE))
        smmu.add_irq(Irq(SMMU_GERROR_IRQ, id=SMMU_GERROR_ID, trigger=Irq.Trigger.EDGE))
        self.sdf.add_pd(smmu)
        self._confine(smmu, SMMU_BUS_CHANNEL, confine)
        return smmu

    def _confine(self, pd: PD, bus_channel: int, confine: List[Tuple[PD, List[str]]]) -> None:
        """The confinement pages and channel between the bus and `pd`
        (its `bus_channel`, the bus's 7), and region j of each driver k in
        `confine` mapped read-only into `pd` for its size, with its
        physical address (setvars confine<k>_region<j>_size, _paddr)."""
        for name, vaddr, bus_perms, pd_perms in (("bus_confine_requests", CONFINE_REQUESTS_VADDR, "rw", "r"),
                                                 ("bus_confine_answers", CONFINE_ANSWERS_VADDR, "r", "rw")):
            page = self.region(name, PAGE)
            for end, perms in ((self.bus, bus_perms), (pd, pd_perms)):
                end.add_map(Map(page, vaddr, perms, setvar_vaddr=f"{name}_vaddr"))
        self.sdf.add_channel(Channel(pd, self.bus, a_id=bus_channel, b_id=BUS_IOMMU_CHANNEL))
        vaddr = CONFINE_VADDR
        for driver, regions in confine:
            k = self._driver_ids[driver.name]
            for j, region in enumerate(regions):
                if region not in self._paddrs:
                    raise ValueError(f"confining {driver.name}: region '{region}' has no fixed physical address")
                symbol = f"confine{k}_region{j}"
                pd.add_map(Map(self._regions[region], vaddr, "r", setvar_size=f"{symbol}_size"))
                self.setvar_paddr(pd, f"{symbol}_paddr", region)
                vaddr += -(-self._regions[region].size // LARGE_PAGE) * LARGE_PAGE

    def add_canary(self, rogue: PD, *, paddr: int, priority: int, name: str = "canary") -> PD:
        """The canary PD and its page (fixed address `paddr`), which
        `rogue` is told of by physical address only (setvar canary_paddr)
        and notifies when its attack is over."""
        page = self.region(name, PAGE, paddr=paddr)
        canary = PD(name, name, priority=priority, stack_size=CANARY_STACK_SIZE)
        canary.add_map(Map(page, CANARY_VADDR, "rw", setvar_vaddr="canary_vaddr"))
        self.sdf.add_pd(canary)
        self.setvar_paddr(rogue, "canary_paddr", name)
        self.sdf.add_channel(Channel(rogue, canary, a_id=2, b_id=0))
        return canary

    def data_regions(self, xml: str) -> Dict[str, List[Tuple[int, int]]]:
        """For each driver, the (physical address, size) of every region it
        may hand its device: the regions with a fixed physical address that
        its sDDF peers (the PDs it has channels to, other than sevio's bus
        and transports) map. In sDDF's blk that is the virtualiser's
        metadata buffer and its clients' data, whose I/O addresses the
        virtualiser puts in requests. sDDF's driver configs do not carry
        this list; sevio's drivers refuse any other address."""
        root = ET.fromstring(xml)
        pds = {pd.get("name"): pd for pd in root.iter("protection_domain")}
        paddrs = {mr.get("name"): (int(mr.get("phys_addr"), 16), int(mr.get("size"), 16))
                  for mr in root.iter("memory_region") if mr.get("phys_addr") is not None}
        sevio_pds = {self.bus.name, *(pd.name for pd in self._transports.values())}
        out: Dict[str, List[Tuple[int, int]]] = {}
        for driver, _ in self._drivers:
            peers = set()
            for ch in root.iter("channel"):
                ends = [e.get("pd") for e in ch.iter("end")]
                if driver.name in ends:
                    peers.update(p for p in ends if p != driver.name and p not in sevio_pds)
            regions = []
            for peer in sorted(peers):
                for m in pds[peer].findall("map"):
                    region = paddrs.get(m.get("mr"))
                    if region is not None and region not in regions:
                        regions.append(region)
            out[driver.name] = regions
        return out

    def serialise_data_regions(self, xml: str, out_dir: str) -> None:
        """Writes `<driver>_data_regions.data` for each driver: its
        data_regions() as an sDDF `device_resources_t` (vaddr 0: the
        driver does not map them; io_addr: the physical address), for its
        `.sevio_data_regions` section."""
        for name, regions in self.data_regions(xml).items():
            with open(os.path.join(out_dir, f"{name}_data_regions.data"), "wb") as f:
                f.write(device_resources(regions))

    @staticmethod
    def serialise_restart_policy(out_dir: str, *, max_faults: int, window_ms: int, first_backoff_us: int,
                                 max_backoff_us: int) -> str:
        """Writes `bus_restart_policy.data`, the bus's `.sevio_restart_policy`
        section: the `max_faults`-th fault of a driver inside `window_ms`
        leaves it down (1: never restart); before that it is restarted
        after a back-off of `first_backoff_us`, doubling to
        `max_backoff_us`. The layout and the ranges are the bus's
        (`pds/bus/src/restart.rs`, `RestartPolicy::from_section`, which
        checks them again at boot); a value out of range is refused here,
        at build time, naming it. Returns the file's path."""
        ranges = [
            ("max_faults", max_faults, 1, RESTART_MAX_FAULTS),
            ("window_ms", window_ms, 1, RESTART_WINDOW_MS),
            ("max_backoff_us", max_backoff_us, 0, RESTART_BACKOFF_US),
            ("first_backoff_us", first_backoff_us, 0, max_backoff_us),
        ]
        for field, value, low, high in ranges:
            if not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"restart policy: {field} is {value!r}, must be {low}..={high}")
        path = os.path.join(out_dir, "bus_restart_policy.data")
        with open(path, "wb") as f:
            f.write(b"SVRP" + struct.pack("<5I", max_faults, window_ms, first_backoff_us, max_backoff_us, 0))
        return path

    def render(self) -> str:
        """The system's XML: sdf.render() plus what sdfgen's Python API
        cannot add: the `<setvar region_paddr>` elements sevio's wiring
        needs (the DMA and data regions' physical addresses) and the
        `page_size` of regions mapped with large pages."""
        xml = self.sdf.render()
        for pd_name, symbol, region in self._paddr_setvars:
            xml = add_setvar(xml, pd_name, symbol, region)
        for region, page_size in self._page_sizes.items():
            xml = add_page_size(xml, region, page_size)
        return xml

    # sevio's own clients (pds/clients/*): the regions and channels each
    # shares with its driver, at the addresses both sides' config.rs use.
    # The driver's own ids: 0 bus, 1 transport, 2 (and 3) client.

    def _share(self, region: MR, *ends: Tuple[PD, int, str, Optional[str], Optional[str]]) -> None:
        for pd, vaddr, perms, setvar_vaddr, setvar_size in ends:
            pd.add_map(Map(region, vaddr, perms, setvar_vaddr=setvar_vaddr, setvar_size=setvar_size))

    def connect_blk(self, driver: PD, client: PD, *, data_paddr: int, meta_paddr: Optional[int] = None) -> None:
        """blk-client (or blk-bench) on `driver`: the storage information,
        request and response queues, and the client's data region (2 MiB,
        fixed address), plus with `meta_paddr` a second 64 KiB data region
        beside it (as sDDF's blk virtualiser has its metadata buffer);
        the driver maps the data read-only, by physical address."""
        n = driver.name
        info = self.region(f"{n}_storage_info", PAGE)
        request = self.region(f"{n}_request", 2 * PAGE)
        response = self.region(f"{n}_response", 2 * PAGE)
        self._share(info, (driver, SHARED_VADDR, "rw", "blk_storage_info_vaddr", None),
                    (client, SHARED_VADDR, "r", "blk_storage_info_vaddr", None))
        self._share(request, (driver, SHARED_VADDR + 0x2000, "rw", "blk_request_vaddr", None),
                    (client, SHARED_VADDR + 0x2000, "rw", "blk_request_vaddr", None))
        self._share(response, (driver, SHARED_VADDR + 0x4000, "rw", "blk_response_vaddr", None),
                    (client, SHARED_VADDR + 0x4000, "rw", "blk_response_vaddr", None))
        data_regions = [("client_data", 0x20_0000, data_paddr, DATA_VADDR)]
        if meta_paddr is not None:
            data_regions.append(("client_meta", 0x1_0000, meta_paddr, DATA_VADDR + 0x20_0000))
        for what, size, paddr, vaddr in data_regions:
            region = self.region(f"{n}_{what}", size, paddr=paddr)
            self._share(region, (driver, vaddr, "r", None, f"blk_{what}_size"),
                        (client, vaddr, "rw", f"{what}_vaddr", f"{what}_size"))
            self.setvar_paddr(driver, f"blk_{what}_paddr", f"{n}_{what}")
            self.setvar_paddr(client, f"{what}_paddr", f"{n}_{what}")
        self.sdf.add_channel(Channel(driver, client, a_id=2, b_id=0))

    def connect_net(self, driver: PD, client: PD, *, rx_data_paddr: int, tx_data_paddr: int) -> None:
        """net-client (or net-bench, net-echo) on `driver`: sDDF's four
        net queues and the rx (1 MiB) and tx (512 KiB) data regions at
        fixed addresses, which the driver maps read-only. Channels: the
        driver's 2 (rx) and 3 (tx) to the client's 0 and 2."""
        n = driver.name
        offset = 0
        for queue, size in (("rx_free", 0x3000), ("rx_active", 0x3000), ("tx_free", 0x5000), ("tx_active", 0x5000)):
            region = self.region(f"{n}_{queue}", size)
            self._share(region, (driver, SHARED_VADDR + offset, "rw", f"{queue}_vaddr", None),
                        (client, SHARED_VADDR + offset, "rw", f"{queue}_vaddr", None))
            offset += size
        for what, size, paddr, vaddr, client_perms in (("rx_data", 0x10_0000, rx_data_paddr, DATA_VADDR, "r"),
                                                       ("tx_data", 0x8_0000, tx_data_paddr, DATA_VADDR + 0x10_0000,
                                                        "rw")):
            region = self.region(f"{n}_{what}", size, paddr=paddr)
            self._share(region, (driver, vaddr, "r", None, f"{what}_size"),
                        (client, vaddr, client_perms, f"{what}_vaddr", f"{what}_size"))
            self.setvar_paddr(driver, f"{what}_paddr", f"{n}_{what}")
            self.setvar_paddr(client, f"{what}_paddr", f"{n}_{what}")
        self.sdf.add_channel(Channel(driver, client, a_id=2, b_id=0))
        self.sdf.add_channel(Channel(driver, client, a_id=3, b_id=2))

    def connect_console(self, driver: PD, client: PD) -> None:
        """console-client on `driver`: sDDF serial rx and tx queues and
        data pages (the client reads rx data only). Channels: the driver's
        2 (rx: input) and 3 (tx: output) to the client's 0 and 1."""
        n = driver.name
        for k, (what, setvar_size, client_perms) in enumerate((("rx_queue", False, "rw"), ("rx_data", True, "r"),
                                                               ("tx_queue", False, "rw"), ("tx_data", True, "rw"))):
            region = self.region(f"{n}_{what}", PAGE)
            size = f"console_{what}_size" if setvar_size else None
            self._share(region, (driver, SHARED_VADDR + k * PAGE, "rw", f"console_{what}_vaddr", size),
                        (client, SHARED_VADDR + k * PAGE, client_perms, f"console_{what}_vaddr", size))
        self.sdf.add_channel(Channel(driver, client, a_id=2, b_id=0))
        self.sdf.add_channel(Channel(driver, client, a_id=3, b_id=1))

    def _control_and_data(self, driver: PD, client: PD, prefix: str, control_size: int,
                          data_size: Optional[int]) -> None:
        """A control page (at SHARED_VADDR) and perhaps a data region (1 MiB
        above it), both read-write on both sides; driver 2 <-> client 0."""
        n = driver.name
        control = self.region(f"{n}_control", control_size)
        self._share(control, (driver, SHARED_VADDR, "rw", f"{prefix}_control_vaddr", None),
                    (client, SHARED_VADDR, "rw", f"{prefix}_control_vaddr", None))
        if data_size is not None:
            data = self.region(f"{n}_data", data_size)
            for pd in (driver, client):
                self._share(data, (pd, SHARED_VADDR + 0x10_0000, "rw", f"{prefix}_data_vaddr", f"{prefix}_data_size"))
        self.sdf.add_channel(Channel(driver, client, a_id=2, b_id=0))

    def connect_rng(self, driver: PD, client: PD) -> None:
        """rng-client on `driver`: a control page and 16 KiB of data."""
        self._control_and_data(driver, client, "rng", PAGE, 0x4000)

    def connect_p9(self, driver: PD, client: PD) -> None:
        """p9-client (or p9-bench) on the 9p driver: a control page and
        64 KiB of data."""
        self._control_and_data(driver, client, "p9", PAGE, 0x1_0000)

    def connect_rpmsg(self, driver: PD, client: PD) -> None:
        """rpmsg-client (or rpmsg-bench) on `driver`: a 64 KiB control
        region."""
        self._control_and_data(driver, client, "rpmsg", 0x1_0000, None)

    def connect_vsock(self, driver: PD, client: PD) -> None:
        """vsock-client (or vsock-bench) on the vsock driver: a 136 KiB
        control region (two rings of 32 entries of 2 KiB)."""
        self._control_and_data(driver, client, "vsock", 0x2_2000, None)

    def connect_sound(self, driver: PD, client: PD, *, data_paddr: int) -> None:
        """tone (or recorder) on a sound driver: sDDF sound's command and
        PCM request and response queues, the driver's shared state (the
        client reads it), and the client's 128 KiB data region (fixed
        address: the device reads and writes the frames in place).
        Driver 2 <-> client 0."""
        n = driver.name
        offset = 0
        for what, size in (("cmd_req", PAGE), ("cmd_res", PAGE), ("pcm_req", 3 * PAGE), ("pcm_res", 3 * PAGE),
                           ("shared_state", PAGE)):
            region = self.region(f"{n}_{what}", size)
            self._share(region, (driver, SHARED_VADDR + offset, "rw", f"sound_{what}_vaddr", None),
                        (client, SHARED_VADDR + offset, "r" if what == "shared_state" else "rw",
                         f"sound_{what}_vaddr", None))
            offset += size
        data = self.region(f"{n}_client_data", 0x2_0000, paddr=data_paddr)
        for pd in (driver, client):
            self._share(data, (pd, DATA_VADDR, "rw", "sound_client_data_vaddr", "sound_client_data_size"))
        self.setvar_paddr(driver, "sound_client_data_paddr", f"{n}_client_data")
        self.sdf.add_channel(Channel(driver, client, a_id=2, b_id=0))

    def connect_gpu(self, driver: PD, client: PD, *, data_paddr: int) -> None:
        """paint (or gpu-bench) on the gpu driver: request and response
        pages, the driver's events page, and the client's 4 MiB data region
        (the framebuffer: fixed address, 2 MiB pages), which the device
        reads directly. Driver 2 <-> client 0."""
        n = driver.name
        for k, what in enumerate(("requests", "responses", "events")):
            region = self.region(f"{n}_{what}", PAGE)
            ends = [(driver, SHARED_VADDR + k * PAGE, "rw", f"gpu_{what}_vaddr", None)]
            if what != "events":
                ends.append((client, SHARED_VADDR + k * PAGE, "rw", f"gpu_{what}_vaddr", None))
            self._share(region, *ends)
        data = self.region(f"{n}_client_data", 0x40_0000, paddr=data_paddr, page_size=LARGE_PAGE)
        for pd in (driver, client):
            self._share(data, (pd, DATA_VADDR, "rw", "gpu_client_data_vaddr", "gpu_client_data_size"))
        self.setvar_paddr(driver, "gpu_client_data_paddr", f"{n}_client_data")
        self.sdf.add_channel(Channel(driver, client, a_id=2, b_id=0))

    def connect_input(self, driver: PD, client: PD, index: int) -> None:
        """Input driver `index` (0, 1, ...) to paint: one page of device
        information and events; the client maps page `index` at 0x2500000 +
        index pages. Driver 2 <-> client 1 + index."""
        page = self.region(f"{driver.name}_page", PAGE)
        self._share(page, (driver, SHARED_VADDR, "rw", "input_page_vaddr", None),
                    (client, 0x250_0000 + index * PAGE, "rw", f"input{index}_page_vaddr", None))
        self.sdf.add_channel(Channel(driver, client, a_id=2, b_id=1 + index))


def add_uart(sdf: SystemDescription, *, name: str = "uart", image: str = "uart") -> PD:
    """The uart PD: owns QEMU arm virt's PL011 and prints each line a PD
    hands it on its log channel (see connect_log). Passive, at the top."""
    region_name, size, paddr = PL011
    regs = MR(sdf, region_name, size, paddr=paddr)
    sdf.add_mr(regs)
    uart = PD(name, image, priority=UART_PRIORITY, passive=True, stack_size=UART_STACK_SIZE)
    uart.add_map(Map(regs, UART_REGS_VADDR, "rw", cached=False, setvar_vaddr="uart_regs_vaddr"))
    sdf.add_pd(uart)
    return uart


def connect_log(sdf: SystemDescription, uart: PD, pds: List[PD], *, ids: Optional[List[int]] = None) -> None:
    """Log channel 61 of each PD in `pds` (a PPC) to uart, whose ids are
    `ids` (default: the PDs' places in `pds`)."""
    ids = list(range(len(pds))) if ids is None else ids
    if len(ids) != len(pds) or len(set(ids)) != len(ids):
        raise ValueError(f"uart ids {ids}: not one distinct id per PD of {[pd.name for pd in pds]}")
    for k, pd in zip(ids, pds):
        sdf.add_channel(Channel(pd, uart, a_id=LOG_CHANNEL, b_id=k, pp_a=True))


def add_timer(sdf: SystemDescription, *, name: str = "timer", image: str = "timer") -> PD:
    """The timer PD (pds/drivers/timer): the generic timer's interrupt as
    its id 0; clients PPC it (connect_timer)."""
    timer = PD(name, image, priority=TIMER_PRIORITY, stack_size=TIMER_STACK_SIZE)
    timer.add_irq(Irq(TIMER_IRQ, id=0))
    sdf.add_pd(timer)
    return timer


def connect_timer(sdf: SystemDescription, timer: PD, client: PD, *, timer_id: int, client_id: int) -> None:
    """`client`'s channel `client_id` (a PPC, sDDF's timer protocol) to the
    timer's `timer_id`, on which the timer notifies deadlines."""
    sdf.add_channel(Channel(timer, client, a_id=timer_id, b_id=client_id, pp_b=True))


def dma_name(driver_name: str) -> str:
    return f"{driver_name}_dma"


_PD_OPEN = r'(<protection_domain name="{name}"[^>]*>\n)(\s*)(<program_image [^>]*/>\n)'


def add_setvar(xml: str, pd_name: str, symbol: str, region: str) -> str:
    """`xml` with `<setvar symbol region_paddr>` as the first element after
    PD `pd_name`'s program image."""
    pattern = re.compile(_PD_OPEN.format(name=re.escape(pd_name)))
    match = pattern.search(xml)
    if match is None:
        raise ValueError(f"no protection domain '{pd_name}' in the rendered system")
    indent = match.group(2)
    line = f'{indent}<setvar symbol="{symbol}" region_paddr="{region}" />\n'
    return xml[: match.end()] + line + xml[match.end():]


_MR_OPEN = r'<memory_region name="{name}" size="[^"]*"'


def add_page_size(xml: str, region: str, page_size: int) -> str:
    """`xml` with `page_size` on memory region `region`."""
    pattern = re.compile(_MR_OPEN.format(name=re.escape(region)))
    match = pattern.search(xml)
    if match is None:
        raise ValueError(f"no memory region '{region}' in the rendered system")
    return f'{xml[: match.end()]} page_size="{page_size:#x}"{xml[match.end():]}'


DEVICE_MAX_REGIONS = 64
DEVICE_MAX_IRQS = 64


def device_resources(regions: List[Tuple[int, int]]) -> bytes:
    """sDDF 0.7.0's `device_resources_t` (1608 bytes) listing `regions`
    as (io_addr, size), mapped nowhere (vaddr 0), no IRQs."""
    if len(regions) > DEVICE_MAX_REGIONS:
        raise ValueError(f"{len(regions)} data regions: a device_resources_t holds {DEVICE_MAX_REGIONS}")
    data = bytearray(b"sDDF\x01" + bytes([len(regions), 0, 0]))
    for k in range(DEVICE_MAX_REGIONS):
        io_addr, size = regions[k] if k < len(regions) else (0, 0)
        data += struct.pack("<3Q", 0, size, io_addr)
    data += bytes(DEVICE_MAX_IRQS)
    assert len(data) == 1608
    return bytes(data)
