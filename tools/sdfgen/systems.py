#!/usr/bin/env python3
"""sevio's own systems: system.xml and every file in systems/, each
system.xml with its sim descriptions (`*.sim.toml`), from one description
per system built with sdfgen and sevio_sdfgen's `Sevio` helper.

    systems.py write [ROOT]   (`make systems`) writes them under ROOT
                              (default: the workspace)
    systems.py check [ROOT]   (`make test`) generates them into a temporary
                              directory and fails, naming the file, if a
                              file under ROOT differs, is missing, or is a
                              system or sim description in systems/ that
                              nothing here generates
    systems.py compare REV [BASE]
                              what each file means against the file of the
                              same path in git revision REV (a branch with
                              hand-written systems): the facts only one
                              states (sdf_semantics), sim descriptions as
                              parsed TOML; files only one side has. With
                              BASE (the revision REV branched from), less
                              the differences already there against BASE:
                              what REV's own changes left unported

Conventions every system follows (README.md "Wiring a driver into a
system", sevio_sdfgen): uart (254, passive) prints for every PD, on each
PD's channel 61; the timer PD (253) where a PD needs deadlines; the bus
250, transports 200, drivers 150, clients 100. Driver k: bus channel
8 + k, transport channel 40 + k. Regions a device reaches have fixed
physical addresses in 0x4800_0000..0x4b00_0000 (below sDDF's 0x6000_0000
board top), each driver's DMA region the transports' 256 KiB window.
"""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
import tempfile
from typing import Callable, Dict, List, Optional, Tuple

from sdfgen import SystemDescription

import sdf_semantics
import sevio_sdfgen as sg
from sevio_sdfgen import Sevio

PD = SystemDescription.ProtectionDomain
MR = SystemDescription.MemoryRegion
Map = SystemDescription.Map
Channel = SystemDescription.Channel

WORKSPACE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = "tools/sdfgen/systems.py"
# sDDF's qemu_virt_aarch64 board: physical memory sdfgen allocates below.
PADDR_TOP = 0x6000_0000

BUS_PRIORITY = 250
TRANSPORT_PRIORITY = 200
DRIVER_PRIORITY = 150
CLIENT_PRIORITY = 100
CLIENT_STACK_SIZE = 0x1_0000

# Fixed physical addresses (DMA regions: one transport window each).
BLK_DMA, BLK_DATA, BLK_META = 0x4800_0000, 0x4820_0000, 0x4840_0000
BLK1_DMA, BLK1_DATA = 0x4840_0000, 0x4860_0000  # mmio-pci's second disk
CONSOLE_DMA, RNG_DMA, RPMSG_DMA = 0x4880_0000, 0x4884_0000, 0x4888_0000
P9_DMA = 0x4890_0000
NET_DMA, NET_RX_DATA, NET_TX_DATA = 0x4900_0000, 0x4920_0000, 0x4930_0000
NET_ECHO_DMA, NET_ECHO_RX_DATA, NET_ECHO_TX_DATA = 0x4940_0000, 0x4960_0000, 0x4970_0000
GPU_DMA, GPU_DATA = 0x4a00_0000, 0x4a40_0000
INPUT_DMA = [0x4a04_0000, 0x4a08_0000, 0x4a0c_0000]
SOUND_DMA, SOUND_DATA = [0x4a00_0000, 0x4a04_0000], [0x4a20_0000, 0x4a40_0000]
VSOCK_DMA = 0x4890_0000
# The IOMMU PD's DMA region beside the confined driver's; the canary page
# of the rogue systems.
BLK_IOMMU_DMA, NET_IOMMU_DMA, CANARY = 0x4810_0000, 0x4910_0000, 0x4830_0000
IOMMU_PRIORITY, CANARY_PRIORITY = 160, 170

# Driver ids of the single-device systems: each class keeps the id it has
# in the reference system (blk 0, net 1, console 2, rng 3), the rest from 4.
BLK_ID, NET_ID, CONSOLE_ID, RNG_ID, SECOND_ID = 0, 1, 2, 3, 4


class Sim:
    """One sim description (tools/sim/README.md): PDs that must pass, the
    QEMU devices, and other top-level keys, in the order written."""

    def __init__(self, comment: str, expect_pass: List[str], devices: List[Dict], **keys):
        self.comment = comment
        self.expect_pass = expect_pass
        self.devices = devices
        self.keys = keys

    def render(self) -> str:
        out = [header("#")]
        out += [f"# {line}".rstrip() for line in self.comment.strip("\n").split("\n")] if self.comment else []
        out.append(f"expect_pass = {toml_value(self.expect_pass)}")
        out += [f"{k} = {toml_value(v)}" for k, v in self.keys.items()]
        for device in self.devices:
            out += ["", "[[device]]"] + [f"{k} = {toml_value(v)}" for k, v in device.items()]
        return "\n".join(out) + "\n"


