//! The seL4 backend: Microkit 2.3.0 ABI on seL4 16.0.0 (aarch64, MCS).
//!
//! The facts this relies on (all from the Microkit tool and libmicrokit's
//! ABI, checked on QEMU with a real SDK):
//! - the tool patches six symbols, which therefore must exist;
//! - cap slots: INPUT 1, REPLY 4, MONITOR_EP 5, notifications 10+ch,
//!   PPC endpoints 74+ch, IRQ handlers 138+ch;
//! - the IPC buffer sits at 0xFF_FFFF_F000 (tag at word 0, MR i at word 1+i);
//! - syscalls are `svc #0` with the number in x7, x0 cap/badge, x1 msginfo,
//!   x2-x5 MR0-MR3, x6 reply cap, x8 the send cap of NBSendRecv.

use crate::kernel::Kernel;
use crate::{Channel, DeferredAction, MessageInfo};
use core::arch::asm;
use core::ptr::addr_of;

const INPUT_CAP: u64 = 1;
const REPLY_CAP: u64 = 4;
const MONITOR_EP: u64 = 5;
const BASE_OUTPUT_NOTIFICATION_CAP: u64 = 10;
const BASE_ENDPOINT_CAP: u64 = 74;
const BASE_IRQ_CAP: u64 = 138;
const BASE_TCB_CAP: u64 = 202;

const SYS_CALL: i64 = -1;
const SYS_REPLY_RECV: i64 = -2;
const SYS_NB_SEND_RECV: i64 = -3;
const SYS_SEND: i64 = -5;
const SYS_RECV: i64 = -7;
#[cfg(sevio_debug_putchar)]
const SYS_DEBUG_PUT_CHAR: i64 = -12;

/// IRQAckIRQ invocation label of the kernel this image is built for (taken
/// from the SDK's invocations_all.json by build.rs).
const IRQ_ACK_LABEL: u64 = {
    match u64::from_str_radix(env!("SEVIO_IRQ_ACK_LABEL"), 10) {
        Ok(v) => v,
        Err(_) => panic!("SEVIO_IRQ_ACK_LABEL is not a number"),
    }
};

/// TCBWriteRegisters invocation label (from the SDK, as the IRQ ack's).
const TCB_WRITE_REGISTERS_LABEL: u64 = {
    match u64::from_str_radix(env!("SEVIO_TCB_WRITE_REGISTERS_LABEL"), 10) {
        Ok(v) => v,
        Err(_) => panic!("SEVIO_TCB_WRITE_REGISTERS_LABEL is not a number"),
    }
};

const IPC_BUFFER: usize = 0xFF_FFFF_F000;

// The symbols the microkit tool patches. All six must exist (the tool
// panics otherwise), hence `#[used]`; they are read with volatile loads so
// the compiler cannot fold the zero defaults. They live in `.data`, not
// `.bss`: a restart zeroes `.bss` but restores `.data` from the copy taken
// at first start, which holds the patched values.
#[unsafe(no_mangle)]
#[used]
#[unsafe(link_section = ".data")]
static mut microkit_name: [u8; 64] = [0; 64];
#[unsafe(no_mangle)]
#[used]
#[unsafe(link_section = ".data")]
static mut microkit_passive: u8 = 0;
#[unsafe(no_mangle)]
#[used]
#[unsafe(link_section = ".data")]
static mut microkit_irqs: u64 = 0;
#[unsafe(no_mangle)]
#[used]
#[unsafe(link_section = ".data")]
static mut microkit_notifications: u64 = 0;
#[unsafe(no_mangle)]
#[used]
#[unsafe(link_section = ".data")]
static mut microkit_pps: u64 = 0;
#[unsafe(no_mangle)]
#[used]
#[unsafe(link_section = ".data")]
static mut microkit_ioports: u64 = 0;

unsafe extern "C" {
    /// Defined by [`crate::protection_domain!`].
    fn sevio_pd_main() -> !;
}

/// The entry point. The microkit tool sets PC here and SP to the top of
/// the stack; a parent that restarts this PD does the same
/// ([`restart_child`]). Before any Rust code touches a static, the PD's
/// writable memory is put back to how it booted ([`crate::restart`]).
#[unsafe(no_mangle)]
#[unsafe(link_section = ".text.start")]
extern "C" fn _start() -> ! {
    // SAFETY: this is the first code of the PD (first start or restart):
    // nothing holds a reference into .data or .bss yet, and the stack is
    // fresh (the parent wrote SP along with PC).
    unsafe { crate::restart::restore_boot_state() };
    // SAFETY: `sevio_pd_main` is the PD's entry defined by the
    // protection_domain! macro; it takes no arguments and never returns.
    unsafe { sevio_pd_main() }
}

