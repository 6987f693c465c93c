"""Tests of sevio_sdfgen: systems built with sdfgen, sDDF's virtualisers and
clients, and sevio's PDs; each rendered system must pass sevio-sdf's check
(the microkit tool's rules), and the wiring and sdfgen's config files must
say what sevio's conventions say."""

import os
import struct
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ET

from sdfgen import Sddf, SystemDescription

import sevio_sdfgen
from sevio_sdfgen import Sevio

PD = SystemDescription.ProtectionDomain
WORKSPACE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# sDDF's qemu_virt_aarch64 board: physical memory sdfgen allocates below.
PADDR_TOP = 0x6000_0000

_EMPTY_SDDF = tempfile.TemporaryDirectory()
Sddf(_EMPTY_SDDF.name)  # device-less subsystems read nothing from it


def sdf_check(xml: str):
    """(exit code, output) of `sevio-sdf check` on `xml`."""
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(xml)
    try:
        cargo = os.environ.get("CARGO", "cargo")
        run = subprocess.run([cargo, "run", "-q", "-p", "sevio-sdf", "--", "check", f.name], cwd=WORKSPACE,
                             capture_output=True, text=True)
        return run.returncode, run.stdout + run.stderr
    finally:
        os.unlink(f.name)


class System:
    """A rendered system, for lookups."""

    def __init__(self, xml: str):
        self.root = ET.fromstring(xml)
        self.pds = {pd.get("name"): pd for pd in self.root.iter("protection_domain")}

    def priority(self, pd: str) -> int:
        return int(self.pds[pd].get("priority"))

    def channel(self, a: str, b: str):
        """(a's end, b's end) of the channel between a and b."""
        for ch in self.root.iter("channel"):
            ends = {e.get("pd"): e for e in ch.iter("end")}
            if set(ends) == {a, b}:
                return ends[a], ends[b]
        raise AssertionError(f"no channel {a} <-> {b}")

    def maps(self, pd: str):
        return {m.get("mr"): m for m in self.pds[pd].findall("map")}

    def setvars(self, pd: str):
        return {s.get("symbol"): s.get("region_paddr") for s in self.pds[pd].findall("setvar")}

    def children(self, pd: str):
        return {c.get("name"): c.get("id") for c in self.pds[pd].findall("protection_domain")}

    def region(self, name: str):
        return next(mr for mr in self.root.iter("memory_region") if mr.get("name") == name)


def id_of(end) -> int:
    return int(end.get("id"))