def toml_value(value) -> str:
    """TOML for the strings, integers, booleans, lists and inline tables
    sim descriptions hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if any(c in value for c in '"\\\n'):
            raise ValueError(f"sim description value {value!r}: quotes, backslashes and newlines are not written")
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise ValueError(f"sim description value {value!r}: no TOML form here")


def toml_key(key: str) -> str:
    return key if all(c.isalnum() or c in "-_" for c in key) else f'"{key}"'


def header(prefix: str) -> str:
    """The line every generated file starts with (after `prefix`)."""
    return f"{prefix} Generated by `make systems` from {SCRIPT}: do not edit."


class Generated:
    """One system file and its sim descriptions (paths under the workspace)."""

    def __init__(self, path: str, description: str, build: Callable[[], str], sims: Dict[str, Sim]):
        self.path = path
        self.description = description
        self.build = build
        self.sims = sims

    def files(self) -> Dict[str, str]:
        xml = self.build()
        declaration = '<?xml version="1.0" encoding="UTF-8"?>\n'
        if not xml.startswith(declaration):
            raise ValueError(f"{self.path}: sdfgen's rendering no longer starts with the XML declaration")
        body = "\n".join(f"  {line}".rstrip() for line in self.description.strip("\n").split("\n"))
        if "--" in body:
            raise ValueError(f"{self.path}: '--' may not appear in an XML comment")
        comment = f"<!--\n{header(' ')}\n\n{body}\n-->\n"
        out = {self.path: declaration + comment + xml[len(declaration):]}
        out.update({path: sim.render() for path, sim in self.sims.items()})
        return out


# --- Building blocks ----------------------------------------------------------


def system() -> Tuple[SystemDescription, Sevio, PD]:
    """A system with uart, the bus (and the transports once used) at
    sevio's priorities. The bus has a 64 KiB stack everywhere: with its
    heartbeat watch state it overflowed Microkit's default 8 KiB in
    systems/pci.xml on seL4."""
    sdf = SystemDescription(SystemDescription.Arch.AARCH64, PADDR_TOP)
    uart = sg.add_uart(sdf)
    sevio = Sevio(sdf, bus_priority=BUS_PRIORITY, transport_priority=TRANSPORT_PRIORITY)
    return sdf, sevio, uart


def client(sdf: SystemDescription, name: str, image: str, *, priority: int = CLIENT_PRIORITY,
           stack_size: int = CLIENT_STACK_SIZE) -> PD:
    pd = PD(name, image, priority=priority, stack_size=stack_size)
    sdf.add_pd(pd)
    return pd


def blk_driver(sevio: Sevio, *, transport: str, name: str = "blk", id: int = BLK_ID, child: bool,
               dma_paddr: int = BLK_DMA) -> PD:
    # blk's DMA region holds its virtqueue, and is named so.
    return sevio.add_driver("blk", name=name, transport=transport, priority=DRIVER_PRIORITY, id=id, child=child,
                            dma_paddr=dma_paddr, dma_region=f"{name}_virtqueue")


def driver(sevio: Sevio, device_class: str, *, transport: str, id: int, dma_paddr: int, child: bool,
           name: Optional[str] = None) -> PD:
    return sevio.add_driver(device_class, name=name, transport=transport, priority=DRIVER_PRIORITY, id=id,
                            child=child, dma_paddr=dma_paddr)


# --- QEMU devices (sim descriptions) -----------------------------------------

DISK_16M = {"size": "16M"}
USER_NET = {"type": "user", "net": "10.0.2.0/24", "restrict": True}
MAC = "52:54:00:12:34:56"
MODERN_ONLY = {"disable-legacy": "on"}
BENCH_DISK = {"driver": "virtio-blk-device", "slot": 31, "drive": {"size": "64M"}}


BLK_PCI = {"driver": "virtio-blk-pci", "pci_addr": "2", "drive": DISK_16M, "properties": MODERN_ONLY}
PCI_SIM_TEXT = """\
A modern-only virtio-blk-pci on bus 0, plus a virtio-rng-pci nobody
drives (found, reported, left idle) and a non-virtio NIC (quiesced: no
decoding, no DMA, INTx off).
"""
PCI_DEVICES = [BLK_PCI, {"driver": "virtio-rng-pci", "pci_addr": "3"}, {"driver": "e1000e", "pci_addr": "5"}]
NET_PCI = {"driver": "virtio-net-pci", "pci_addr": "1", "netdev": USER_NET, "properties": {"mac": MAC, **MODERN_ONLY}}
NET_PCI_SIM_TEXT = """\
virtio-net-pci (modern only) on QEMU user networking.
"""
# QEMU gives a PCI device its DMA address space when it is created: the
# virtio-iommu-pci comes first, boot-bypass off (endpoints attached to no
# domain are blocked from reset on); a virtio device's DMA goes through it
# only when the device offers VIRTIO_F_ACCESS_PLATFORM (iommu_platform=on).
BOOT_BLOCKED = {"boot-bypass": "off"}


def virtio_iommu(pci_addr: str) -> Dict:
    return {"driver": "virtio-iommu-pci", "pci_addr": pci_addr, "properties": BOOT_BLOCKED}


def translated(device: Dict) -> Dict:
    """`device` with iommu_platform=on: its DMA translated by the IOMMU."""
    return {**device, "properties": {**device.get("properties", {}), "iommu_platform": "on"}}


# QEMU arm virt with its SMMUv3 (stage 2 only: the SMMU PD's tables are
# stage 2) in front of the PCIe devices: machine options, which sim's
# qemu_args append (QEMU merges -machine options).
SMMU_QEMU_ARGS = ["-machine", "iommu=smmuv3", "-global", "arm-smmuv3.stage=2"]


def p9_device(driver_name: str, export: str, mount_tag: str, placement: Dict) -> Dict:
    return {"driver": driver_name, **placement,
            "fsdev": {"type": "local", "path": export, "security_model": "none"},
            "properties": {"mount_tag": mount_tag, **({} if "slot" in placement else MODERN_ONLY)}}


# --- The systems -------------------------------------------------------------


def reference() -> str:
    sdf, sevio, uart = system()
    blk = blk_driver(sevio, transport="mmio", child=True)
    net = driver(sevio, "net", transport="mmio", id=NET_ID, dma_paddr=NET_DMA, child=True)
    console = driver(sevio, "console", transport="mmio", id=CONSOLE_ID, dma_paddr=CONSOLE_DMA, child=True)
    rng = driver(sevio, "rng", transport="mmio", id=RNG_ID, dma_paddr=RNG_DMA, child=True)
    clients = {k: client(sdf, f"{k}_client", f"{k}-client") for k in ("blk", "net", "console", "rng")}
    # blk_client_meta: a second data region right after the first, as
    # sDDF's blk virtualiser has its metadata buffer beside its clients'
    # data: the client reads into it and checks that a request straddling
    # the two is refused.
    sevio.connect_blk(blk, clients["blk"], data_paddr=BLK_DATA, meta_paddr=BLK_META)
    sevio.add_journal(blk)
    sevio.connect_net(net, clients["net"], rx_data_paddr=NET_RX_DATA, tx_data_paddr=NET_TX_DATA)
    sevio.connect_console(console, clients["console"])
    sevio.connect_rng(rng, clients["rng"])
    timer = sg.add_timer(sdf)
    # net_client resends on the timer's deadlines; blk puts one on every
    # request (a device silent for 5 s is failed).
    sg.connect_timer(sdf, timer, clients["net"], timer_id=1, client_id=1)
    sg.connect_timer(sdf, timer, blk, timer_id=2, client_id=sg.BLK_TIMER_CHANNEL)
    pds = [sevio.bus, blk, net, console, rng, sevio.transport("mmio"), *clients.values(), timer]
    assert [pd.name for pd in pds] == REFERENCE_LOG_ORDER
    sg.connect_log(sdf, uart, pds)
    return sevio.render()


# The reference system's PDs in the order of their uart ids; its variants
# keep these ids for the PDs they share with it.
REFERENCE_LOG_ORDER = ["bus", "blk", "net", "console", "rng", "mmio", "blk_client", "net_client", "console_client",
                       "rng_client", "timer"]


def journal() -> str:
    """The reference system's blk slice with blk-soak as the client, blk's
    fault storm page and its heartbeat, which the bus watches."""
    sdf, sevio, uart = system()
    blk = blk_driver(sevio, transport="mmio", child=True)
    blk_client = client(sdf, "blk_client", "blk-soak")
    sevio.connect_blk(blk, blk_client, data_paddr=BLK_DATA, meta_paddr=BLK_META)
    sevio.add_journal(blk)
    sevio.add_fault_storm(blk)
    timer = sg.add_timer(sdf)
    sg.connect_timer(sdf, timer, blk, timer_id=1, client_id=sg.BLK_TIMER_CHANNEL)
    sevio.watch_heartbeat(blk, timer, timer_id=2)
    pds = [sevio.bus, blk, sevio.transport("mmio"), blk_client, timer]
    sg.connect_log(sdf, uart, pds, ids=[REFERENCE_LOG_ORDER.index(pd.name) for pd in pds])
    return sevio.render()


def blk_alone(transport: str, client_image: str, *, msix: bool = False, iommu: bool = False,
              smmu: bool = False) -> Callable[[], str]:
    """One blk driver and its client, with the timer; `msix`: the pci
    transport with MSI-X; `iommu`: blk's device confined to blk's DMA
    region and its client's data by the IOMMU PD (driver 1); `smmu`: the
    same by the SMMUv3 PD. Confined, blk (and the IOMMU PD) are the bus's
    children: a DMA fault restarts blk."""

    def build() -> str:
        sdf, sevio, uart = system()
        sevio.transport(transport, msix=msix)
        blk = blk_driver(sevio, transport=transport, child=iommu or smmu)
        blk_client = client(sdf, "blk_client", client_image)
        sevio.connect_blk(blk, blk_client, data_paddr=BLK_DATA)
        timer = sg.add_timer(sdf)
        sg.connect_timer(sdf, timer, blk, timer_id=1, client_id=sg.BLK_TIMER_CHANNEL)
        pds = [sevio.bus, sevio.transport(transport), blk, blk_client, timer]
        if iommu:
            pds.append(sevio.add_iommu(id=1, transport=transport, dma_paddr=BLK_IOMMU_DMA, priority=IOMMU_PRIORITY,
                                       confine=[(blk, ["blk_virtqueue", "blk_client_data"])], child=True))
        if smmu:
            pds.append(sevio.add_smmu(tables_paddr=BLK_IOMMU_DMA, priority=IOMMU_PRIORITY,
                                      confine=[(blk, ["blk_virtqueue", "blk_client_data"])]))
        sg.connect_log(sdf, uart, pds)
        return sevio.render()

    return build


def mmio_pci() -> str:
    sdf, sevio, uart = system()
    mmio, pci = sevio.transport("mmio"), sevio.transport("pci")
    blk0 = blk_driver(sevio, transport="mmio", name="blk0", id=0, child=False)
    blk1 = blk_driver(sevio, transport="pci", name="blk1", id=1, child=False, dma_paddr=BLK1_DMA)
    client0 = client(sdf, "client0", "blk-client")
    client1 = client(sdf, "client1", "blk-client")
    sevio.connect_blk(blk0, client0, data_paddr=BLK_DATA)
    sevio.connect_blk(blk1, client1, data_paddr=BLK1_DATA)
    timer = sg.add_timer(sdf)
    sg.connect_timer(sdf, timer, blk0, timer_id=1, client_id=sg.BLK_TIMER_CHANNEL)
    sg.connect_timer(sdf, timer, blk1, timer_id=2, client_id=sg.BLK_TIMER_CHANNEL)
    sg.connect_log(sdf, uart, [sevio.bus, mmio, pci, blk0, client0, blk1, client1, timer])
    return sevio.render()


def net_pci(*, msix: bool = False, iommu: bool = False, smmu: bool = False) -> Callable[[], str]:
    """net (driver 1) and net-client over PCI; `msix`: with MSI-X;
    `iommu`: net's device confined to net's DMA region and the rx and tx
    data by the IOMMU PD (driver 0); `smmu`: the same by the SMMUv3 PD.
    Confined, net (and the IOMMU PD) are the bus's children: a DMA fault
    restarts net."""

    def build() -> str:
        sdf, sevio, uart = system()
        sevio.transport("pci", msix=msix)
        net = driver(sevio, "net", transport="pci", id=NET_ID, dma_paddr=NET_DMA, child=iommu or smmu)
        net_client = client(sdf, "net_client", "net-client")
        sevio.connect_net(net, net_client, rx_data_paddr=NET_RX_DATA, tx_data_paddr=NET_TX_DATA)
        timer = sg.add_timer(sdf)
        sg.connect_timer(sdf, timer, net_client, timer_id=1, client_id=1)
        pds = [sevio.bus, sevio.transport("pci"), net, net_client, timer]
        if iommu:
            pds.append(sevio.add_iommu(id=0, transport="pci", dma_paddr=NET_IOMMU_DMA, priority=IOMMU_PRIORITY,
                                       confine=[(net, ["net_dma", "net_rx_data", "net_tx_data"])], child=True))
        if smmu:
            pds.append(sevio.add_smmu(tables_paddr=NET_IOMMU_DMA, priority=IOMMU_PRIORITY,
                                      confine=[(net, ["net_dma", "net_rx_data", "net_tx_data"])]))
        sg.connect_log(sdf, uart, pds)
        return sevio.render()

    return build


def net_bench_peer() -> str:
    """net-bench alone on net (driver 1, mmio), with the timer."""
    sdf, sevio, uart = system()
    net = driver(sevio, "net", transport="mmio", id=NET_ID, dma_paddr=NET_DMA, child=False)
    bench = client(sdf, "net_bench", "net-bench")
    sevio.connect_net(net, bench, rx_data_paddr=NET_RX_DATA, tx_data_paddr=NET_TX_DATA)
    timer = sg.add_timer(sdf)
    sg.connect_timer(sdf, timer, bench, timer_id=1, client_id=1)
    sg.connect_log(sdf, uart, [sevio.bus, sevio.transport("mmio"), net, bench, timer])
    return sevio.render()


def rogue(*, iommu: bool, smmu: bool = False) -> Callable[[], str]:
    """The rogue driver (driver 0, bound as blk over PCI) and the canary;
    `iommu`: the rogue's device confined to its DMA region by the IOMMU PD
    (driver 1), both the bus's children (the bus restarts the rogue the
    IOMMU caught, as after any fault); `smmu`: confined by the SMMUv3 PD,
    the rogue the bus's child."""

    def build() -> str:
        sdf, sevio, uart = system()
        rogue_driver = sevio.add_driver("rogue", name="rogue", transport="pci", priority=DRIVER_PRIORITY, id=0,
                                        child=iommu or smmu, dma_paddr=BLK_DMA, dma_region="rogue_virtqueue")
        # Above the rogue: on seL4 it has filled its page before the
        # rogue's device can reach it.
        canary = sevio.add_canary(rogue_driver, paddr=CANARY, priority=CANARY_PRIORITY)
        pds = [sevio.bus, sevio.transport("pci"), rogue_driver, canary]
        if iommu:
            pds.append(sevio.add_iommu(id=1, transport="pci", dma_paddr=BLK_IOMMU_DMA, priority=IOMMU_PRIORITY,
                                       confine=[(rogue_driver, ["rogue_virtqueue"])], child=True))
        if smmu:
            pds.append(sevio.add_smmu(tables_paddr=BLK_IOMMU_DMA, priority=IOMMU_PRIORITY,
                                      confine=[(rogue_driver, ["rogue_virtqueue"])]))
        sg.connect_log(sdf, uart, pds)
        return sevio.render()

    return build


