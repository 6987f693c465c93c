#!/usr/bin/env python3
"""Systems shaped like sDDF 0.7.0's own examples (blk, serial, echo_server),
built with the installed sdfgen, for the sDDF config tests.

    sddf_examples.py OUTPUT_DIR

writes OUTPUT_DIR/<example>/<example>.system and every config file sdfgen
serialises for it. The devices are given as None (no device tree, no sDDF
source tree needed), as sevio's own systems do, so the drivers'
device_resources come out empty; the driver, virtualiser and client
wiring is sdfgen's own. Priorities and names follow sDDF's examples.
"""

import os
import sys
import tempfile

from sdfgen import Sddf, SystemDescription

PD = SystemDescription.ProtectionDomain
# sDDF's board table: qemu_virt_aarch64's top of physical memory.
PADDR_TOP = 0x6000_0000


def new_system():
    return SystemDescription(SystemDescription.Arch.AARCH64, PADDR_TOP)


def finish(sdf, subsystems, pds, out_dir, name):
    for pd in pds:
        sdf.add_pd(pd)
    os.makedirs(out_dir, exist_ok=True)
    for subsystem in subsystems:
        assert subsystem.connect(), f"{name}: connect failed"
        assert subsystem.serialise_config(out_dir), f"{name}: serialise failed"
    with open(os.path.join(out_dir, f"{name}.system"), "w") as f:
        f.write(sdf.render())


def blk(out_dir):
    """examples/blk: serial for output, a blk driver + virtualiser + client,
    and the driver as a timer client (BLK_NEED_TIMER)."""
    sdf = new_system()
    serial_driver = PD("serial_driver", "serial_driver.elf", priority=200)
    serial_virt_tx = PD("serial_virt_tx", "serial_virt_tx.elf", priority=199)
    serial = Sddf.Serial(sdf, None, serial_driver, serial_virt_tx, enable_color=False)
    blk_driver = PD("blk_driver", "blk_driver.elf", priority=200, stack_size=0x2000)
    blk_virt = PD("blk_virt", "blk_virt.elf", priority=199, stack_size=0x2000)
    client = PD("client", "client.elf", priority=1)
    timer_driver = PD("timer_driver", "timer_driver.elf", priority=201)
    timer = Sddf.Timer(sdf, None, timer_driver)
    timer.add_client(blk_driver)
    blk = Sddf.Blk(sdf, None, blk_driver, blk_virt)
    blk.add_client(client, partition=0)
    serial.add_client(client)
    pds = [serial_driver, serial_virt_tx, blk_driver, blk_virt, client, timer_driver]
    finish(sdf, [blk, serial, timer], pds, out_dir, "blk")


def serial(out_dir):
    """examples/serial: rx and tx virtualisers, two clients."""
    sdf = new_system()
    driver = PD("serial_driver", "serial_driver.elf", priority=200)
    virt_tx = PD("serial_virt_tx", "serial_virt_tx.elf", priority=199)
    virt_rx = PD("serial_virt_rx", "serial_virt_rx.elf", priority=199)
    clients = [PD(f"client{i}", f"client{i}.elf", priority=1) for i in range(2)]
    serial = Sddf.Serial(sdf, None, driver, virt_tx, virt_rx=virt_rx, enable_color=True, baud_rate=115200)
    for c in clients:
        serial.add_client(c)
    finish(sdf, [serial], [driver, virt_tx, virt_rx, *clients], out_dir, "serial")


def echo_server(out_dir):
    """examples/echo_server: net driver + rx/tx virtualisers, two clients
    with copiers, timer clients, serial tx."""
    sdf = new_system()
    timer_driver = PD("timer_driver", "timer_driver.elf", priority=101)
    timer = Sddf.Timer(sdf, None, timer_driver)
    uart_driver = PD("serial_driver", "serial_driver.elf", priority=100)
    serial_virt_tx = PD("serial_virt_tx", "serial_virt_tx.elf", priority=99)
    serial = Sddf.Serial(sdf, None, uart_driver, serial_virt_tx, enable_color=False)
    ethernet_driver = PD("ethernet_driver", "eth_driver.elf", priority=101, budget=100, period=400)
    net_virt_tx = PD("net_virt_tx", "network_virt_tx.elf", priority=100, budget=20000)
    net_virt_rx = PD("net_virt_rx", "network_virt_rx.elf", priority=99)
    net = Sddf.Net(sdf, None, ethernet_driver, net_virt_tx, net_virt_rx)
    pds = [timer_driver, uart_driver, serial_virt_tx, ethernet_driver, net_virt_tx, net_virt_rx]
    for i in range(2):
        client = PD(f"client{i}", f"echo{i}.elf", priority=97, budget=20000)
        copier = PD(f"client{i}_net_copier", "network_copy.elf", priority=98, budget=20000)
        serial.add_client(client)
        timer.add_client(client)
        net.add_client_with_copier(client, copier)
        pds += [client, copier]
    finish(sdf, [net, serial, timer], pds, out_dir, "echo_server")


EXAMPLES = {"blk": blk, "serial": serial, "echo_server": echo_server}


def main(argv):
    if len(argv) != 2:
        sys.exit(f"usage: {argv[0]} OUTPUT_DIR")
    # Device-less subsystems read nothing from sDDF's tree, but sdfgen
    # wants one: an empty directory will do.
    with tempfile.TemporaryDirectory() as empty:
        Sddf(empty)
        for name, build in EXAMPLES.items():
            build(os.path.join(argv[1], name))


if __name__ == "__main__":
    main(sys.argv)