/// Point child `child`'s thread at the PD entry with a fresh stack and
/// resume it (libmicrokit's `microkit_pd_restart`, which writes PC only;
/// SP is written too so that repeated restarts do not walk down the
/// stack from wherever the child faulted). `Err` is the seL4 error code.
pub(crate) fn restart_child(child: crate::Child) -> Result<(), u64> {
    const RESUME: u64 = 1;
    const REGISTER_COUNT: u64 = 2;
    // seL4_TCB_WriteRegisters: MR0 resume | arch flags << 8, MR1 the
    // number of registers, then seL4_UserContext in order: pc, sp, ...
    store_mrs([RESUME, REGISTER_COUNT, crate::restart::PD_ENTRY, crate::restart::STACK_TOP]);
    let reply = call(BASE_TCB_CAP + child.index() as u64, MessageInfo::new(TCB_WRITE_REGISTERS_LABEL, 4));
    match reply.label() {
        0 => Ok(()),
        error => Err(error),
    }
}

fn ipc_word(index: usize) -> *mut u64 {
    (IPC_BUFFER + index * 8) as *mut u64
}

pub(crate) fn mr_get(i: usize) -> u64 {
    // SAFETY: the IPC buffer page is mapped read-write at IPC_BUFFER for
    // every Microkit PD; `i` < 120 is checked by MessageRegisters.
    unsafe { ipc_word(1 + i).read_volatile() }
}

pub(crate) fn mr_set(i: usize, value: u64) {
    // SAFETY: as in `mr_get`.
    unsafe { ipc_word(1 + i).write_volatile(value) }
}

fn load_mrs() -> [u64; 4] {
    [mr_get(0), mr_get(1), mr_get(2), mr_get(3)]
}

fn store_mrs(mrs: [u64; 4]) {
    for (i, v) in mrs.into_iter().enumerate() {
        mr_set(i, v);
    }
}

fn send(cap: u64, info: MessageInfo) {
    let [m0, m1, m2, m3] = load_mrs();
    // SAFETY: seL4_Send: x0 cap, x1 msginfo, x2-x5 MR0-3, x7 syscall
    // number. The kernel preserves every other register; it writes none
    // of these back for Send.
    unsafe {
        asm!("svc #0",
            in("x0") cap, in("x1") info.raw(),
            in("x2") m0, in("x3") m1, in("x4") m2, in("x5") m3,
            in("x7") SYS_SEND,
            options(nostack));
    }
}

pub(crate) fn notify(channel: Channel) {
    send(BASE_OUTPUT_NOTIFICATION_CAP + channel.index() as u64, MessageInfo::new(0, 0));
}

pub(crate) fn irq_ack(channel: Channel) {
    send(BASE_IRQ_CAP + channel.index() as u64, MessageInfo::new(IRQ_ACK_LABEL, 0));
}

pub(crate) fn pp_call(channel: Channel, info: MessageInfo) -> MessageInfo {
    call(BASE_ENDPOINT_CAP + channel.index() as u64, info)
}

/// seL4_Call on `cap`: an endpoint (a PPC) or a kernel object (an
/// invocation, whose reply label is the seL4 error code).
fn call(cap: u64, info: MessageInfo) -> MessageInfo {
    let [mut m0, mut m1, mut m2, mut m3] = load_mrs();
    let mut x1 = info.raw();
    // SAFETY: seL4_Call: x0 cap in / badge out, x1 msginfo in and out,
    // x2-x5 MRs in and out, x7 syscall number. MRs past 3 are in the IPC
    // buffer, which the kernel reads and writes.
    unsafe {
        asm!("svc #0",
            inout("x0") cap => _,
            inout("x1") x1,
            inout("x2") m0, inout("x3") m1, inout("x4") m2, inout("x5") m3,
            in("x7") SYS_CALL,
            options(nostack));
    }
    store_mrs([m0, m1, m2, m3]);
    MessageInfo::from_raw(x1)
}

/// The PD's name, as patched by the microkit tool.
pub fn pd_name() -> &'static str {
    // SAFETY: `microkit_name` is written only by the microkit tool, before
    // the PD runs; we never write it, so a shared reference is sound.
    let bytes: &'static [u8; 64] = unsafe { &*addr_of!(microkit_name) };
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    core::str::from_utf8(&bytes[..len]).unwrap_or("?")
}

/// Whether system.xml gives this PD a PPC channel `channel` (the
/// microkit tool patches the set into `microkit_pps`).
pub(crate) fn has_pp(channel: Channel) -> bool {
    patched(addr_of!(microkit_pps)) & (1 << channel.index()) != 0
}

fn patched(word: *const u64) -> u64 {
    // SAFETY: `word` points at one of the patched statics above, which are
    // valid, aligned and never written at run time.
    unsafe { word.read_volatile() }
}

/// The syscall layer of a Microkit PD on seL4.
pub struct Sel4Kernel {
    started_passive: bool,
}

impl Sel4Kernel {
    /// The one kernel handle; called once by [`crate::protection_domain!`].
    pub fn take() -> Self {
        Sel4Kernel { started_passive: false }
    }

    fn is_passive() -> bool {
        // SAFETY: `microkit_passive` is a patched static, never written at
        // run time.
        unsafe { addr_of!(microkit_passive).read_volatile() != 0 }
    }
}

impl Kernel for Sel4Kernel {
    fn start(&mut self) {
        let irqs = patched(addr_of!(microkit_irqs));
        for ch in crate::ChannelSet::from_badge(irqs) {
            irq_ack(ch);
        }
    }