def net_bench() -> str:
    sdf, sevio, uart = system()
    net = driver(sevio, "net", transport="mmio", id=NET_ID, dma_paddr=NET_DMA, child=False)
    net_echo = driver(sevio, "net", name="net_echo", transport="mmio", id=SECOND_ID, dma_paddr=NET_ECHO_DMA,
                      child=False)
    bench = client(sdf, "net_bench", "net-bench")
    echo = client(sdf, "net_client", "net-echo")
    sevio.connect_net(net, bench, rx_data_paddr=NET_RX_DATA, tx_data_paddr=NET_TX_DATA)
    sevio.connect_net(net_echo, echo, rx_data_paddr=NET_ECHO_RX_DATA, tx_data_paddr=NET_ECHO_TX_DATA)
    timer = sg.add_timer(sdf)
    sg.connect_timer(sdf, timer, bench, timer_id=1, client_id=1)
    sg.connect_log(sdf, uart, [sevio.bus, sevio.transport("mmio"), net, net_echo, bench, echo, timer])
    return sevio.render()


def gpu(transport: str, paint_image: str) -> Callable[[], str]:
    """gpu (driver 4) and three input drivers (5..7), the bus's children,
    all serving one paint client."""

    def build() -> str:
        sdf, sevio, uart = system()
        gpu_driver = driver(sevio, "gpu", transport=transport, id=SECOND_ID, dma_paddr=GPU_DMA, child=True)
        inputs = [driver(sevio, "input", name=f"input{i}", transport=transport, id=SECOND_ID + 1 + i,
                         dma_paddr=INPUT_DMA[i], child=True) for i in range(3)]
        paint = client(sdf, "paint", paint_image)
        sevio.connect_gpu(gpu_driver, paint, data_paddr=GPU_DATA)
        for i, input_driver in enumerate(inputs):
            sevio.connect_input(input_driver, paint, i)
        sg.connect_log(sdf, uart, [sevio.bus, sevio.transport(transport), gpu_driver, *inputs, paint])
        return sevio.render()

    return build


def driver_and_client(device_class: str, transport: str, client_image: str, *, client_name: str, dma_paddr: int,
                      connect: Callable[[Sevio, PD, PD], None]) -> Callable[[], str]:
    """One driver (driver 4, not the bus's child) and its client,
    connected by `connect` (a Sevio.connect_* method)."""

    def build() -> str:
        sdf, sevio, uart = system()
        the_driver = driver(sevio, device_class, transport=transport, id=SECOND_ID, dma_paddr=dma_paddr,
                            child=False)
        the_client = client(sdf, client_name, client_image)
        connect(sevio, the_driver, the_client)
        sg.connect_log(sdf, uart, [sevio.bus, sevio.transport(transport), the_driver, the_client])
        return sevio.render()

    return build


def p9(transport: str, client_image: str) -> Callable[[], str]:
    return driver_and_client("9p", transport, client_image, client_name="p9_client", dma_paddr=P9_DMA,
                             connect=Sevio.connect_p9)


def rproc(client_image: str, with_rng: bool) -> Callable[[], str]:
    """rpmsg (driver 4) and, `with_rng`, rng (driver 3), the bus's
    children, on the rproc transport; vhost serves both vdevs (the rng one
    whether or not a driver binds it)."""

    def build() -> str:
        sdf, sevio, uart = system()
        rproc_pd = sevio.transport("rproc")
        rpmsg = driver(sevio, "rpmsg", transport="rproc", id=SECOND_ID, dma_paddr=RPMSG_DMA, child=True)
        rpmsg_client = client(sdf, client_image.replace("-", "_"), client_image)
        sevio.connect_rpmsg(rpmsg, rpmsg_client)
        rng_pds = []
        if with_rng:
            rng = driver(sevio, "rng", transport="rproc", id=RNG_ID, dma_paddr=RNG_DMA, child=True)
            rng_client = client(sdf, "rng_client", "rng-client")
            sevio.connect_rng(rng, rng_client)
            rng_pds = [rng, rng_client]
        else:
            sevio.dma_region("rng_dma", RNG_DMA)
        vhost = sevio.add_vhost([("rpmsg_dma", 0x220_0000), ("rng_dma", 0x230_0000)])
        sg.connect_log(sdf, uart, [sevio.bus, rproc_pd, vhost, rpmsg, rpmsg_client, *rng_pds])
        return sevio.render()

    return build


def sound(tone_transport: str) -> Callable[[], str]:
    """sound0 (driver 0, for tone) on `tone_transport`, sound1 (driver 1,
    for recorder) on the other one; both the bus's children."""

    def build() -> str:
        sdf, sevio, uart = system()
        mmio, pci = sevio.transport("mmio"), sevio.transport("pci")
        other = {"mmio": "pci", "pci": "mmio"}[tone_transport]
        drivers = [driver(sevio, "sound", name=f"sound{k}", transport=transport, id=k, dma_paddr=SOUND_DMA[k],
                          child=True) for k, transport in enumerate((tone_transport, other))]
        clients = [client(sdf, name, name) for name in ("tone", "recorder")]
        for k, (sound_driver, sound_client) in enumerate(zip(drivers, clients)):
            sevio.connect_sound(sound_driver, sound_client, data_paddr=SOUND_DATA[k])
        sg.connect_log(sdf, uart, [sevio.bus, mmio, pci, *drivers, *clients])
        return sevio.render()

    return build


def vsock(transport: str, client_image: str) -> Callable[[], str]:
    return driver_and_client("vsock", transport, client_image, client_name="vsock_client", dma_paddr=VSOCK_DMA,
                             connect=Sevio.connect_vsock)


def timer_system() -> str:
    sdf = SystemDescription(SystemDescription.Arch.AARCH64, PADDR_TOP)
    uart = sg.add_uart(sdf)
    timer = sg.add_timer(sdf)
    clients = []
    for k in range(3):
        # Distinct priorities: the clients' deadlines interleave.
        c = client(sdf, f"timer_client{k}", "timer-client", priority=CLIENT_PRIORITY + k,
                   stack_size=sg.TIMER_STACK_SIZE)
        sg.connect_timer(sdf, timer, c, timer_id=1 + k, client_id=0)
        clients.append(c)
    sg.connect_log(sdf, uart, [timer, *clients])
    return sdf.render()


def pingpong() -> str:
    sdf = SystemDescription(SystemDescription.Arch.AARCH64, PADDR_TOP)
    uart = sg.add_uart(sdf)
    shared = MR(sdf, "shared", sg.PAGE)
    sdf.add_mr(shared)
    # Default stacks (Microkit's 8 KiB): the runtime's own check needs no more.
    tally = PD("tally", "tally", priority=200, passive=True)
    pong = PD("pong", "pong", priority=110)
    ping = PD("ping", "ping", priority=100)
    for pd in (pong, ping):
        pd.add_map(Map(shared, 0x200_0000, "rw", setvar_vaddr="shared_vaddr"))
    for pd in (tally, pong, ping):
        sdf.add_pd(pd)
    sdf.add_channel(Channel(ping, pong, a_id=0, b_id=0))
    sdf.add_channel(Channel(ping, tally, a_id=1, b_id=0, pp_a=True))
    sg.connect_log(sdf, uart, [tally, pong, ping])
    return sdf.render()


# --- Descriptions --------------------------------------------------------------

PCI_TRANSPORT_TEXT = """\
The pci transport alone maps ECAM (buses 0..3), 16 MiB of the 32-bit
memory window and the I/O window, and owns INTA..INTD (INTID 35..38,
level). It enumerates the bus (root ports included), assigns BARs,
reports each virtio function to the bus, and the bus binds blk to the
virtio-blk one. The client writes a pattern, reads it back, flushes and
prints PASS. The blk driver is the same one the mmio system runs.

Stack sizes: on seL4 both the pci transport and the blk driver overflow
Microkit's default 8 KiB stack (checked with the Microkit 2.3.0 SDK).

Channel ids: pci 0..3 = INTA..INTD, 32 = bus, 40 + k = driver k; bus
1 = pci (bus-side channel 1 is the PCI transport), 8 + k = driver k.
blk calls the timer PD (its channel 3) for request deadlines: a request
the device leaves unanswered for 5 s fails the device.
"""

GPU_TEXT = """\
Channel ids: {transport_ids}; bus {bus_id} = {transport}, 8 + k = driver k.
The gpu driver is driver 4, the input drivers 5, 6 and 7 (one image,
three PDs); each driver's own ids: 0 bus, 1 transport, 2 client. paint: 0 gpu, 1..3 input drivers. The gpu
driver's DMA region holds its commands; the framebuffer (4 MiB data
region, fixed physical address) is the client's, read by the device
directly (the driver writes only the display information into it),
every offset checked by the driver. The drivers are the bus's children:
a driver that faults is unbound and its device reset.
"""

P9_TEXT = """\
Channel ids: {transport_ids}; bus {bus_id} = {transport}, 8 + k = driver k.
The 9p driver is driver 4 (bus 12, {transport} 44); its own ids: 0 bus,
1 {transport}, 2 client. Its DMA region (two 16 KiB message buffers and
the queue) has a fixed physical address in the window Microkit leaves to
user space; the client's data region is never given to the device (the
driver copies between it and the message buffers).

Stack sizes: the 9p driver keeps its 16 KiB message buffers on the
stack (0x40000); the transport overflows Microkit's default stack
(0x10000).
"""
MMIO_IDS = "mmio 0..31 = IRQs of slots 0..31, 32 = bus, 40 + k = driver\nk"
PCI_IDS = "pci 0..3 = INTA..INTD, 32 = bus, 40 + k = driver k"

RPROC_TEXT = """\
sevio over remoteproc: a device-side PD (vhost) publishes a Linux/OpenAMP
resource table in shared memory with two vdevs, rpmsg and rng, and plays
the remote processor; the rproc transport serves them to the drivers the
bus binds, through the same driver <-> transport protocol as mmio and
pci. {clients}

  clients (100) => rpmsg, rng drivers (150) =PPC=> rproc (200) =PPC=> bus (250)
                                                    rproc <=notifications=> vhost (180)

Channel ids: rproc 0 = vhost, 32 = bus, 40 + k = driver k; bus 2 =
rproc, 8 + k = driver k. rng is driver 3 (bus 11, rproc 43), rpmsg
driver 4 (bus 12, rproc 44); a driver's own ids: 0 bus, 1 transport,
2 client. vhost maps both vdevs' DMA regions (fixed physical
addresses): the rings and buffers it serves are there, nowhere else.
"""

