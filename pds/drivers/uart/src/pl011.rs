//! The ARM PrimeCell PL011 UART, transmit side, polled (register map and
//! programming sequence from the PL011 Technical Reference Manual, ARM DDI
//! 0183; QEMU arm virt has one at 0x0900_0000, its UARTCLK is 24 MHz).
//!
//! [`Pl011::enable`] follows the TRM's sequence for reprogramming the
//! control register: disable, wait for the current character, flush the
//! FIFO (FEN = 0), program, enable. [`Pl011::write_byte`] waits while the
//! transmit FIFO is full (FR.TXFF), then writes DR. Every wait is bounded
//! by [`POLL_LIMIT`] reads: a device that never gets ready is a
//! [`Pl011Error`], not a hang of the PD (and of every PD calling it).

use sevio_runtime::mmio::DeviceRegion;

/// 32-bit access to the UART's registers (a [`DeviceRegion`] on the
/// device; a fake in tests).
pub trait UartRegisters {
    /// Read the register at byte `offset`.
    fn read32(&self, offset: usize) -> u32;
    /// Write the register at byte `offset`.
    fn write32(&self, offset: usize, value: u32);
}

impl UartRegisters for DeviceRegion {
    fn read32(&self, offset: usize) -> u32 {
        DeviceRegion::read32(self, offset)
    }
    fn write32(&self, offset: usize, value: u32) {
        DeviceRegion::write32(self, offset, value)
    }
}

/// Register offsets.
pub mod reg {
    /// Data register: a write queues one character.
    pub const DR: usize = 0x000;
    /// Flag register.
    pub const FR: usize = 0x018;
    /// Integer baud rate divisor.
    pub const IBRD: usize = 0x024;
    /// Fractional baud rate divisor (64ths).
    pub const FBRD: usize = 0x028;
    /// Line control; writing it also latches IBRD and FBRD.
    pub const LCR_H: usize = 0x02c;
    /// Control register.
    pub const CR: usize = 0x030;
    /// Interrupt mask set/clear (1 = enabled).
    pub const IMSC: usize = 0x038;
    /// Interrupt clear.
    pub const ICR: usize = 0x044;
}

/// FR: the UART is busy transmitting.
pub const FR_BUSY: u32 = 1 << 3;
/// FR: the transmit FIFO is full.
pub const FR_TXFF: u32 = 1 << 5;
/// LCR_H: FIFOs enabled.
pub const LCR_H_FEN: u32 = 1 << 4;
/// LCR_H: 8-bit words (WLEN = 0b11); no parity, one stop bit.
pub const LCR_H_WLEN_8: u32 = 0b11 << 5;
/// CR: UART enabled.
pub const CR_UARTEN: u32 = 1 << 0;
/// CR: transmit enabled.
pub const CR_TXE: u32 = 1 << 8;
/// ICR: every interrupt source.
pub const ICR_ALL: u32 = 0x7ff;

/// 115200 baud from QEMU virt's 24 MHz UARTCLK: 24e6 / (16 * 115200) =
/// 13.0208, i.e. IBRD 13 and FBRD round(0.0208 * 64) = 1. QEMU ignores
/// the rate; a real PL011 with this clock would run at it.
pub const IBRD_115200: u32 = 13;
/// See [`IBRD_115200`].
pub const FBRD_115200: u32 = 1;

/// How many flag-register reads one wait may take (far more than a
/// character at 115200 baud needs on any CPU this runs on).
pub const POLL_LIMIT: u32 = 100_000;

/// The UART did not get ready.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Pl011Error {
    /// FR.BUSY stayed set for [`POLL_LIMIT`] reads.
    StayedBusy,
    /// FR.TXFF stayed set for [`POLL_LIMIT`] reads.
    TxFifoStayedFull,
}

/// A PL011 used for output only; receive and interrupts stay off.
pub struct Pl011<R> {
    regs: R,
}

impl<R: UartRegisters> Pl011<R> {
    /// The UART behind `regs` (not touched until [`Pl011::enable`]).
    pub fn new(regs: R) -> Self {
        Pl011 { regs }
    }

    /// The registers (tests look at a fake's).
    pub fn registers(&self) -> &R {
        &self.regs
    }

    fn wait_while(&self, flag: u32, error: Pl011Error) -> Result<(), Pl011Error> {
        for _ in 0..POLL_LIMIT {
            if self.regs.read32(reg::FR) & flag == 0 {
                return Ok(());
            }
            core::hint::spin_loop();
        }
        Err(error)
    }