class BlkWithSddfVirtualiser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sdf = SystemDescription(SystemDescription.Arch.AARCH64, PADDR_TOP)
        sevio = Sevio(sdf)
        driver = sevio.add_driver("blk")
        virt = PD("blk_virt", "blk_virt.elf", priority=199, stack_size=0x2000)
        client = PD("client", "client.elf", priority=1)
        blk = Sddf.Blk(sdf, None, driver, virt)
        blk.add_client(client, partition=0)
        sdf.add_pd(virt)
        sdf.add_pd(client)
        cls.out = tempfile.TemporaryDirectory()
        assert blk.connect() and blk.serialise_config(cls.out.name)
        cls.xml = sevio.render()
        cls.system = System(cls.xml)
        cls.sevio = sevio

    def test_the_microkit_rules_accept_it(self):
        code, out = sdf_check(self.xml)
        self.assertEqual(code, 0, out)

    def test_the_checker_is_not_vacuous(self):
        # The same system with the bus below its transport: the transport's
        # PPC to the bus would go downwards, which Microkit refuses.
        broken = self.xml.replace('<protection_domain name="bus" priority="254"',
                                  '<protection_domain name="bus" priority="100"')
        self.assertNotEqual(broken, self.xml)
        code, out = sdf_check(broken)
        self.assertNotEqual(code, 0)
        self.assertIn("PPC from 'mmio' (priority 252) to 'bus' (priority 100)", out)

    def test_priorities_work_with_sdfgen_defaults(self):
        s = self.system
        # The virtualiser busy-waits for the driver: the driver must run.
        self.assertGreater(s.priority("blk"), s.priority("blk_virt"))
        # PPC goes upwards: driver -> transport -> bus.
        self.assertLess(s.priority("blk"), s.priority("mmio"))
        self.assertLess(s.priority("mmio"), s.priority("bus"))

    def test_sevio_wiring(self):
        s = self.system
        self.assertEqual(s.children("bus"), {"blk": "0"})
        drv, bus = s.channel("blk", "bus")
        self.assertEqual((id_of(drv), drv.get("pp"), id_of(bus)), (0, "true", 8))
        drv, mmio = s.channel("blk", "mmio")
        self.assertEqual((id_of(drv), drv.get("pp"), id_of(mmio)), (1, "true", 40))
        mmio, bus = s.channel("mmio", "bus")
        self.assertEqual((id_of(mmio), mmio.get("pp"), id_of(bus)), (32, "true", 0))
        irqs = [(int(i.get("irq")), int(i.get("id"))) for i in s.pds["mmio"].findall("irq")]
        self.assertEqual(irqs, [(48 + slot, slot) for slot in range(32)])
        dma = s.region("blk_dma")
        self.assertEqual((int(dma.get("size"), 16), int(dma.get("phys_addr"), 16)), (0x40000, 0x4800_0000))
        self.assertEqual(s.setvars("mmio"), {"driver0_dma_paddr": "blk_dma"})
        self.assertEqual(s.setvars("blk"), {"blk_virtqueue_paddr": "blk_dma"})
        self.assertEqual(s.maps("mmio")["blk_doorbell"].get("setvar_vaddr"), "driver0_doorbell_vaddr")
        self.assertEqual(s.maps("blk")["blk_doorbell"].get("setvar_vaddr"), "blk_doorbell_vaddr")
        # The driver checks its DMA region's size against the transport's window.
        self.assertEqual(s.maps("blk")["blk_dma"].get("setvar_size"), "blk_virtqueue_size")
        self.assertEqual(s.maps("bus")["bus_bindings"].get("perms"), "rw")
        for pd in ("blk", "mmio"):
            self.assertEqual(s.maps(pd)["bus_bindings"].get("perms"), "r")

    def test_sdfgen_config_names_the_driver_side_of_the_wiring(self):
        with open(os.path.join(self.out.name, "blk_driver.data"), "rb") as f:
            data = f.read()
        self.assertEqual(len(data), 64)
        self.assertEqual(data[:5], b"sDDF\x02")
        storage, _, req, _, resp, _, num_buffers, channel = struct.unpack_from("<6QHB", data, 8)
        drv, _ = self.system.channel("blk", "blk_virt")
        self.assertEqual(channel, id_of(drv))
        self.assertNotIn(channel, (0, 1))  # sevio's bus and transport ends
        vaddrs = {int(m.get("vaddr"), 16): mr for mr, m in self.system.maps("blk").items()}
        self.assertEqual([vaddrs.get(v) for v in (storage, req, resp)],
                         ["blk_driver_storage_info", "blk_driver_request", "blk_driver_response"])
        self.assertGreater(num_buffers, 0)

    def test_data_regions_are_the_virtualisers_buffers(self):
        s = self.system
        regions = self.sevio.data_regions(self.xml)["blk"]
        want = [(int(s.region(name).get("phys_addr"), 16), int(s.region(name).get("size"), 16))
                for name in ("blk_driver_data", "blk_client_client_data")]
        self.assertEqual(sorted(regions), sorted(want))
        self.sevio.serialise_data_regions(self.xml, self.out.name)
        with open(os.path.join(self.out.name, "blk_data_regions.data"), "rb") as f:
            data = f.read()
        self.assertEqual((len(data), data[:5], data[5], data[6]), (1608, b"sDDF\x01", 2, 0))
        listed = [struct.unpack_from("<3Q", data, 8 + 24 * k) for k in range(2)]
        self.assertEqual(sorted((io, size) for vaddr, size, io in listed), sorted(want))
        self.assertTrue(all(vaddr == 0 for vaddr, _, _ in listed))
        self.assertEqual(data[8 + 24 * 2:], bytes(len(data) - 8 - 48), "the rest is zero")