    fn perform(&mut self, action: DeferredAction) {
        match action {
            DeferredAction::Notify(ch) => notify(ch),
            DeferredAction::IrqAck(ch) => irq_ack(ch),
        }
    }

    fn wait(&mut self, reply: Option<MessageInfo>, action: Option<DeferredAction>) -> (u64, MessageInfo) {
        if !self.started_passive && Self::is_passive() {
            // A passive PD tells the monitor it is initialised; the monitor
            // then takes its scheduling context away. From here on it runs
            // only on its callers' budgets.
            self.started_passive = true;
            if let Some(action) = action {
                self.perform(action);
            }
            return nb_send_recv(MONITOR_EP, MessageInfo::new(0, 0));
        }
        self.started_passive = true;
        match (reply, action) {
            (Some(reply), Some(action)) => {
                self.perform(action);
                reply_recv(reply)
            }
            (Some(reply), None) => reply_recv(reply),
            (None, Some(DeferredAction::Notify(ch))) => {
                nb_send_recv(BASE_OUTPUT_NOTIFICATION_CAP + ch.index() as u64, MessageInfo::new(0, 0))
            }
            (None, Some(DeferredAction::IrqAck(ch))) => {
                nb_send_recv(BASE_IRQ_CAP + ch.index() as u64, MessageInfo::new(IRQ_ACK_LABEL, 0))
            }
            (None, None) => recv(),
        }
    }
}

fn recv() -> (u64, MessageInfo) {
    let (badge, info, m0, m1, m2, m3);
    // SAFETY: MCS seL4_Recv: x0 endpoint in / badge out, x1 msginfo out,
    // x2-x5 MRs out, x6 reply cap, x7 syscall number.
    unsafe {
        asm!("svc #0",
            inout("x0") INPUT_CAP => badge,
            out("x1") info,
            out("x2") m0, out("x3") m1, out("x4") m2, out("x5") m3,
            in("x6") REPLY_CAP,
            in("x7") SYS_RECV,
            options(nostack));
    }
    store_mrs([m0, m1, m2, m3]);
    (badge, MessageInfo::from_raw(info))
}

fn reply_recv(reply: MessageInfo) -> (u64, MessageInfo) {
    let [mut m0, mut m1, mut m2, mut m3] = load_mrs();
    let badge;
    let mut x1 = reply.raw();
    // SAFETY: MCS seL4_ReplyRecv: x0 endpoint in / badge out, x1 msginfo
    // in and out, x2-x5 MRs in and out, x6 reply cap, x7 syscall number.
    unsafe {
        asm!("svc #0",
            inout("x0") INPUT_CAP => badge,
            inout("x1") x1,
            inout("x2") m0, inout("x3") m1, inout("x4") m2, inout("x5") m3,
            in("x6") REPLY_CAP,
            in("x7") SYS_REPLY_RECV,
            options(nostack));
    }
    store_mrs([m0, m1, m2, m3]);
    (badge, MessageInfo::from_raw(x1))
}

fn nb_send_recv(dest: u64, info: MessageInfo) -> (u64, MessageInfo) {
    let [mut m0, mut m1, mut m2, mut m3] = load_mrs();
    let badge;
    let mut x1 = info.raw();
    // SAFETY: MCS seL4_NBSendRecv: x8 send cap, x0 receive endpoint in /
    // badge out, x1 msginfo in and out, x2-x5 MRs in and out, x6 reply cap,
    // x7 syscall number.
    unsafe {
        asm!("svc #0",
            inout("x0") INPUT_CAP => badge,
            inout("x1") x1,
            inout("x2") m0, inout("x3") m1, inout("x4") m2, inout("x5") m3,
            in("x6") REPLY_CAP,
            in("x7") SYS_NB_SEND_RECV,
            in("x8") dest,
            options(nostack));
    }
    store_mrs([m0, m1, m2, m3]);
    (badge, MessageInfo::from_raw(x1))
}

/// Write one byte to the kernel's debug console (debug kernels only; a
/// release build compiles this to nothing).
pub(crate) fn put_byte(byte: u8) {
    #[cfg(sevio_debug_putchar)]
    // SAFETY: seL4_DebugPutChar: x0 the character, x7 syscall number. libsel4
    // treats x0-x5 as possibly overwritten, and so do we.
    unsafe {
        asm!("svc #0",
            inout("x0") byte as u64 => _,
            lateout("x1") _, lateout("x2") _, lateout("x3") _, lateout("x4") _, lateout("x5") _,
            in("x7") SYS_DEBUG_PUT_CHAR,
            options(nostack));
    }
    #[cfg(not(sevio_debug_putchar))]
    let _ = byte;
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::debug_println!("panic: {}", info);
    // Fault on purpose so the monitor (or this PD's parent) learns of it.
    loop {
        // SAFETY: `udf` raises an undefined-instruction exception; the
        // kernel turns it into a fault message for the fault handler. It
        // touches no memory.
        unsafe { asm!("udf #0", options(nostack)) }
    }
}