SOUND_TEXT = """\
Two devices because QEMU's wav audiodev, which records playback to a
file, has no input: the tone plays on a virtio-sound whose audiodev is
wav, the recorder captures from one whose audiodev is none (silence at
the real rate). Each transport tells the bus which drivers it has
channels to, so sound0 can only bind the {tone} device and sound1 only the
{other} one: the tone always reaches the WAV file.

Channel ids: mmio 0..31 = slot IRQs, 32 = bus, 40 + k = driver k; pci
0..3 = INTA..INTD, 32 = bus, 40 + k = driver k; bus 0 = mmio, 1 = pci,
8 + k = driver k. Each driver: 0 bus, 1 transport, 2 client; each
client: 0 its driver. A driver's DMA region holds its control requests,
transfer headers and statuses; the client's data region (fixed physical
address) holds the frames, which the device reads (playback) or writes
(capture) in place, every offset checked by the driver. The drivers are
the bus's children (one image, two PDs): a driver that faults is unbound
and its device reset.
"""

SOUND_SIM_TEXT = """\
The tone's virtio-sound on {tone}, its playback
recorded to a WAV file at the stream's own format (no resampling); the
recorder's on {other} with the none audiodev (silence at the real rate).
The e2e test gives its own file and checks it (tools/e2e/tests/sound.rs).
"""


def sound_devices(tone_transport: str, wav: str) -> List[Dict]:
    """The tone's virtio-sound (wav audiodev) on `tone_transport`, the
    recorder's (none) on the other: mmio slot 5, PCI 00:02.0."""
    wav_audiodev = {"type": "wav", "path": wav, "out.frequency": 48000, "out.channels": 1, "out.format": "s16"}
    place = {"mmio": ("virtio-sound-device", "slot", 5), "pci": ("virtio-sound-pci", "pci_addr", "2")}
    devices = []
    for transport, audiodev in ((tone_transport, wav_audiodev), ({"mmio": "pci", "pci": "mmio"}[tone_transport],
                                                                  {"type": "none"})):
        name, key, where = place[transport]
        devices.append({"driver": name, key: where, "audiodev": audiodev})
    return devices


VSOCK_TEXT = """\
Channel ids: {transport_ids}; bus {bus_id} = {transport}, 8 + k = driver k.
The vsock driver is driver 4 (bus 12, {transport} 44); its own ids: 0 bus,
1 {transport}, 2 client. Its DMA region (rx, tx and event buffers and the
three queues) has a fixed physical address in the window Microkit leaves
to user space; the client's control region (two rings of 32 entries of
2 KiB) is never given to the device (the driver copies between it and
its buffers).

Stack sizes: the driver copies a 2 KiB packet on its stack (0x10000);
the transport overflows Microkit's default stack (0x10000).
"""

VSOCK_SIM_TEXT = """\
QEMU's {device},
its device side rust-vmm's vhost-device-vsock (scripts/install-deps.sh
installs it), guest context id 3. The e2e test (tools/e2e/tests/vsock.rs)
starts the backend and the host programs with its own paths; by hand,
from the repository root:

  mkdir -p build/vsock
  vhost-device-vsock --guest-cid 3 --socket build/vsock/vhost.sock --uds-path build/vsock/vm.vsock &
  (host echo listener on build/vsock/vm.vsock_4321, e.g. socat)
  make sim SYSTEM=systems/{system}

and connect to the echo server: write "CONNECT 1234\\n" to
build/vsock/vm.vsock, read "OK <port>\\n", then bytes both ways.
"""
VHOST_SOCKET = {"type": "socket", "path": "build/vsock/vhost.sock"}
VSOCK_MMIO = {"driver": "vhost-user-vsock-device", "slot": 5, "chardev": VHOST_SOCKET}

MSIX_TEXT = """\
The pci transport maps the GICv2m frame and is given its first 16 SPIs
(INTIDs 80..95 as its IRQ ids 4..19, edge-triggered); {who}
interrupts through one MSI-X vector per queue and one for configuration
changes instead of INTx (legacy functions and functions without MSI-X
stay on INTx).
"""

IOMMU_TEXT = """\
The iommu PD is a driver like {confined} (driver {iommu_id}: bus channel {iommu_bus}, pci
channel {iommu_pci}), bound to the virtio-iommu-pci function. When the bus binds
{confined} (driver {confined_id}) to its function it does not publish the binding:
it writes a confinement request into bus_confine_requests and notifies
the iommu PD (bus 7 <-> iommu 2). The iommu PD attaches the endpoint to
domain 0 and maps identity, read and write, exactly slot {confined_id}'s regions
(confine{confined_id}_region<j>, named here, not by the driver):
{regions}.
It answers in bus_confine_answers and notifies; only then does the bus
publish the binding and the driver bring its device up. An unbinding
releases the mappings; a DMA fault the IOMMU reports unbinds the driver.

The iommu PD maps the slots' regions read-only only because Microkit
hands a PD a region's size through a map; it never reads them (and an
IOMMU PD can direct any device anywhere: it is trusted with DMA).

Channel ids: pci 0..3 = INTA..INTD, 32 = bus, 40 + k = driver k; bus 1 =
pci, 7 = iommu (confinement), 8 + k = driver k; iommu 0 = bus, 1 = pci,
2 = bus (confinement).
"""

SMMU_TEXT = """\
The smmu PD (pds/drivers/smmu) owns QEMU virt's SMMUv3 (machine option
iommu=smmuv3, -global arm-smmuv3.stage=2): its register pages (smmu_regs,
0x9050000), its event queue and global error interrupts (INTIDs 106 and
109 as ids 1 and 2, edge) and smmu_tables (fixed physical address, given
it as smmu_tables_paddr: the stream table, the command and event queues,
the stage-2 page tables). It is no driver: the SMMU is not a PCI
function. Every stream aborts until confined. When the bus binds
{confined} (driver {confined_id}) to its function it does not publish the binding:
it writes a confinement request into bus_confine_requests and notifies
the smmu PD (bus 7 <-> smmu 0). The smmu PD points the stream table
entry of the function's requester id at stage-2 tables that map
identity, read and write, exactly slot {confined_id}'s regions
(confine{confined_id}_region<j>, named here, not by the driver):
{regions};
then CMD_CFGI_STE, CMD_TLBI_S12_VMALL and CMD_SYNC. It answers in
bus_confine_answers and notifies; only then does the bus publish the
binding. An unbinding makes the entry abort again; a translation fault
the SMMU reports for the stream unbinds the driver.

The smmu PD maps the slots' regions read-only only because Microkit
hands a PD a region's size through a map; it never reads them.

Channel ids: pci 0..3 = INTA..INTD, 32 = bus, 40 + k = driver k; bus 1 =
pci, 7 = smmu (confinement), 8 + k = driver k; smmu 0 = bus, 1 and 2 =
the SMMU's interrupts.
"""

SMMU_MSIX_TEXT = """\
MSI-X writes reach the GIC through the SMMU like any DMA: the smmu PD is
given the GICv2m frame's physical address (smmu_msi_frame_paddr, region
gicv2m; it does not map the frame) and every confined slot's tables also
map that one 4 KiB page, identity, Device-nGnRE, write-only. The device
can thereby raise any SPI the frame raises (MSI_SETSPI_NS takes any SPI
number): that page is not confined per device.
"""

ROGUE_TEXT = """\
The rogue knows the canary page only by its physical address
(region_paddr); it never maps it. When its attack ends (the device
answered, or the rogue lost its device) it notifies the canary
(rogue 2 -> canary 0), which checks its page and prints PASS. The
canary's priority is above the rogue's so that on seL4 it has filled
its page before the rogue's device can touch it.
"""

