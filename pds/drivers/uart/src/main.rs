//! The uart PD: a thin shell around [`LogServer`].
//!
//! At init it enables the PL011 system.xml maps at `uart_regs_vaddr` and
//! says so on it; then each protected procedure call is one line to
//! write. It is passive and the highest priority in the system, so a call
//! runs to its end before any other PD runs.
#![no_std]
#![cfg_attr(target_os = "none", no_main)]

mod config;

use core::fmt::Write;
use sevio_driver_uart::{LogServer, Pl011};
use sevio_runtime::line::{LineError, MAX_LINE_REGISTERS};
use sevio_runtime::mmio::DeviceRegion;
use sevio_runtime::print::LineWriter;
use sevio_runtime::{Channel, Handler, MessageInfo, PpcMessage, debug_println, pd_name};

sevio_runtime::protection_domain!(init);

fn init() -> UartPd {
    let vaddr = config::regs_vaddr();
    if vaddr == 0 {
        // Callers then print through the kernel's debug console.
        debug_println!("uart_regs_vaddr is not set in system.xml: no UART; lines go to the debug console");
        return UartPd { server: LogServer::new(None) };
    }
    // SAFETY: uart_regs_vaddr is the <map> of the PL011's register page in
    // system.xml (uncached device memory; sim forwards it to QEMU's
    // PL011), REGS_SIZE long, mapped for the PD's whole life and reached
    // only through this DeviceRegion.
    let regs = unsafe { DeviceRegion::new(vaddr as usize, config::REGS_SIZE) };
    let uart = Pl011::new(regs);
    match uart.enable() {
        Ok(()) => {
            let mut server = LogServer::new(Some(uart));
            let mut log = LineWriter::new(pd_name(), &mut server);
            let _ = write!(log, "PL011 enabled (115200 8N1); every PD's lines follow, whole");
            drop(log);
            UartPd { server }
        }
        Err(e) => {
            debug_println!("the PL011 did not get ready ({e:?}): no UART; lines go to the debug console");
            UartPd { server: LogServer::new(None) }
        }
    }
}

struct UartPd {
    server: LogServer<DeviceRegion>,
}

impl Handler for UartPd {
    fn protected(&mut self, _caller: Channel, info: MessageInfo) -> MessageInfo {
        // The caller's message, copied out by the runtime's one PPC
        // marshalling rule: more registers than a line can need is refused
        // before anything is read.
        match PpcMessage::<MAX_LINE_REGISTERS>::receive(info) {
            Ok(line) => self.server.serve(info, |i| line.words().get(i).copied().unwrap_or(0)),
            Err(_) => {
                let registers = info.length();
                MessageInfo::new(LineError::WrongRegisterCount { bytes: info.label() as usize, registers }.code(), 0)
            }
        }
    }
}
