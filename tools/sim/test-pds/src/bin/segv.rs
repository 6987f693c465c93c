//! simtest-segv: reads its read-only region, then writes it, which must
//! fault (SIGSEGV): a read-only map is really read-only.
#![no_std]

use sevio_runtime::{Handler, debug_println};

sevio_runtime::setvar!(fn ro_vaddr() = "ro_vaddr");

sevio_runtime::protection_domain!(init);

struct Segv;
impl Handler for Segv {}

fn init() -> Segv {
    let p = ro_vaddr() as *mut u64;
    // SAFETY: faults.xml maps 4 KiB read-only at `ro_vaddr`: reading its
    // first word is sound.
    let v = unsafe { p.read_volatile() };
    debug_println!("segv: read {v} from the read-only map, now writing to it");
    // SAFETY: not sound on purpose: the page is mapped read-only, so this
    // write faults and the process dies before anything observes it.
    unsafe { p.write_volatile(1) };
    debug_println!("segv: the write did not fault");
    Segv
}
