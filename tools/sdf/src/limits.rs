//! The numbers the checks use, as Microkit 2.3.0's tool defines them
//! (`tool/microkit/src/sdf.rs`, `lib.rs`, `sel4.rs`) for `qemu_virt_aarch64`.

/// Highest PD priority; 255 is the monitor's.
pub const MAX_PRIORITY: u8 = 254;
/// Most PDs in a system, nested ones included.
pub const MAX_PDS: usize = 63;
/// Highest channel or IRQ id in a PD: badge bits 62 and 63 are taken by the
/// PPC and fault flags, leaving 62 ids (0..=61).
pub const MAX_CHANNEL_ID: u8 = 61;
/// Highest `id` of a nested PD. The microkit tool does not check it, but the
/// parent's CSpace has 64 child-TCB slots (202 + id), so sevio-sdf does.
pub const MAX_CHILD_ID: u8 = 63;
/// Default `budget` (microseconds); `period` defaults to the budget.
pub const DEFAULT_BUDGET: u64 = 1000;
/// Default `stack_size`.
pub const DEFAULT_STACK_SIZE: u64 = 0x2000;
/// Smallest `stack_size`.
pub const MIN_STACK_SIZE: u64 = 0x1000;
/// Largest `stack_size` (16 MiB).
pub const MAX_STACK_SIZE: u64 = 16 * 1024 * 1024;
/// Page sizes a `<memory_region page_size>` may name; the first is the
/// default and the granule of `stack_size`.
pub const PAGE_SIZES: [u64; 2] = [0x1000, 0x20_0000];
/// Initial stack pointer of every PD: the IPC buffer is the top user page
/// (0xFF_FFFF_F000) and a guard page sits below it. A `<map>` must end at or
/// below `STACK_TOP - stack_size`.
pub const STACK_TOP: u64 = 0xFF_FFFF_E000;
/// The name the microkit tool keeps for its monitor.
pub const RESERVED_PD_NAME: &str = "monitor";
