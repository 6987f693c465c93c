//! What a child's fault message says: its kind, where the child was
//! (its PC) and, for a memory fault, the address it touched.
//!
//! The message layouts are seL4's (aarch64, MCS): the fault label is the
//! message label, the registers follow `seL4_*_Msg` (libsel4
//! `sel4_arch/constants.h` and `shared_types.h`). A message too short
//! for its kind decodes with the missing fields as `None`: a fault
//! report is for a log, and a short one must not hide the fault.

use core::fmt;

/// The kind of fault (the seL4 fault label).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// A cap the PD used is missing or of the wrong type (label 1).
    Cap,
    /// A syscall number seL4 does not know (2).
    UnknownSyscall,
    /// A CPU exception that is not a memory fault, e.g. an undefined
    /// instruction (a Rust panic ends in `udf`) (3).
    UserException,
    /// A breakpoint or watchpoint (4).
    Debug,
    /// The scheduling context ran out with a timeout handler set (5).
    Timeout,
    /// A load, store or fetch outside the PD's mappings or rights (6).
    VmFault,
    /// Any other label.
    Other(u64),
}

impl FaultKind {
    /// The kind a fault label names.
    pub const fn from_label(label: u64) -> Self {
        match label {
            1 => FaultKind::Cap,
            2 => FaultKind::UnknownSyscall,
            3 => FaultKind::UserException,
            4 => FaultKind::Debug,
            5 => FaultKind::Timeout,
            6 => FaultKind::VmFault,
            other => FaultKind::Other(other),
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::Cap => write!(f, "cap fault"),
            FaultKind::UnknownSyscall => write!(f, "unknown syscall"),
            FaultKind::UserException => write!(f, "user exception"),
            FaultKind::Debug => write!(f, "debug exception"),
            FaultKind::Timeout => write!(f, "timeout"),
            FaultKind::VmFault => write!(f, "VM fault"),
            FaultKind::Other(label) => write!(f, "fault label {label}"),
        }
    }
}

/// A decoded fault message.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FaultReport {
    /// What happened.
    pub kind: FaultKind,
    /// The child's PC at the fault.
    pub pc: Option<u64>,
    /// The address a VM fault or cap fault was about (a data address, or
    /// the PC for an instruction fetch; a cap address for a cap fault).
    pub address: Option<u64>,
}

impl FaultReport {
    /// Decode a fault message: its `label` and message registers `mrs`.
    pub fn decode(label: u64, mrs: &[u64]) -> Self {
        let kind = FaultKind::from_label(label);
        // Index of the PC and of the address in each layout.
        let (pc, address) = match kind {
            FaultKind::VmFault => (Some(0), Some(1)),     // seL4_VMFault_IP, _Addr
            FaultKind::Cap => (Some(0), Some(1)),         // seL4_CapFault_IP, _Addr
            FaultKind::UserException => (Some(0), None),  // seL4_UserException_FaultIP
            FaultKind::UnknownSyscall => (Some(8), None), // after X0..X7
            _ => (None, None),
        };
        let word = |i: Option<usize>| i.and_then(|i| mrs.get(i).copied());
        FaultReport { kind, pc: word(pc), address: word(address) }
    }
}

impl fmt::Display for FaultReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        match self.address {
            Some(a) => write!(f, " at address {a:#x}")?,
            None => write!(f, " (no address)")?,
        }
        match self.pc {
            Some(pc) => write!(f, ", pc {pc:#x}"),
            None => write!(f, ", pc unknown"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn decodes_each_layout_and_tolerates_short_messages() {
        let vm = FaultReport::decode(6, &[0x20_1234, 0x2401_0008, 0, 0x9200_004f]);
        assert_eq!(vm, FaultReport { kind: FaultKind::VmFault, pc: Some(0x20_1234), address: Some(0x2401_0008) });
        assert_eq!(format!("{vm}"), "VM fault at address 0x24010008, pc 0x201234");
        let udf = FaultReport::decode(3, &[0x20_0040, 0xff_ffff_d000, 0, 0, 0]);
        assert_eq!((udf.kind, udf.pc, udf.address), (FaultKind::UserException, Some(0x20_0040), None));
        let syscall = FaultReport::decode(2, &[0, 1, 2, 3, 4, 5, 6, 7, 0x20_0100]);
        assert_eq!(syscall.pc, Some(0x20_0100));
        // What sim sends: a label and no registers.
        let short = FaultReport::decode(6, &[]);
        assert_eq!(format!("{short}"), "VM fault (no address), pc unknown");
        assert_eq!(FaultReport::decode(42, &[1]).kind, FaultKind::Other(42));
    }
}
