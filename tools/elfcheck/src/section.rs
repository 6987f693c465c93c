//! Writes configuration into a named section of an image, as an sDDF
//! build does with `objcopy --update-section NAME=FILE` (sdfgen's output
//! into each component): here in Rust, for any 64-bit little-endian ELF
//! (the aarch64 PD images the microkit tool takes, and the host
//! executables sim runs), with no binutils for the target needed.
//!
//! Only a replacement of the same size: a PD declares each config section
//! at its struct's exact size (`sevio_runtime::config_section!`), so a
//! file of another size is the wrong file (another layout, another
//! section) and is refused, not truncated or padded.

use object::read::elf::ElfFile64;
use object::{Endianness, Object, ObjectSection, SectionKind};
use std::fmt;

/// Why a section could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionError {
    /// Not a 64-bit little-endian ELF we can read.
    NotElf(String),
    /// The image has no section of that name.
    Missing(String),
    /// The section occupies no bytes of the file (NOBITS, like `.bss`).
    NoFileBytes(String),
    /// The new contents are not the section's size.
    WrongSize {
        /// The section.
        name: String,
        /// Its size in the image.
        section: u64,
        /// The size of what was to go in.
        given: usize,
    },
}

impl fmt::Display for SectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SectionError::NotElf(e) => write!(f, "not a readable 64-bit little-endian ELF: {e}"),
            SectionError::Missing(n) => write!(f, "no section {n} (does the PD declare it?)"),
            SectionError::NoFileBytes(n) => write!(f, "section {n} has no bytes in the file (NOBITS)"),
            SectionError::WrongSize { name, section, given } => {
                write!(f, "section {name} is {section} bytes, the new contents {given}")
            }
        }
    }
}

/// Replace the contents of section `name` of `image` with `contents`
/// (the same size). On an error `image` is unchanged.
pub fn update_section(image: &mut [u8], name: &str, contents: &[u8]) -> Result<(), SectionError> {
    let (offset, size) = {
        let file = ElfFile64::<Endianness>::parse(&*image).map_err(|e| SectionError::NotElf(e.to_string()))?;
        if !file.is_little_endian() {
            return Err(SectionError::NotElf("big-endian".into()));
        }
        let section = file.section_by_name(name).ok_or_else(|| SectionError::Missing(name.into()))?;
        if section.kind() == SectionKind::UninitializedData {
            return Err(SectionError::NoFileBytes(name.into()));
        }
        let (offset, size) = section.file_range().ok_or_else(|| SectionError::NoFileBytes(name.into()))?;
        if size != section.size() {
            return Err(SectionError::NoFileBytes(name.into()));
        }
        (offset, size)
    };
    if size != contents.len() as u64 {
        return Err(SectionError::WrongSize { name: name.into(), section: size, given: contents.len() });
    }
    let start = usize::try_from(offset).map_err(|_| SectionError::NotElf("section offset too large".into()))?;
    let end = start
        .checked_add(contents.len())
        .filter(|&end| end <= image.len())
        .ok_or_else(|| SectionError::NotElf(format!("section {name} lies past the end of the file")))?;
    image[start..end].copy_from_slice(contents);
    Ok(())
}
