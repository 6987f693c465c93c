//! Checks that a PD image is an ELF the microkit tool accepts.
//!
//! The tool patches six symbols into every PD and panics if one is
//! missing; it patches each `setvar` symbol as 8 bytes; and it loads the
//! image at its link addresses, so the image must be a static, non-PIE
//! executable whose loadable segments do not share a page. This finds all
//! of that before the tool does, with a message that names the symbol.

pub mod section;
pub mod system;

use object::elf;
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader};
use object::{Endianness, Object, ObjectSymbol};
use std::fmt;

/// The symbols the microkit tool patches into every PD, with their sizes.
pub const PATCHED_SYMBOLS: [(&str, u64); 6] = [
    ("microkit_name", 64),
    ("microkit_passive", 1),
    ("microkit_irqs", 8),
    ("microkit_notifications", 8),
    ("microkit_pps", 8),
    ("microkit_ioports", 8),
];

/// What is wrong with an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Not an ELF file we can read.
    NotElf(String),
    /// Not an AArch64 64-bit little-endian ELF.
    WrongMachine,
    /// e_type is not ET_EXEC (a PIE or shared object has ET_DYN).
    NotExecutable { e_type: u16 },
    /// A PT_INTERP or PT_DYNAMIC segment: the image wants a dynamic loader.
    Dynamic,
    /// No symbol table (a stripped image: the tool needs `.symtab`).
    NoSymbolTable,
    /// A symbol the tool patches is missing.
    MissingSymbol(String),
    /// A symbol has the wrong size.
    WrongSize { name: String, expected: u64, found: u64 },
    /// Two PT_LOAD segments share a page.
    SegmentsSharePage { first: u64, second: u64 },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NotElf(e) => write!(f, "not a readable ELF file: {e}"),
            Problem::WrongMachine => write!(f, "not a 64-bit little-endian AArch64 ELF"),
            Problem::NotExecutable { e_type } => {
                write!(f, "ELF type {e_type} is not ET_EXEC (2): the image is PIE or a shared object")
            }
            Problem::Dynamic => write!(f, "has PT_INTERP or PT_DYNAMIC: the image is dynamically linked"),
            Problem::NoSymbolTable => write!(f, "has no symbol table (stripped?); the microkit tool needs .symtab"),
            Problem::MissingSymbol(s) => write!(f, "symbol `{s}` is missing (the microkit tool patches it)"),
            Problem::WrongSize { name, expected, found } => {
                write!(f, "symbol `{name}` is {found} bytes, the microkit tool writes {expected}")
            }
            Problem::SegmentsSharePage { first, second } => {
                write!(f, "loadable segments at {first:#x} and {second:#x} share a page (align the second to 0x1000)")
            }
        }
    }
}

/// Check `image`; `setvars` are the symbols system.xml patches into it
/// (each must be 8 bytes). Returns every problem found.
pub fn check(image: &[u8], setvars: &[&str]) -> Vec<Problem> {
    let file = match ElfFile64::<Endianness>::parse(image) {
        Ok(f) => f,
        Err(e) => return vec![Problem::NotElf(e.to_string())],
    };
    let mut problems = Vec::new();
    let header = file.elf_header();
    let endian = file.endian();
    if header.e_machine(endian) != elf::EM_AARCH64 || !file.is_little_endian() {
        problems.push(Problem::WrongMachine);
    }
    let e_type = header.e_type(endian);
    if e_type != elf::ET_EXEC {
        problems.push(Problem::NotExecutable { e_type });
    }
    let mut loads: Vec<(u64, u64)> = Vec::new();
    for ph in file.elf_program_headers() {
        match ph.p_type(endian) {
            elf::PT_INTERP | elf::PT_DYNAMIC if !problems.contains(&Problem::Dynamic) => {
                problems.push(Problem::Dynamic)
            }
            elf::PT_LOAD if ph.p_memsz(endian) > 0 => {
                loads.push((ph.p_vaddr(endian), ph.p_vaddr(endian) + ph.p_memsz(endian)))
            }
            _ => {}
        }
    }
    loads.sort();
    for pair in loads.windows(2) {
        let (_, end_first) = pair[0];
        let (start_second, _) = pair[1];
        if (end_first - 1) / 0x1000 >= start_second / 0x1000 {
            problems.push(Problem::SegmentsSharePage { first: pair[0].0, second: start_second });
        }
    }
    if file.symbol_table().is_none() {
        problems.push(Problem::NoSymbolTable);
        return problems;
    }
    let wanted = PATCHED_SYMBOLS.iter().copied().chain(setvars.iter().map(|s| (*s, 8)));
    for (name, size) in wanted {
        match file.symbols().find(|s| s.name() == Ok(name)) {
            None => problems.push(Problem::MissingSymbol(name.to_string())),
            Some(sym) if sym.size() != size => {
                problems.push(Problem::WrongSize { name: name.to_string(), expected: size, found: sym.size() })
            }
            Some(_) => {}
        }
    }
    problems
}