SYSTEMS: List[Generated] = [
    Generated("system.xml", """\
sevio reference system for qemu_virt_aarch64: block storage, network,
console and entropy, each device driven by its own PD.

  clients (100) =sDDF queues=> drivers (150) =PPC=> mmio (200) =PPC=> bus (250)

The mmio transport alone maps the 32 virtio-mmio register blocks and owns
their IRQs (INTID 48 + slot); it tells the bus which drivers it has
channels to, reports the devices it finds, and the bus binds each driver
to a device of its class, wherever QEMU placed it. Each client then
checks its device end to end and prints PASS:
- blk_client writes a pattern, reads it back, keeps 100 reads
  outstanding at once, checks that bad requests are refused (a read
  straddling its two data regions among them), flushes. It talks to the
  blk driver as sDDF's blk virtualiser does: buffers by I/O address,
  128-entry queues;
- net_client resolves and pings the gateway 10.0.2.2 (QEMU user
  networking), and answers ARP, ping and UDP echo on port 1234; what
  goes unanswered it resends on the timer PD's deadlines (timer, 253,
  INTID 30, a PPC on net_client's channel 1). The blk driver puts a
  5 s deadline on every request it posts (the timer on its channel 3):
  a device that stops answering is reported and failed;
- console_client writes a banner and passes once the device took it,
  then echoes what it reads, upper-cased;
- rng_client asks for 16, 100, 4096 and 10000 bytes and checks them.

blk keeps its request journal in blk_journal, which blk alone maps and a
restart does not clear (pds/drivers/blk/src/journal.rs).

Driver k is the bus's child k (faults go to the bus, which unbinds it;
its transport resets the device), bus channel 8 + k, mmio channel
40 + k, mmio setvars driver<k>_doorbell_vaddr and driver<k>_dma_paddr.
blk 0, net 1, console 2, rng 3. Regions the devices reach have fixed
physical addresses in the 0x4000_0000..0x6000_0000 window Microkit leaves
to user space; each driver's DMA region is the transports' 256 KiB
window. Every PD prints through uart (highest priority, passive), a PPC
on its channel 61 with one whole line: on debug and release kernels.
""", reference, {
        "system.sim.toml": Sim("""\
Devices for `make run` / `make sim` (no Microkit SDK): what QEMU attaches
to the simulated machine (see tools/sim/README.md). Slots are left to
QEMU, which fills them from 31 down; the bus finds each device wherever
it lands. The console's output goes to a file sim removes afterwards.
""", ["blk_client", "net_client", "console_client", "rng_client"], [
            {"driver": "virtio-blk-device", "drive": DISK_16M},
            {"driver": "virtio-net-device", "netdev": USER_NET, "properties": {"mac": MAC}},
            {"driver": "virtio-serial-device"},
            {"driver": "virtconsole", "chardev": {"type": "null"}},
            {"driver": "virtio-rng-device"},
        ]),
    }),
    Generated("systems/pingpong.xml", """\
The runtime's own check. ping and pong exchange a notification each way
per round through a shared region; ping then makes a six-word PPC to the
passive, higher-priority tally. ping prints PASS after three rounds.
Program images are named without extension: `make image` puts the
aarch64 ELFs under these names in build/<config>/, `make sim` finds the
host builds under the same names.
""", pingpong, {}),
    Generated("systems/pci.xml", f"""\
The PCI variant of the reference system: the block slice over virtio-pci.
make qemu SYSTEM=systems/pci.xml boots it; make sim SYSTEM=systems/pci.xml
runs it (devices from pci.sim.toml).

  blk-client (100) =sDDF blk queues=> blk (150) =PPC=> pci (200) =PPC=> bus (250)

{PCI_TRANSPORT_TEXT}""", blk_alone("pci", "blk-client"), {
        "systems/pci.sim.toml": Sim(PCI_SIM_TEXT, ["blk_client"], PCI_DEVICES),
        "systems/pci-legacy.sim.toml": Sim("""\
A transitional virtio-blk-pci with its modern interface off: driven
through the legacy I/O BAR (I/O window), INTB of device 4 (line 0).
""", ["blk_client"], [
            {"driver": "virtio-blk-pci", "pci_addr": "4", "drive": DISK_16M,
             "properties": {"disable-modern": "on", "disable-legacy": "off"}},
        ]),
        "systems/pci-bridge.sim.toml": Sim("""\
The disk behind a pcie-root-port (bus 1, which the transport numbers and
opens the root port's windows for); a virtio-rng-pci on bus 0 and an
empty second root port around it.
""", ["blk_client"], [
            {"driver": "pcie-root-port", "pci_addr": "6", "properties": {"id": "rp0", "chassis": 1, "slot": 1}},
            {"driver": "virtio-rng-pci", "pci_addr": "2"},
            {"driver": "pcie-root-port", "pci_addr": "7", "properties": {"id": "rp1", "chassis": 2, "slot": 2}},
            {"driver": "virtio-blk-pci", "drive": DISK_16M, "properties": {"bus": "rp0"}},
        ]),
    }),
    Generated("systems/blk-bench.xml", """\
The block benchmark: the reference system's blk slice with blk-bench as
the client (random 4 KiB reads, 64 KiB sequential reads and writes at
queue depth 1 and 32; prints BENCH lines). Run by make bench, in sim,
and by make bench-qemu on seL4.

  blk-bench (100) =sDDF blk queues=> blk (150) =PPC=> mmio (200) =PPC=> bus (250)

The mmio transport alone maps the 32 virtio-mmio register blocks and
owns their IRQs (INTID 48 + slot); the bus binds the blk driver to
whichever slot holds a virtio-blk device.

Channel ids: mmio 0..31 = IRQs of slots 0..31, 32 = bus, 40 + k = driver
k; bus 0 = mmio, 8 + k = driver k; blk 3 = the timer (request
deadlines). Regions the device reads or writes (the driver's DMA region,
the client's data) have fixed physical addresses in the
0x4000_0000..0x6000_0000 window Microkit leaves to user space, so their
device addresses are known and contiguous.
""", blk_alone("mmio", "blk-bench"), {
        "systems/blk-bench.sim.toml": Sim("", ["blk_client"], [BENCH_DISK]),
        "systems/blk-bench-packed.sim.toml": Sim("""\
blk-bench.xml over packed virtqueues: blk-bench.sim.toml's disk with
QEMU's `packed=on` (the device offers VIRTIO_F_RING_PACKED, the driver
takes it). scripts/bench.sh runs the two alternately: RATIO
blk_packed_vs_split.
""", ["blk_client"], [{**BENCH_DISK, "properties": {"packed": "on"}}]),
    }),
    Generated("systems/blk-pci-bench.xml", f"""\
The block benchmark over PCI: systems/pci.xml with blk-bench as the
client.

  blk-bench (100) =sDDF blk queues=> blk (150) =PPC=> pci (200) =PPC=> bus (250)

{PCI_TRANSPORT_TEXT}""", blk_alone("pci", "blk-bench"), {
        "systems/blk-pci-bench.sim.toml": Sim("", ["blk_client"], [
            {"driver": "virtio-blk-pci", "pci_addr": "2", "drive": {"size": "64M"}, "properties": MODERN_ONLY},
        ]),
    }),
    Generated("systems/mmio-pci.xml", """\
Two transports, one driver image: blk0 drives a virtio-blk on
virtio-mmio, blk1 (the same program) a virtio-blk on PCI. Each
transport tells the bus which drivers it has channels to, so blk0 can
only be bound on mmio and blk1 only on PCI; the bus tells each instance
its driver id when it registers. Each client writes its pattern to its
own disk and prints PASS.

Channel ids: mmio 0..31 = slot IRQs, 32 = bus, 40 = blk0; pci 0..3 =
INTA..INTD, 32 = bus, 41 = blk1 (driver 1); bus 0 = mmio, 1 = pci,
8 = blk0, 9 = blk1. blk0 and blk1 call the timer PD (their channel 3,
the timer's 1 and 2) for request deadlines.
""", mmio_pci, {
        "systems/mmio-pci.sim.toml": Sim("""\
One virtio-blk on virtio-mmio, one on PCI (modern).
""", ["client0", "client1"], [
            {"driver": "virtio-blk-device", "slot": 31, "drive": DISK_16M},
            {"driver": "virtio-blk-pci", "pci_addr": "2", "drive": DISK_16M, "properties": MODERN_ONLY},
        ]),
    }),
    Generated("systems/net-pci.xml", """\
sevio-pci end-to-end: tools/e2e/systems/net.xml with the pci transport
in place of mmio (the net driver is driver 1: bus channel 9, pci channel
41). net-client resolves and pings the gateway over QEMU user networking
through a virtio-net-pci and passes; it resends what goes unanswered on
the timer PD's deadlines (its channel 1).

  net_client (100) =sDDF net queues=> net (150) =PPC=> pci (200) =PPC=> bus (250)
""", net_pci(), {
        "systems/net-pci.sim.toml": Sim(NET_PCI_SIM_TEXT, ["net_client"], [NET_PCI]),
        "systems/net-pci-legacy.sim.toml": Sim("""\
A transitional virtio-net-pci with its modern interface off (legacy
I/O BAR, 10-byte header), behind nothing, on device 5.
""", ["net_client"], [
            {"driver": "virtio-net-pci", "pci_addr": "5", "netdev": USER_NET,
             "properties": {"mac": MAC, "disable-modern": "on"}},
        ]),
    }),
    Generated("systems/net-bench.xml", """\
sevio net benchmark: two hosts on one wire, each behind its own net
driver instance (one image, two PDs), the two virtio-net NICs on one
QEMU hub (net-bench.sim.toml), so nothing outside the system is needed.

  net_bench (100, 10.0.2.16) => net (150, driver 1) => mmio (200) => NIC a
                                                                      | hub
  net_client (100, 10.0.2.15) => net_echo (150, driver 4) => mmio => NIC b

net-bench resolves 10.0.2.15 and floods its UDP echo port (1234) with
datagrams of 1024 bytes, 32 in flight, checking every echo: 1000, then
as many as go in 2 s; after each phase it prints BENCH lines (datagrams
echoed per second, MB/s, notifications and interrupts per datagram,
system-wide), and passes. Its timer (the timer PD, channel 1) resends
what goes unanswered for 250 ms and ends the timed phase. net_client
runs net-echo: it only answers.

Channel ids: mmio 0..31 = IRQs of slots 0..31, 32 = bus, 40 + k = driver
k; bus 0 = mmio, 8 + k = driver k. Each driver's own ids: 0 bus, 1 mmio,
2 its client's rx side, 3 its tx side (the client's 0 and 2, as sDDF's
rx and tx virtualisers each have a channel); the bus tells each instance
its k when it registers. DMA regions are the transport's whole 0x40000
window; DMA and data regions have fixed physical addresses in the window
Microkit leaves to user space.
""", net_bench, {
        "systems/net-bench.sim.toml": Sim("""\
Two virtio-net NICs on one QEMU hub (a wire between them, nothing
outside); QEMU places them (slots 31 and 30) and the bus gives each
net driver instance one.
""", ["net_bench"], [
            {"driver": "virtio-net-device", "netdev": {"type": "hubport", "hubid": 0},
             "properties": {"mac": "52:54:00:12:34:57"}},
            {"driver": "virtio-net-device", "netdev": {"type": "hubport", "hubid": 0}, "properties": {"mac": MAC}},
        ]),
    }),
    Generated("systems/gpu.xml", f"""\
sevio gpu + input over virtio-mmio: the paint client draws on a
virtio-gpu through the gpu driver and takes events from up to three
virtio-input devices (keyboard, mouse, tablet), each through its own
instance of the input driver. make run SYSTEM=systems/gpu.xml shows it
(sim: devices from gpu.sim.toml; seL4: the QEMU window when QEMU has a
display).

  paint (100) =sDDF gpu queues + data region=> gpu (150) =PPC=> mmio (200) =PPC=> bus (250)
        <=input pages (info + events)= input0..2 (150) =PPC=> mmio

{GPU_TEXT.format(transport_ids=MMIO_IDS, bus_id=0, transport="mmio")}""", gpu("mmio", "paint"), {
        "systems/gpu.sim.toml": Sim("""\
QEMU's virtio-gpu (2D, default 1280x800 scanout) and three virtio-input
devices on virtio-mmio: keyboard, mouse (relative) and tablet
(absolute). The e2e test adds a QMP socket to inject events and take
screendumps (tools/e2e/tests/gpu.rs). screendump: what the scanout
shows at the end of make run SYSTEM=systems/gpu.xml.
""", ["paint"], [
            {"driver": "virtio-gpu-device", "slot": 10},
            {"driver": "virtio-keyboard-device", "slot": 11},
            {"driver": "virtio-mouse-device", "slot": 12},
            {"driver": "virtio-tablet-device", "slot": 13},
        ], screendump="../build/gpu-screendump.png"),
    }),
    Generated("systems/gpu-pci.xml", f"""\
sevio gpu + input over virtio-pci: systems/gpu.xml with the pci
transport instead of mmio (devices from gpu-pci.sim.toml). The drivers
and the client are the same images.

  paint (100) =sDDF gpu queues + data region=> gpu (150) =PPC=> pci (200) =PPC=> bus (250)
        <=input pages (info + events)= input0..2 (150) =PPC=> pci

{GPU_TEXT.format(transport_ids=PCI_IDS, bus_id=1, transport="pci")}""", gpu("pci", "paint"), {
        "systems/gpu-pci.sim.toml": Sim("""\
systems/gpu.xml's devices on PCI: virtio-gpu-pci and the three
virtio-input devices as PCI functions (modern only).
""", ["paint"], [
            {"driver": "virtio-gpu-pci", "pci_addr": "2", "properties": MODERN_ONLY},
            {"driver": "virtio-keyboard-pci", "pci_addr": "3"},
            {"driver": "virtio-mouse-pci", "pci_addr": "4"},
            {"driver": "virtio-tablet-pci", "pci_addr": "5"},
        ], screendump="../build/gpu-pci-screendump.png"),
    }),
    Generated("systems/gpu-bench.xml", f"""\
The gpu benchmark (make bench): systems/gpu.xml with paint-bench in
place of paint. Once set up, paint-bench shows 200 full-screen frames
(1280x800: a transfer and a flush each, one frame in flight) and prints
`BENCH gpu_fullscreen_fps`. Devices from gpu-bench.sim.toml (the gpu
alone; the input drivers wait).

{GPU_TEXT.format(transport_ids=MMIO_IDS, bus_id=0, transport="mmio")}""", gpu("mmio", "paint-bench"), {
        "systems/gpu-bench.sim.toml": Sim("""\
The gpu benchmark: virtio-gpu only (the input drivers wait for devices).
""", ["paint"], [{"driver": "virtio-gpu-device", "slot": 10}]),
    }),
    Generated("systems/9p.xml", f"""\
sevio 9p: p9-client writes a tree of files through the 9p driver (a
9P2000.L client) into the host directory QEMU exports, reads it back,
lists it, removes part of it, reads a file the host prepared, and
passes.

  p9-client (100) =control page + data region=> p9 (150) =PPC=> mmio (200) =PPC=> bus (250)

{P9_TEXT.format(transport_ids=MMIO_IDS, bus_id=0, transport="mmio")}""", p9("mmio", "p9-client"), {
        "systems/9p.sim.toml": Sim("""\
QEMU's virtio-9p on virtio-mmio slot 5, exporting a host directory
(the e2e test gives its own; `make sim SYSTEM=systems/9p.xml` exports
build/9p-export, which must exist).
""", ["p9_client"], [p9_device("virtio-9p-device", "../build/9p-export", "sevio", {"slot": 5})]),
    }),
    Generated("systems/9p-pci.xml", f"""\
sevio 9p over PCI: systems/9p.xml's driver and client, the device a
virtio-9p-pci the pci transport finds and the bus binds. p9-client
writes a tree of files through the 9p driver into the host directory
QEMU exports, reads it back, lists it, removes part of it, reads a file
the host prepared, and passes.

  p9-client (100) =control page + data region=> p9 (150) =PPC=> pci (200) =PPC=> bus (250)

{P9_TEXT.format(transport_ids=PCI_IDS, bus_id=1, transport="pci")}""", p9("pci", "p9-client"), {
        "systems/9p-pci.sim.toml": Sim("""\
QEMU's virtio-9p-pci (modern only) on bus 0, exporting a host
directory (the e2e test gives its own; `make sim
SYSTEM=systems/9p-pci.xml` exports build/9p-export, which must exist).
""", ["p9_client"], [p9_device("virtio-9p-pci", "../build/9p-export", "sevio", {"pci_addr": "2"})]),
    }),
    Generated("systems/9p-bench.xml", f"""\
The 9p benchmark (make bench): p9-bench writes 8 MiB to a file through
the 9p driver in 32 KiB requests, reads it back, times 2000 stats, and
prints BENCH lines. The same PDs and wiring as systems/9p.xml, the
client image aside.

  p9-bench (100) =control page + data region=> p9 (150) =PPC=> mmio (200) =PPC=> bus (250)

{P9_TEXT.format(transport_ids=MMIO_IDS, bus_id=0, transport="mmio")}""", p9("mmio", "p9-bench"), {
        "systems/9p-bench.sim.toml": Sim("""\
QEMU's virtio-9p on virtio-mmio slot 5, exporting build/9p-bench-export
(scripts/bench.sh makes it empty before the run).
""", ["p9_client"], [p9_device("virtio-9p-device", "../build/9p-bench-export", "sevio-bench", {"slot": 5})]),
    }),
    Generated("systems/rproc.xml", RPROC_TEXT.format(clients="""\
The rng driver is the very image that drives virtio-rng on mmio.
rpmsg_client creates the endpoint echo-client, waits for the remote's
name-service announcement of rpmsg-echo, then checks its echo byte for
byte (12 bytes, exactly 496, a 497-byte message refused, a burst of
100); rng_client asks for 16, 100, 4096 and 10000 bytes of the device's
(deterministic) stream and checks them."""), rproc("rpmsg-client", with_rng=True), {
        "systems/rproc.sim.toml": Sim("""\
No QEMU device: the remote side is a PD (vhost), its memory RAM that sim
shares between the PDs. QEMU runs only for the uart's PL011.
""", ["rpmsg_client", "rng_client"], []),
    }),
    Generated("systems/rproc-bench.xml", RPROC_TEXT.format(clients="""\
rpmsg_bench: 2000 round trips to the echo endpoint, one at a time;
prints BENCH lines (make bench). No rng driver here: vhost still
offers its vdev, which nothing binds."""), rproc("rpmsg-bench", with_rng=False), {
        "systems/rproc-bench.sim.toml": Sim("""\
The rpmsg benchmark: no QEMU device (the remote side is a PD).
""", ["rpmsg_bench"], []),
    }),
    Generated("systems/sound.xml", f"""\
sevio sound: the tone client plays one second of 440 Hz through sound0
on a virtio-sound over virtio-mmio (QEMU records it to a WAV file); the
recorder captures through sound1 on a virtio-sound over PCI.
systems/sound-pci.xml is the same with the transports swapped.

  tone (100)     =sDDF sound queues + data region=> sound0 (150) =PPC=> mmio (200) =PPC=> bus (250)
  recorder (100) =sDDF sound queues + data region=> sound1 (150) =PPC=> pci (200)

{SOUND_TEXT.format(tone="mmio", other="pci")}""", sound("mmio"), {
        "systems/sound.sim.toml": Sim(SOUND_SIM_TEXT.format(tone="virtio-mmio", other="PCI"), ["tone", "recorder"],
                                      sound_devices("mmio", "../build/sound-tone.wav")),
    }),
    Generated("systems/sound-pci.xml", f"""\
sevio sound, transports swapped: the tone client plays through sound0
on a virtio-sound over PCI (recorded to a WAV file); the recorder
captures through sound1 on a virtio-sound over virtio-mmio. See
systems/sound.xml.

  tone (100)     =sDDF sound queues + data region=> sound0 (150) =PPC=> pci (200) =PPC=> bus (250)
  recorder (100) =sDDF sound queues + data region=> sound1 (150) =PPC=> mmio (200)

{SOUND_TEXT.format(tone="pci", other="mmio")}""", sound("pci"), {
        "systems/sound-pci.sim.toml": Sim(SOUND_SIM_TEXT.format(tone="PCI", other="virtio-mmio"),
                                          ["tone", "recorder"], sound_devices("pci", "../build/sound-pci-tone.wav")),
    }),
    Generated("systems/vsock.xml", f"""\
sevio vsock: vsock-client runs an echo server on vsock port 1234 (a
host program connects through the device's host side and gets its
bytes back) and connects out to the host's port 4321, whose echo of
300 kB it checks byte for byte, through the vsock driver.

  vsock-client (100) =control region=> vsock (150) =PPC=> mmio (200) =PPC=> bus (250)

{VSOCK_TEXT.format(transport_ids=MMIO_IDS, bus_id=0, transport="mmio")}""", vsock("mmio", "vsock-client"), {
        "systems/vsock.sim.toml": Sim(VSOCK_SIM_TEXT.format(device="vhost-user-vsock-device on virtio-mmio slot 5",
                                                            system="vsock.xml"), ["vsock_client"], [VSOCK_MMIO]),
    }),
    Generated("systems/vsock-pci.xml", f"""\
sevio vsock over PCI (the variant of systems/vsock.xml with the device
a vhost-user-vsock-pci the pci transport finds and the bus binds):
vsock-client runs an echo server on vsock port 1234 (a host program
connects through the device's host side and gets its bytes back) and
connects out to the host's port 4321, whose echo of 300 kB it checks
byte for byte, through the vsock driver.

  vsock-client (100) =control region=> vsock (150) =PPC=> pci (200) =PPC=> bus (250)

{VSOCK_TEXT.format(transport_ids=PCI_IDS, bus_id=1, transport="pci")}""", vsock("pci", "vsock-client"), {
        "systems/vsock-pci.sim.toml": Sim(VSOCK_SIM_TEXT.format(device="vhost-user-vsock-pci at PCI 00:02.0",
                                                                system="vsock-pci.xml"), ["vsock_client"],
                                          [{"driver": "vhost-user-vsock-pci", "pci_addr": "2",
                                            "chardev": VHOST_SOCKET}]),
    }),
    Generated("systems/vsock-bench.xml", f"""\
sevio vsock benchmark (make bench): vsock-bench connects to the host's
port 4321, where a host program echoes, and measures round trips of 64
bytes one at a time, then an 8 MiB stream echoed back (BENCH lines).
Otherwise systems/vsock.xml.

  vsock-bench (100) =control region=> vsock (150) =PPC=> mmio (200) =PPC=> bus (250)

{VSOCK_TEXT.format(transport_ids=MMIO_IDS, bus_id=0, transport="mmio")}""", vsock("mmio", "vsock-bench"), {
        "systems/vsock-bench.sim.toml": Sim("""\
The vsock benchmark's device: QEMU's vhost-user-vsock-device on
virtio-mmio slot 5, its device side rust-vmm's vhost-device-vsock, guest
context id 3. `make bench` (tools/e2e/tests/vsock.rs, vsock_bench)
starts the backend and the host echo listener with its own paths; by
hand, from the repository root, as systems/vsock.sim.toml says, then
`make sim SYSTEM=systems/vsock-bench.xml`.
""", ["vsock_client"], [VSOCK_MMIO]),
    }),
    Generated("systems/journal.xml", """\
Restart under load: the blk driver is faulted ten times at random
points while its client writes and verifies, and every request the
client made must be answered exactly once, every block it was told was
written must read back.

  blk_client (blk-soak, 100) =sDDF queues=> blk (150) =PPC=> mmio (200) =PPC=> bus (250)

- blk_client runs the blk test client's rounds (blk-soak: write the
  pattern over blocks 0..64 and the last 4, read back and verify, 100
  reads outstanding, refused requests, flush; twelve rounds, each with
  a pattern of its own). Its engine refuses an answer to an id not in
  flight, so an answer given twice fails it.
- blk keeps its request journal in blk_journal (mapped by blk alone),
  which a restart does not clear: the requests it had taken are
  resubmitted or answered from there (pds/drivers/blk/src/journal.rs).
- blk_fault_storm makes blk fault ten times, each after a random number
  of its fault points (a request taken, posted, answered but not
  published, answers published, an interrupt, bring-up): see
  pds/drivers/core/src/drill.rs. The bus restarts it each time (ten
  faults stay under its limit of twelve in 10 s).
- blk_heartbeat: blk marks it around every event; the bus reads it every
  250 ms (timer, its channel 60) and treats blk inside one event for a
  second as hung: unbound, restarted (pds/bus/src/hang.rs). The hang
  test swaps the storm page for a hang drill page (fault_hang_vaddr):
  blk then spins for ever in the middle of its work, once.

Wiring as in system.xml: blk is the bus's child 0, bus channel 8,
mmio channel 40; the timer PD serves blk's request deadlines (timer 1,
blk 3); uart's ids are system.xml's.
""", journal, {
        "systems/journal.sim.toml": Sim("""\
systems/journal.xml in sim: one virtio-blk disk; blk_client must pass
across blk's ten storm faults.
""", ["blk_client"], [{"driver": "virtio-blk-device", "drive": DISK_16M}]),
    }),
    Generated("systems/pci-msix.xml", f"""\
systems/pci.xml with MSI-X. make sim SYSTEM=systems/pci-msix.xml runs
it (devices from pci-msix.sim.toml).

  blk-client (100) =sDDF blk queues=> blk (150) =PPC=> pci (200) =PPC=> bus (250)

{MSIX_TEXT.format(who="each modern function with MSI-X")}
{PCI_TRANSPORT_TEXT}""", blk_alone("pci", "blk-client", msix=True), {
        "systems/pci-msix.sim.toml": Sim(PCI_SIM_TEXT, ["blk_client"], PCI_DEVICES),
    }),
    Generated("systems/net-pci-msix.xml", f"""\
systems/net-pci.xml with MSI-X: net-client resolves and pings the
gateway over QEMU user networking through a virtio-net-pci and passes.

  net_client (100) =sDDF net queues=> net (150) =PPC=> pci (200) =PPC=> bus (250)

{MSIX_TEXT.format(who="the NIC")}""", net_pci(msix=True), {
        "systems/net-pci-msix.sim.toml": Sim(NET_PCI_SIM_TEXT, ["net_client"], [NET_PCI]),
    }),
    Generated("systems/net-bench-peer.xml", """\
sevio net benchmark against a peer outside the system: one host behind
one net driver, its NIC on whatever netdev the QEMU command line gives
(make bench-qemu: a UDP socket to an echo peer on the host, the same
one the Linux guest it is compared with talks to).

  net_bench (100, 10.0.2.16) => net (150, driver 1) => mmio (200) => NIC

net-bench resolves 10.0.2.15 (the peer) and floods its UDP echo port
(1234): a stream of 1024-byte datagrams, 32 in flight; make bench-qemu
also boots it with net-bench-rr in net_bench's place (request/response:
one 64-byte datagram in flight). Both print BENCH lines and pass when
every datagram came back unchanged. Its timer (channel 1) resends what
goes unanswered and ends the timed phase.

Channel ids and addresses as in systems/net-bench.xml, whose first host
this is.
""", net_bench_peer, {}),
    Generated("systems/blk-pci-iommu.xml", f"""\
systems/pci.xml with the block device's DMA confined by a virtio-iommu.
make sim SYSTEM=systems/blk-pci-iommu.xml runs it (devices from
blk-pci-iommu.sim.toml: virtio-iommu-pci first, boot-bypass=off, so
that every PCI device after it is translated and blocked until
attached).

  blk-client (100) => blk (150) =PPC=> pci (200) =PPC=> bus (250)
                      iommu (160) =PPC=> pci, bus

{IOMMU_TEXT.format(confined="blk", confined_id=0, iommu_id=1, iommu_bus=9, iommu_pci=41,
                   regions="blk's DMA region and its client's data region")}
Stack sizes: on seL4 the bus with an IOMMU overflows Microkit's
default 8 KiB stack (it did at its first confinement answer).
""", blk_alone("pci", "blk-client", iommu=True), {
        "systems/blk-pci-iommu.sim.toml": Sim("""\
A virtio-iommu-pci first (QEMU gives a PCI device its DMA address space
when it is created: devices created before the IOMMU would bypass it),
boot-bypass off (endpoints attached to no domain are blocked from
reset on); then the modern virtio-blk-pci of systems/pci.xml, with
iommu_platform=on: QEMU routes a virtio device's DMA through the IOMMU
only when it offers VIRTIO_F_ACCESS_PLATFORM.
""", ["blk_client"], [virtio_iommu("1"), translated(BLK_PCI)]),
    }),
    Generated("systems/blk-pci-iommu-bench.xml", f"""\
The block benchmark over PCI with the device's DMA confined by a
virtio-iommu: systems/blk-pci-bench.xml plus the IOMMU PD and pages of
systems/blk-pci-iommu.xml. make bench runs both and prints the cost of
confinement as RATIO blk_pci_iommu_vs_blk_pci_<metric> lines.

  blk-bench (100) => blk (150) =PPC=> pci (200) =PPC=> bus (250)
                     iommu (160) =PPC=> pci, bus

{IOMMU_TEXT.format(confined="blk", confined_id=0, iommu_id=1, iommu_bus=9, iommu_pci=41,
                   regions="blk's DMA region and its client's data region")}""",
              blk_alone("pci", "blk-bench", iommu=True), {
        "systems/blk-pci-iommu-bench.sim.toml": Sim("""\
blk-pci-bench.sim.toml's disk behind a virtio-iommu-pci created first,
boot-bypass off, the blk device with iommu_platform=on (see
blk-pci-iommu.sim.toml).
""", ["blk_client"], [virtio_iommu("1"), translated({**BLK_PCI, "drive": {"size": "64M"}})]),
    }),
    Generated("systems/net-pci-iommu.xml", f"""\
systems/net-pci.xml with the net device's DMA confined by a virtio-iommu.
The net driver stays driver 1; the iommu PD is driver 0.

  net_client (100) => net (150) =PPC=> pci (200) =PPC=> bus (250)
                      iommu (160) =PPC=> pci, bus

{IOMMU_TEXT.format(confined="net", confined_id=1, iommu_id=0, iommu_bus=8, iommu_pci=40,
                   regions="net's DMA region, the rx buffers and the tx buffers")}""", net_pci(iommu=True), {
        "systems/net-pci-iommu.sim.toml": Sim("""\
systems/net-pci.sim.toml's virtio-net-pci (iommu_platform=on) behind a
virtio-iommu-pci created first, boot-bypass off (see
blk-pci-iommu.sim.toml).
""", ["net_client"], [virtio_iommu("3"), translated(NET_PCI)]),
    }),
    Generated("systems/blk-pci-smmu.xml", f"""\
systems/pci.xml with the block device's DMA confined by QEMU virt's
SMMUv3. make sim SYSTEM=systems/blk-pci-smmu.xml runs it (machine options
and devices from blk-pci-smmu.sim.toml).

  blk-client (100) => blk (150) =PPC=> pci (200) =PPC=> bus (250)
                      smmu (160) <=notifications=> bus

{SMMU_TEXT.format(confined="blk", confined_id=0, regions="blk's DMA region and its client's data region")}""",
              blk_alone("pci", "blk-client", smmu=True), {
        "systems/blk-pci-smmu.sim.toml": Sim("""\
QEMU virt with its SMMUv3 in front of the PCIe devices (stage 2); the
modern virtio-blk-pci of systems/pci.xml with iommu_platform=on: QEMU
routes a virtio device's DMA through the IOMMU only when it offers
VIRTIO_F_ACCESS_PLATFORM.
""", ["blk_client"], [translated(BLK_PCI)], qemu_args=SMMU_QEMU_ARGS),
    }),
    Generated("systems/blk-pci-smmu-bench.xml", f"""\
The block benchmark over PCI with the device's DMA confined by the
SMMUv3: systems/blk-pci-bench.xml plus the smmu PD and pages of
systems/blk-pci-smmu.xml. make bench runs it beside blk-pci-bench and
prints the cost as RATIO blk_pci_smmu_vs_blk_pci_<metric> lines.

  blk-bench (100) => blk (150) =PPC=> pci (200) =PPC=> bus (250)
                     smmu (160) <=notifications=> bus

{SMMU_TEXT.format(confined="blk", confined_id=0, regions="blk's DMA region and its client's data region")}""",
              blk_alone("pci", "blk-bench", smmu=True), {
        "systems/blk-pci-smmu-bench.sim.toml": Sim("""\
blk-pci-bench.sim.toml's disk behind QEMU virt's SMMUv3 (see
blk-pci-smmu.sim.toml).
""", ["blk_client"], [translated({**BLK_PCI, "drive": {"size": "64M"}})], qemu_args=SMMU_QEMU_ARGS),
    }),
    Generated("systems/net-pci-smmu.xml", f"""\
systems/net-pci.xml with the net device's DMA confined by QEMU virt's
SMMUv3.

  net_client (100) => net (150) =PPC=> pci (200) =PPC=> bus (250)
                      smmu (160) <=notifications=> bus

{SMMU_TEXT.format(confined="net", confined_id=1,
                  regions="net's DMA region, the rx buffers and the tx buffers")}""", net_pci(smmu=True), {
        "systems/net-pci-smmu.sim.toml": Sim("""\
systems/net-pci.sim.toml's virtio-net-pci (iommu_platform=on) behind
QEMU virt's SMMUv3 (see blk-pci-smmu.sim.toml).
""", ["net_client"], [translated(NET_PCI)], qemu_args=SMMU_QEMU_ARGS),
    }),
    Generated("systems/blk-pci-smmu-msix.xml", f"""\
systems/blk-pci-smmu.xml with MSI-X. make sim
SYSTEM=systems/blk-pci-smmu-msix.xml runs it (machine options and devices
from blk-pci-smmu-msix.sim.toml).

  blk-client (100) => blk (150) =PPC=> pci (200) =PPC=> bus (250)
                      smmu (160) <=notifications=> bus

{MSIX_TEXT.format(who="the block device")}
{SMMU_TEXT.format(confined="blk", confined_id=0, regions="blk's DMA region and its client's data region")}
{SMMU_MSIX_TEXT}""", blk_alone("pci", "blk-client", msix=True, smmu=True), {
        "systems/blk-pci-smmu-msix.sim.toml": Sim("""\
blk-pci-smmu.sim.toml's disk behind QEMU virt's SMMUv3, its interrupts
through MSI-X.
""", ["blk_client"], [translated(BLK_PCI)], qemu_args=SMMU_QEMU_ARGS),
    }),
    Generated("systems/net-pci-smmu-msix.xml", f"""\
systems/net-pci-smmu.xml with MSI-X.

  net_client (100) => net (150) =PPC=> pci (200) =PPC=> bus (250)
                      smmu (160) <=notifications=> bus

{MSIX_TEXT.format(who="the NIC")}
{SMMU_TEXT.format(confined="net", confined_id=1,
                  regions="net's DMA region, the rx buffers and the tx buffers")}
{SMMU_MSIX_TEXT}""", net_pci(msix=True, smmu=True), {
        "systems/net-pci-smmu-msix.sim.toml": Sim("""\
net-pci-smmu.sim.toml's virtio-net-pci behind QEMU virt's SMMUv3, its
interrupts through MSI-X.
""", ["net_client"], [translated(NET_PCI)], qemu_args=SMMU_QEMU_ARGS),
    }),
    Generated("systems/rogue-pci.xml", f"""\
The misbehaving driver (pds/drivers/rogue) bound as blk over PCI, with
no IOMMU: its device writes the disk's first sectors over the canary
PD's page, which the canary then reports changed.

{ROGUE_TEXT}
Channel ids: pci 0..3 = INTA..INTD, 32 = bus, 40 = rogue; bus 1 = pci,
8 = rogue.
""", rogue(iommu=False), {
        "systems/rogue-pci.sim.toml": Sim("""\
The rogue's device: a modern virtio-blk-pci over a disk of zeros; no
IOMMU, so whatever address the rogue names is where the device writes.
""", ["canary"], [translated(BLK_PCI)]),
    }),
    Generated("systems/rogue-pci-iommu.xml", f"""\
systems/rogue-pci.xml with a virtio-iommu in front of the PCI devices:
the rogue's device faults on the canary page, the IOMMU PD logs it, the
bus unbinds the rogue; the canary stays intact.

{ROGUE_TEXT}
The rogue (driver 0) and the iommu PD (driver 1) are the bus's
children: the bus restarts the rogue after the IOMMU caught its
device, as after any fault. The restarted rogue starts from its boot
state, is confined again and bound again, and waits for a canary that
already spoke: it does nothing more.

{IOMMU_TEXT.format(confined="the rogue", confined_id=0, iommu_id=1, iommu_bus=9, iommu_pci=41,
                   regions="its DMA region, nothing else")}""", rogue(iommu=True), {
        "systems/rogue-pci-iommu.sim.toml": Sim("""\
As rogue-pci.sim.toml, behind a virtio-iommu-pci created first, with
boot-bypass off (see blk-pci-iommu.sim.toml).
""", ["canary"], [virtio_iommu("1"), translated(BLK_PCI)]),
    }),
    Generated("systems/rogue-pci-smmu.xml", f"""\
systems/rogue-pci.xml with QEMU virt's SMMUv3 in front of the PCI
devices: the rogue's device faults on the canary page (F_TRANSLATION),
the smmu PD logs it, the bus unbinds and restarts the rogue; the canary
stays intact.

{ROGUE_TEXT}
The rogue (driver 0) is the bus's child: the bus restarts it after the
SMMU caught its device, as after any fault; restarted, it is confined
again, bound again, and waits for a canary that already spoke.

{SMMU_TEXT.format(confined="the rogue", confined_id=0, regions="its DMA region, nothing else")}""",
              rogue(iommu=False, smmu=True), {
        "systems/rogue-pci-smmu.sim.toml": Sim("""\
As rogue-pci.sim.toml, behind QEMU virt's SMMUv3 (see
blk-pci-smmu.sim.toml).
""", ["canary"], [translated(BLK_PCI)], qemu_args=SMMU_QEMU_ARGS),
    }),
    Generated("systems/timer.xml", """\
sevio timer system: the timer driver PD and three timer test clients,
each with its own deadlines at once.

  timer_client0..2 (100..102) =PPC (sDDF timer protocol)=> timer (253)

The timer owns the Arm generic timer's EL0 physical timer: its interrupt
is the physical timer PPI, INTID 30, as id 0 (Microkit 2.3.0's kernels
export the physical count and timer to EL0, not the virtual ones).
Client k is on the timer's channel 1 + k and on its own channel 0, its
end pp="true"; the timer's priority is above every client's and below
uart's, which every PD (the timer too) calls to print.
""", timer_system, {
        "systems/timer.sim.toml": Sim("""\
No devices: sim provides the generic timer itself (INTID 30 from the
host's clock). All three clients must pass.
""", ["timer_client0", "timer_client1", "timer_client2"], []),
    }),
]