class NetAndConsoleOnTwoTransports(unittest.TestCase):
    def test_drivers_on_mmio_and_pci(self):
        sdf = SystemDescription(SystemDescription.Arch.AARCH64, PADDR_TOP)
        sevio = Sevio(sdf)
        net = sevio.add_driver("net")
        console = sevio.add_driver("console", transport="pci")
        virt_rx = PD("net_virt_rx", "network_virt_rx.elf", priority=99)
        virt_tx = PD("net_virt_tx", "network_virt_tx.elf", priority=100)
        serial_virt_tx = PD("serial_virt_tx", "serial_virt_tx.elf", priority=199)
        client = PD("client", "client.elf", priority=1)
        copier = PD("client_net_copier", "network_copy.elf", priority=98)
        net_system = Sddf.Net(sdf, None, net, virt_tx, virt_rx)
        net_system.add_client_with_copier(client, copier)
        serial = Sddf.Serial(sdf, None, console, serial_virt_tx, enable_color=False)
        serial.add_client(client)
        for pd in (virt_rx, virt_tx, serial_virt_tx, client, copier):
            sdf.add_pd(pd)
        out = tempfile.TemporaryDirectory()
        for subsystem in (net_system, serial):
            self.assertTrue(subsystem.connect() and subsystem.serialise_config(out.name))
        xml = sevio.render()
        code, text = sdf_check(xml)
        self.assertEqual(code, 0, text)

        s = System(xml)
        self.assertEqual(s.children("bus"), {"net": "0", "console": "1"})
        self.assertEqual([id_of(e) for e in s.channel("console", "bus")], [0, 9])
        self.assertEqual([id_of(e) for e in s.channel("console", "pci")], [1, 41])
        self.assertEqual([id_of(e) for e in s.channel("pci", "bus")], [32, 1])
        self.assertEqual([id_of(e) for e in s.channel("net", "mmio")], [1, 40])
        self.assertEqual(s.setvars("pci"), {"driver1_dma_paddr": "console_dma"})
        self.assertEqual(s.maps("pci")["console_doorbell"].get("vaddr"), "0x2101000")
        pci_irqs = [(i.get("irq"), i.get("id"), i.get("trigger")) for i in s.pds["pci"].findall("irq")]
        self.assertEqual(pci_irqs, [(str(35 + p), str(p), "level") for p in range(4)])
        self.assertEqual(s.maps("net")["net_dma"].get("setvar_size"), "dma_size")
        self.assertEqual(s.pds["net"].get("stack_size"), "0x40000")
        self.assertEqual(int(s.region("console_dma").get("phys_addr"), 16), 0x4804_0000)

        with open(os.path.join(out.name, "net_driver.data"), "rb") as f:
            data = f.read()
        self.assertEqual(data[:5], b"sDDF\x05")
        rx_id, tx_id = data[8 + 34], data[48 + 34]
        self.assertEqual(rx_id, id_of(s.channel("net", "net_virt_rx")[0]))
        self.assertEqual(tx_id, id_of(s.channel("net", "net_virt_tx")[0]))
        self.assertNotEqual(rx_id, tx_id, "a channel for each virtualiser")
        # The memory the net driver may hand its device: what its
        # virtualisers map at a fixed physical address, the rx buffers
        # (virt_rx) and the client's tx data (virt_tx), nothing else.
        fixed = {name: (int(mr.get("phys_addr"), 16), int(mr.get("size"), 16))
                 for name, mr in ((mr.get("name"), mr) for mr in s.root.iter("memory_region"))
                 if mr.get("phys_addr") is not None}
        want = sorted(region for name, region in fixed.items()
                      if name in s.maps("net_virt_rx") or name in s.maps("net_virt_tx"))
        self.assertEqual(len(want), 2, fixed)
        self.assertEqual(sorted(sevio.data_regions(xml)["net"]), want)
        with open(os.path.join(out.name, "serial_driver_config.data"), "rb") as f:
            data = f.read()
        self.assertEqual((data[:5], data[48 + 32]), (b"sDDF\x03", id_of(s.channel("console", "serial_virt_tx")[0])))


