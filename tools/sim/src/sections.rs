//! Config sections: an sDDF build writes sdfgen's output into each
//! component's image with `objcopy --update-section NAME=FILE`; sim does
//! the same to a copy of a PD's host executable (in the run directory)
//! and starts the copy. The PD reads the section exactly as on seL4
//! (`sevio_runtime::config_section!`), so one code path is tested.
//!
//! objcopy: `$SEVIO_OBJCOPY`, else `objcopy` (GNU binutils or llvm-objcopy;
//! the host's own format is all they need to know).

use crate::config::SimDescription;
use sevio_sdf::System;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes every `[[section]]` of `desc` into a copy of its PD's image in
/// `run_dir`, and points `images` at the copies.
pub fn apply(images: &mut [PathBuf], system: &System, desc: &SimDescription, run_dir: &Path) -> Result<(), String> {
    let objcopy = std::env::var_os("SEVIO_OBJCOPY").unwrap_or_else(|| "objcopy".into());
    for (index, pd) in system.pds.iter().enumerate() {
        let sections: Vec<_> = desc.sections.iter().filter(|s| s.pd == pd.name).collect();
        if sections.is_empty() {
            continue;
        }
        let copy = run_dir.join(format!("{}.image", pd.name));
        std::fs::copy(&images[index], &copy).map_err(|e| format!("PD '{}': copying its image: {e}", pd.name))?;
        let mut cmd = Command::new(&objcopy);
        for s in &sections {
            let file = desc.base_dir.join(&s.file);
            if !file.is_file() {
                return Err(format!("section {} of PD '{}': {} not found", s.name, pd.name, file.display()));
            }
            let mut arg = std::ffi::OsString::from(format!("{}=", s.name));
            arg.push(file.as_os_str());
            cmd.arg("--update-section").arg(arg);
        }
        let out = cmd.arg(&copy).output().map_err(|e| {
            format!("cannot run {}: {e} (install binutils, or set SEVIO_OBJCOPY)", objcopy.to_string_lossy())
        })?;
        if !out.status.success() {
            return Err(format!(
                "PD '{}': objcopy refused its sections (does the PD declare each one?): {}",
                pd.name,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        images[index] = copy;
    }
    Ok(())
}