# --- write / check ------------------------------------------------------------


def generate() -> Dict[str, str]:
    """Every generated file's path (under the workspace) and text."""
    out: Dict[str, str] = {}
    for generated in SYSTEMS:
        for path, text in generated.files().items():
            if path in out:
                raise ValueError(f"{path} is generated twice")
            out[path] = text
    return out


def write(files: Dict[str, str], root: str) -> None:
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)


def generated_kind(name: str) -> bool:
    """A file in systems/ that this script must generate."""
    return name.endswith(".xml") or name.endswith(".sim.toml")


def check(files: Dict[str, str], root: str) -> List[str]:
    """What under `root` differs from `files`, one problem a line."""
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        write(files, tmp)
        for path in sorted(files):
            committed = os.path.join(root, path)
            if not os.path.exists(committed):
                problems.append(f"{path}: missing")
            elif not filecmp.cmp(committed, os.path.join(tmp, path), shallow=False):
                problems.append(f"{path}: differs from what {SCRIPT} generates")
    systems_dir = os.path.join(root, "systems")
    if os.path.isdir(systems_dir):
        for name in sorted(os.listdir(systems_dir)):
            path = f"systems/{name}"
            if generated_kind(name) and path not in files:
                problems.append(f"{path}: not generated by {SCRIPT} (add the system there)")
    return problems


