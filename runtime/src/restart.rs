//! Restarting a PD: a parent points a faulted child back at its entry,
//! and the child starts from the state it booted with.
//!
//! On seL4 the parent writes the child's PC and SP with
//! TCBWriteRegisters and resumes it ([`crate::Child::restart`]). The
//! child's `_start` then calls [`restore_boot_state`] before anything
//! else: the first start copies `.data` (as the loader left it, with the
//! microkit tool's patched symbols and setvars) into `.sevio_boot_data`, a
//! zero-filled area the linker script reserves after `.bss`, and sets the
//! flag word after it; every later start copies that back over `.data`
//! and zeroes `.bss`. So nothing of the crashed instance survives but
//! the shared regions it maps, which keep their contents on purpose.
//!
//! The copy is taken at first start rather than linked twice into the
//! image because the microkit tool patches symbols in `.data` after
//! linking; a second image linked in would hold the unpatched values.
//!
//! In sim a restart ends the PD's process (if it still runs) and starts
//! it again with the same maps: a fresh process is the boot state.

/// Where every sevio PD's `_start` is: the linker script (`sevio-pd.ld`)
/// puts `.text.start` first at 0x200000, and the ELF entry is `_start`.
pub const PD_ENTRY: u64 = 0x20_0000;

/// The top of a Microkit PD's stack (the microkit tool sets SP here at
/// boot; the stack grows down from it).
pub const STACK_TOP: u64 = 0xFF_FFFF_E000;

/// Why a child could not be restarted.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RestartError {
    /// seL4 refused TCBWriteRegisters with this error code (for example
    /// 1 invalid argument, 2 invalid capability: the child id names no
    /// child of this PD).
    Kernel(u64),
}

#[cfg(any(target_os = "none", test))]
/// The writable memory of a PD as the linker laid it out: `.data`, its
/// boot copy with the flag word after it, and `.bss`.
struct Layout {
    data: *mut u8,
    data_len: usize,
    boot_copy: *mut u8,
    taken: *mut u64,
    bss: *mut u8,
    bss_len: usize,
}

#[cfg(any(target_os = "none", test))]
/// The value of the flag word once the boot copy has been taken (any
/// non-zero value would do; this one reads as "SEVIOBOO" in a dump).
const TAKEN: u64 = u64::from_le_bytes(*b"SEVIOBOO");

#[cfg(any(target_os = "none", test))]
impl Layout {
    /// First start: take the copy. Later starts: restore `.data` and zero
    /// `.bss`. Volatile byte accesses: the compiler must not reason about
    /// (or move) these stores relative to statics it thinks it knows.
    ///
    /// # Safety
    /// Every pointer must be valid for its length, the regions must not
    /// overlap, and nothing may hold a reference into `.data` or `.bss`.
    unsafe fn restore(&self) {
        // SAFETY: the caller guarantees the pointers are valid for these
        // lengths and unaliased; every access below stays inside them.
        unsafe {
            if self.taken.read_volatile() != TAKEN {
                for i in 0..self.data_len {
                    self.boot_copy.add(i).write_volatile(self.data.add(i).read_volatile());
                }
                self.taken.write_volatile(TAKEN);
                return;
            }
            for i in 0..self.data_len {
                self.data.add(i).write_volatile(self.boot_copy.add(i).read_volatile());
            }
            for i in 0..self.bss_len {
                self.bss.add(i).write_volatile(0);
            }
        }
    }
}

/// Put `.data` and `.bss` back to their boot state (or, on the first
/// start, remember the boot state of `.data`). Called by `_start`.
///
/// # Safety
/// Must run before any code reads or writes a static, on a fresh stack.
#[cfg(target_os = "none")]
pub(crate) unsafe fn restore_boot_state() {
    unsafe extern "C" {
        static mut __sevio_data_start: u8;
        static mut __sevio_data_end: u8;
        static mut __sevio_bss_start: u8;
        static mut __sevio_bss_end: u8;
        static mut __sevio_boot_data: u8;
        static mut __sevio_boot_data_taken: u64;
    }
    use core::ptr::addr_of_mut;
    let data = addr_of_mut!(__sevio_data_start);
    let bss = addr_of_mut!(__sevio_bss_start);
    let layout = Layout {
        data,
        data_len: addr_of_mut!(__sevio_data_end) as usize - data as usize,
        boot_copy: addr_of_mut!(__sevio_boot_data),
        taken: addr_of_mut!(__sevio_boot_data_taken),
        bss,
        bss_len: addr_of_mut!(__sevio_bss_end) as usize - bss as usize,
    };
    // SAFETY: the linker script defines these symbols as the bounds of
    // .data and .bss and of the boot-copy area (sized like .data, flag
    // word after it), all inside the PD's writable segment and disjoint;
    // the caller guarantees nothing refers into them yet.
    unsafe { layout.restore() }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Memory {
        data: [u8; 5],
        copy: [u8; 5],
        taken: u64,
        bss: [u8; 3],
    }

    fn start(m: &mut Memory) {
        let layout = Layout {
            data: m.data.as_mut_ptr(),
            data_len: m.data.len(),
            boot_copy: m.copy.as_mut_ptr(),
            taken: &mut m.taken,
            bss: m.bss.as_mut_ptr(),
            bss_len: m.bss.len(),
        };
        // SAFETY: the pointers come from distinct fields of `m`, valid
        // for their lengths.
        unsafe { layout.restore() }
    }

    #[test]
    fn first_start_keeps_the_boot_state_and_restarts_return_to_it() {
        let mut m = Memory { data: [1, 2, 3, 4, 5], copy: [0; 5], taken: 0, bss: [0; 3] };
        start(&mut m);
        assert_eq!((m.data, m.bss), ([1, 2, 3, 4, 5], [0; 3]), "the first start changes nothing it runs on");
        assert_eq!(m.copy, [1, 2, 3, 4, 5]);
        // The instance runs and dirties its statics, then crashes.
        m.data = [9; 5];
        m.bss = [7; 3];
        start(&mut m);
        assert_eq!((m.data, m.bss), ([1, 2, 3, 4, 5], [0; 3]));
        // Again: the copy is not retaken from the dirty state.
        m.data = [8; 5];
        start(&mut m);
        assert_eq!(m.data, [1, 2, 3, 4, 5]);
    }
}
