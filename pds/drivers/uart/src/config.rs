//! The uart PD's variables (see the crate README). Its channels are the
//! other PDs' [`sevio_runtime::line::LOG_CHANNEL`] ends; it answers a call
//! on any of them the same way.

/// Size of the PL011's register page (`pl011` in system.xml).
pub const REGS_SIZE: usize = 0x1000;

sevio_runtime::setvar!(
    /// vaddr of the PL011's registers (`pl011`, mapped uncached).
    pub fn regs_vaddr() = "uart_regs_vaddr"
);