def git_files(rev: str) -> Dict[str, str]:
    """system.xml and every system or sim description in systems/ at git
    revision `rev` of the workspace, by path."""
    listed = subprocess.run(["git", "ls-tree", "--name-only", rev, "system.xml", "system.sim.toml", "systems/"],
                            cwd=WORKSPACE, capture_output=True, text=True)
    if listed.returncode != 0:
        raise ValueError(f"git revision '{rev}': {listed.stderr.strip()}")
    out = {}
    for path in listed.stdout.split():
        if generated_kind(os.path.basename(path)):
            out[path] = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=WORKSPACE, capture_output=True,
                                       text=True, check=True).stdout
    return out


def toml_differences(a_text: str, b_text: str) -> List[str]:
    """The top-level keys and devices (by place) only one of two sim
    descriptions has, or has otherwise: `- ` for a's, `+ ` for b's."""
    import tomllib  # Python 3.11: sdfgen's venv has it; only compare needs it
    a, b = tomllib.loads(a_text), tomllib.loads(b_text)
    out = []
    for key in sorted(set(a) | set(b)):
        if key == "device":
            continue
        if a.get(key) != b.get(key):
            out += [f"- {key} = {a[key]!r}"] if key in a else []
            out += [f"+ {key} = {b[key]!r}"] if key in b else []
    a_devices, b_devices = a.get("device", []), b.get("device", [])
    for k in range(max(len(a_devices), len(b_devices))):
        a_dev = a_devices[k] if k < len(a_devices) else None
        b_dev = b_devices[k] if k < len(b_devices) else None
        if a_dev != b_dev:
            out += [f"- device {k}: {a_dev!r}"] if a_dev is not None else []
            out += [f"+ device {k}: {b_dev!r}"] if b_dev is not None else []
    return out


