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
"""

from __future__ import annotations

import os
import re
import struct
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Tuple

from sdfgen import SystemDescription

PD = SystemDescription.ProtectionDomain
MR = SystemDescription.MemoryRegion
Map = SystemDescription.Map
Channel = SystemDescription.Channel
Irq = SystemDescription.IrqConventional

BUS_PRIORITY = 254
TRANSPORT_PRIORITY = 252
DRIVER_PRIORITY = 200

# Bus side: transports on 0 (mmio) and 1 (pci), driver k on 8 + k.
BUS_TRANSPORT_CHANNEL = {"mmio": 0, "pci": 1}
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
NET_STACK_SIZE = 0x3_0000

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
}


class Sevio:
    """sevio's bus, transports and drivers in one sdfgen SystemDescription."""

    def __init__(self, sdf: SystemDescription, *, dma_base: int = DEFAULT_DMA_BASE,
                 bus_priority: int = BUS_PRIORITY, transport_priority: int = TRANSPORT_PRIORITY,
                 bus_image: str = "bus", mmio_image: str = "mmio", pci_image: str = "pci"):
        if not bus_priority > transport_priority:
            raise ValueError("the bus must be above the transports (they PPC it)")
        self.sdf = sdf
        self._next_dma = dma_base
        self._transport_priority = transport_priority
        self._images = {"mmio": mmio_image, "pci": pci_image}
        self._transports: Dict[str, PD] = {}
        self._drivers: List[Tuple[PD, str]] = []
        # (pd name, symbol, region name): <setvar region_paddr>, which
        # sdfgen's Python API cannot express; render() adds them.
        self._paddr_setvars: List[Tuple[str, str, str]] = []
        self.bindings = MR(sdf, "bus_bindings", PAGE)
        sdf.add_mr(self.bindings)
        self.bus = PD("bus", bus_image, priority=bus_priority, stack_size=STACK_SIZE)
        self.bus.add_map(Map(self.bindings, BINDINGS_VADDR, "rw", setvar_vaddr="bus_bindings_vaddr"))
        sdf.add_pd(self.bus)

    def transport(self, kind: str) -> PD:
        """The transport PD of `kind` ("mmio" or "pci"), added on first use."""
        if kind in self._transports:
            return self._transports[kind]
        if kind not in BUS_TRANSPORT_CHANNEL:
            raise ValueError(f"unknown transport '{kind}' (mmio or pci)")
        pd = PD(kind, self._images[kind], priority=self._transport_priority, stack_size=STACK_SIZE)
        if kind == "mmio":
            name, size, paddr = MMIO_REGS
            regs = MR(self.sdf, name, size, paddr=paddr)
            self.sdf.add_mr(regs)
            pd.add_map(Map(regs, MMIO_REGS_VADDR, "rw", cached=False, setvar_vaddr="mmio_regs_vaddr"))
            for slot in range(MMIO_SLOTS):
                pd.add_irq(Irq(MMIO_IRQ_BASE + slot, id=slot))
        else:
            for name, size, paddr, vaddr, setvar in PCI_WINDOWS:
                window = MR(self.sdf, name, size, paddr=paddr)
                self.sdf.add_mr(window)
                pd.add_map(Map(window, vaddr, "rw", cached=False, setvar_vaddr=setvar))
            for pin in range(PCI_IRQS):
                pd.add_irq(Irq(PCI_IRQ_BASE + pin, id=pin, trigger=Irq.Trigger.LEVEL))
        pd.add_map(Map(self.bindings, BINDINGS_VADDR, "r", setvar_vaddr="bus_bindings_vaddr"))
        self.sdf.add_pd(pd)
        self.sdf.add_channel(Channel(pd, self.bus, a_id=TRANSPORT_BUS_CHANNEL, b_id=BUS_TRANSPORT_CHANNEL[kind],
                                     pp_a=True))
        self._transports[kind] = pd
        return pd

    def add_driver(self, device_class: str, *, name: Optional[str] = None, transport: str = "mmio",
                   priority: int = DRIVER_PRIORITY, dma_paddr: Optional[int] = None,
                   image: Optional[str] = None) -> PD:
        """Adds driver k (the next id) for `device_class` on `transport`;
        returns its PD, to pass to Sddf.Blk / Sddf.Net / Sddf.Serial as the
        driver (with device None). Do not add it to the system yourself:
        it is the bus's child."""
        cls = DRIVER_CLASSES.get(device_class)
        if cls is None:
            raise ValueError(f"unknown device class '{device_class}' ({', '.join(DRIVER_CLASSES)})")
        k = len(self._drivers)
        if k >= MAX_DRIVERS:
            raise ValueError(f"a sevio system has at most {MAX_DRIVERS} drivers")
        if not priority < self._transport_priority:
            raise ValueError("a driver must be below its transport (it PPCs it)")
        transport_pd = self.transport(transport)
        taken = {pd.name for pd, _ in self._drivers}
        name = name or (device_class if device_class not in taken else f"{device_class}{k}")
        if dma_paddr is None:
            dma_paddr = self._next_dma
            self._next_dma += DMA_REGION_SIZE
        if dma_paddr % DMA_REGION_SIZE:
            raise ValueError(f"{name}: DMA region paddr {dma_paddr:#x} is not {DMA_REGION_SIZE:#x}-aligned")

        driver = PD(name, image or cls.image, priority=priority, stack_size=cls.stack_size)
        doorbell = MR(self.sdf, f"{name}_doorbell", PAGE)
        dma = MR(self.sdf, f"{name}_dma", DMA_REGION_SIZE, paddr=dma_paddr)
        self.sdf.add_mr(doorbell)
        self.sdf.add_mr(dma)
        driver.add_map(Map(self.bindings, BINDINGS_VADDR, "r", setvar_vaddr="bus_bindings_vaddr"))
        driver.add_map(Map(doorbell, DOORBELL_VADDR, "rw", setvar_vaddr=cls.doorbell))
        driver.add_map(Map(dma, DMA_VADDR, "rw", setvar_vaddr=cls.dma_vaddr, setvar_size=cls.dma_size))
        self._paddr_setvars.append((name, cls.dma_paddr, dma_name(name)))
        # Faults of driver k go to the bus, which unbinds it.
        self.bus.add_child_pd(driver, child_id=k)
        transport_pd.add_map(Map(doorbell, DOORBELL_VADDR + k * PAGE, "rw", setvar_vaddr=f"driver{k}_doorbell_vaddr"))
        self._paddr_setvars.append((transport_pd.name, f"driver{k}_dma_paddr", dma_name(name)))
        self.sdf.add_channel(Channel(driver, self.bus, a_id=DRIVER_BUS_CHANNEL, b_id=BUS_DRIVER_CHANNEL_BASE + k,
                                     pp_a=True))
        self.sdf.add_channel(Channel(driver, transport_pd, a_id=DRIVER_TRANSPORT_CHANNEL,
                                     b_id=TRANSPORT_DRIVER_CHANNEL_BASE + k, pp_a=True))
        self._drivers.append((driver, device_class))
        return driver

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

    def render(self) -> str:
        """The system's XML: sdf.render() plus the `<setvar region_paddr>`
        elements sevio's wiring needs (the DMA regions' physical addresses
        for drivers and transports), which sdfgen's Python API cannot add."""
        xml = self.sdf.render()
        for pd_name, symbol, region in self._paddr_setvars:
            xml = add_setvar(xml, pd_name, symbol, region)
        return xml


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