    /// Program 115200 8N1 with FIFOs, all interrupts masked and cleared,
    /// and enable the transmitter (CR = UARTEN | TXE).
    pub fn enable(&self) -> Result<(), Pl011Error> {
        self.regs.write32(reg::CR, 0);
        self.wait_while(FR_BUSY, Pl011Error::StayedBusy)?;
        self.regs.write32(reg::LCR_H, 0);
        self.regs.write32(reg::IMSC, 0);
        self.regs.write32(reg::ICR, ICR_ALL);
        self.regs.write32(reg::IBRD, IBRD_115200);
        self.regs.write32(reg::FBRD, FBRD_115200);
        self.regs.write32(reg::LCR_H, LCR_H_WLEN_8 | LCR_H_FEN);
        self.regs.write32(reg::CR, CR_UARTEN | CR_TXE);
        Ok(())
    }

    /// Queue one byte once the transmit FIFO has room.
    pub fn write_byte(&self, byte: u8) -> Result<(), Pl011Error> {
        self.wait_while(FR_TXFF, Pl011Error::TxFifoStayedFull)?;
        self.regs.write32(reg::DR, u32::from(byte));
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod fake {
    use super::*;
    use core::cell::{Cell, RefCell};
    use std::vec::Vec;

    /// A PL011 that records register writes and transmitted bytes, with a
    /// transmit FIFO reported full for the next `full_reads` FR reads
    /// (`u32::MAX`: for ever).
    #[derive(Default)]
    pub struct FakeUart {
        pub writes: RefCell<Vec<(usize, u32)>>,
        pub sent: RefCell<Vec<u8>>,
        pub full_reads: Cell<u32>,
        pub busy: Cell<bool>,
        pub fr_reads: Cell<u32>,
    }

    impl UartRegisters for &FakeUart {
        fn read32(&self, offset: usize) -> u32 {
            assert_eq!(offset, reg::FR, "only FR is read");
            self.fr_reads.set(self.fr_reads.get() + 1);
            let full = self.full_reads.get();
            let mut fr = if self.busy.get() { FR_BUSY } else { 0 };
            if full > 0 {
                if full != u32::MAX {
                    self.full_reads.set(full - 1);
                }
                fr |= FR_TXFF;
            }
            fr
        }
        fn write32(&self, offset: usize, value: u32) {
            if offset == reg::DR {
                assert_eq!(self.full_reads.get(), 0, "DR written while TXFF");
                self.sent.borrow_mut().push(value as u8);
            } else {
                self.writes.borrow_mut().push((offset, value));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeUart;
    use super::*;

    #[test]
    fn enable_disables_first_programs_8n1_with_fifos_and_enables_tx_last() {
        let fake = FakeUart::default();
        Pl011::new(&fake).enable().unwrap();
        let writes = fake.writes.borrow();
        assert_eq!(writes.first(), Some(&(reg::CR, 0)));
        assert_eq!(writes.last(), Some(&(reg::CR, CR_UARTEN | CR_TXE)));
        let lcr_h: std::vec::Vec<u32> = writes.iter().filter(|(o, _)| *o == reg::LCR_H).map(|(_, v)| *v).collect();
        assert_eq!(lcr_h, [0, LCR_H_WLEN_8 | LCR_H_FEN], "FIFO flushed, then 8N1 with FIFOs");
        let at = |o: usize| writes.iter().position(|(w, _)| *w == o).unwrap();
        assert!(
            at(reg::IBRD) < writes.len() - 2 && at(reg::FBRD) < writes.len() - 2,
            "divisors before the LCR_H that latches them"
        );
        assert!(writes.contains(&(reg::IMSC, 0)));
    }

    #[test]
    fn a_uart_that_stays_busy_is_an_error_and_is_left_disabled() {
        let fake = FakeUart::default();
        fake.busy.set(true);
        assert_eq!(Pl011::new(&fake).enable(), Err(Pl011Error::StayedBusy));
        assert_eq!(fake.fr_reads.get(), POLL_LIMIT);
        assert_eq!(*fake.writes.borrow(), [(reg::CR, 0)]);
    }

    #[test]
    fn write_byte_waits_for_room_in_the_fifo() {
        let fake = FakeUart::default();
        fake.full_reads.set(3);
        Pl011::new(&fake).write_byte(b'x').unwrap();
        assert_eq!(*fake.sent.borrow(), b"x");
        assert_eq!(fake.fr_reads.get(), 4);
    }

    #[test]
    fn a_fifo_that_stays_full_is_an_error_after_a_bounded_wait() {
        let fake = FakeUart::default();
        fake.full_reads.set(u32::MAX);
        assert_eq!(Pl011::new(&fake).write_byte(b'x'), Err(Pl011Error::TxFifoStayedFull));
        assert_eq!(fake.fr_reads.get(), POLL_LIMIT);
        assert!(fake.sent.borrow().is_empty());
    }
}