def compare(files: Dict[str, str], theirs: Dict[str, str]) -> List[str]:
    """How `files` (generated) differ in meaning from `theirs` (another
    revision's), one line each; `- ` facts are theirs alone, `+ ` ours."""
    out = []
    for path in sorted(set(files) | set(theirs)):
        if path not in files:
            out.append(f"{path}: theirs only (not generated here)")
        elif path not in theirs:
            out.append(f"{path}: generated here only")
        else:
            differ = sdf_semantics.differences if path.endswith(".xml") else toml_differences
            out += [f"{path}: {line}" for line in differ(theirs[path], files[path])]
    return out


def main(argv: List[str]) -> int:
    if len(argv) in (3, 4) and argv[1] == "compare":
        files = generate()
        lines = compare(files, git_files(argv[2]))
        if len(argv) == 4:
            known = set(compare(files, git_files(argv[3])))
            lines = [line for line in lines if line not in known]
        print("\n".join(lines) if lines else f"systems: every file means what it means at {argv[2]}")
        return 1 if lines else 0
    if len(argv) not in (2, 3) or argv[1] not in ("write", "check"):
        print(f"usage: {SCRIPT} write|check [ROOT] | compare REV [BASE]", file=sys.stderr)
        return 2
    root = argv[2] if len(argv) == 3 else WORKSPACE
    files = generate()
    if argv[1] == "write":
        write(files, root)
        print(f"systems: wrote {len(files)} files under {root}")
        return 0
    problems = check(files, root)
    for problem in problems:
        print(f"systems: {problem}", file=sys.stderr)
    if problems:
        print("systems: run `make systems` to regenerate them (and edit tools/sdfgen/systems.py, not the files)",
              file=sys.stderr)
        return 1
    print(f"systems: all {len(files)} generated files are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