class ConsoleInSddfSerialExample(unittest.TestCase):
    """sDDF 0.7.0's examples/serial (meta.py) with sevio's console as its
    driver: rx and tx virtualisers at 199, two clients, colour."""

    def test_driver_config_names_both_virtualisers_on_channels_of_their_own(self):
        sdf = SystemDescription(SystemDescription.Arch.AARCH64, PADDR_TOP)
        sevio = Sevio(sdf)
        console = sevio.add_driver("console")
        virt_tx = PD("serial_virt_tx", "serial_virt_tx.elf", priority=199)
        virt_rx = PD("serial_virt_rx", "serial_virt_rx.elf", priority=199)
        clients = [PD(f"client{i}", f"client{i}.elf", priority=1) for i in range(2)]
        serial = Sddf.Serial(sdf, None, console, virt_tx, virt_rx=virt_rx, enable_color=True)
        for client in clients:
            serial.add_client(client)
        for pd in [virt_tx, virt_rx] + clients:
            sdf.add_pd(pd)
        out = tempfile.TemporaryDirectory()
        self.assertTrue(serial.connect() and serial.serialise_config(out.name))
        xml = sevio.render()
        code, text = sdf_check(xml)
        self.assertEqual(code, 0, text)

        s = System(xml)
        # In debug builds sDDF's tx virtualiser busy-waits in init until the
        # driver has sent its "Begin input": the driver must be above it.
        self.assertGreater(s.priority("console"), s.priority("serial_virt_tx"))
        with open(os.path.join(out.name, "serial_driver_config.data"), "rb") as f:
            data = f.read()
        self.assertEqual((len(data), data[:5], data[96]), (104, b"sDDF\x03", 1))  # rx_enabled
        rx_queue, _, rx_data, rx_size, rx_id = struct.unpack_from("<4QB", data, 8)
        tx_queue, _, tx_data, tx_size, tx_id = struct.unpack_from("<4QB", data, 48)
        self.assertEqual(rx_id, id_of(s.channel("console", "serial_virt_rx")[0]))
        self.assertEqual(tx_id, id_of(s.channel("console", "serial_virt_tx")[0]))
        self.assertEqual(len({rx_id, tx_id, 0, 1, 61}), 5, "not the bus's, the transport's or the log's")
        vaddrs = {int(m.get("vaddr"), 16): m for m in s.maps("console").values()}
        for vaddr, size in ((rx_data, rx_size), (tx_data, tx_size)):
            self.assertEqual(int(s.region(vaddrs[vaddr].get("mr")).get("size"), 16), size)
            self.assertEqual(size & (size - 1), 0, "the driver's queues need a power-of-two capacity")
        self.assertIn(rx_queue, vaddrs)
        self.assertIn(tx_queue, vaddrs)


class Refusals(unittest.TestCase):
    def setUp(self):
        self.sdf = SystemDescription(SystemDescription.Arch.AARCH64, PADDR_TOP)

    def test_unknown_class_and_transport(self):
        sevio = Sevio(self.sdf)
        with self.assertRaisesRegex(ValueError, "unknown device class 'floppy'"):
            sevio.add_driver("floppy")
        with self.assertRaisesRegex(ValueError, "unknown transport 'isa'"):
            sevio.add_driver("blk", transport="isa")

    def test_more_drivers_than_a_transport_serves(self):
        sevio = Sevio(self.sdf)
        for _ in range(sevio_sdfgen.MAX_DRIVERS):
            sevio.add_driver("rng")
        with self.assertRaisesRegex(ValueError, "at most 8 drivers"):
            sevio.add_driver("rng")

    def test_priorities_that_would_break_ppc(self):
        with self.assertRaisesRegex(ValueError, "bus must be above"):
            Sevio(self.sdf, bus_priority=252, transport_priority=252)
        with self.assertRaisesRegex(ValueError, "below its transport"):
            Sevio(self.sdf).add_driver("blk", priority=252)

    def test_unaligned_dma_region(self):
        with self.assertRaisesRegex(ValueError, "not 0x40000-aligned"):
            Sevio(self.sdf).add_driver("blk", dma_paddr=0x4800_1000)

    def test_restart_policy_out_of_range(self):
        with tempfile.TemporaryDirectory() as out:
            good = dict(max_faults=3, window_ms=2000, first_backoff_us=500, max_backoff_us=4000)
            for field, value, said in [
                ("max_faults", 0, "max_faults is 0, must be 1..=1000"),
                ("window_ms", 86_400_001, "window_ms is 86400001, must be 1..=86400000"),
                ("max_backoff_us", 100_001, "max_backoff_us is 100001, must be 0..=100000"),
                ("first_backoff_us", 4001, "first_backoff_us is 4001, must be 0..=4000"),
                ("max_faults", 2.5, "max_faults is 2.5, must be"),
            ]:
                with self.assertRaisesRegex(ValueError, "restart policy: " + said.replace(".", r"\.")):
                    Sevio.serialise_restart_policy(out, **{**good, field: value})
            self.assertEqual(os.listdir(out), [], "nothing written for a refused policy")


class RestartPolicy(unittest.TestCase):
    def test_the_section_bytes(self):
        with tempfile.TemporaryDirectory() as out:
            path = Sevio.serialise_restart_policy(out, max_faults=3, window_ms=2000, first_backoff_us=500,
                                                  max_backoff_us=4000)
            with open(path, "rb") as f:
                data = f.read()
        # pds/bus/src/restart.rs: magic, then five little-endian u32s.
        self.assertEqual(data, b"SVRP" + bytes([3, 0, 0, 0, 0xd0, 0x07, 0, 0, 0xf4, 1, 0, 0, 0xa0, 0x0f, 0, 0,
                                                0, 0, 0, 0]))


if __name__ == "__main__":
    unittest.main()
