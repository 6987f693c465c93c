//! Config sections: an sDDF build writes sdfgen's output into each
//! component's image with `objcopy --update-section NAME=FILE`; sim does
//! the same to a copy of a PD's host executable (in the run directory),
//! with `sevio_elfcheck::section::update_section` (the same replacement,
//! same size only, in Rust: no binutils needed), and starts the copy. The
//! PD reads the section exactly as on seL4
//! (`sevio_runtime::config_section!`), so one code path is tested.

use crate::config::SimDescription;
use sevio_sdf::System;
use std::path::{Path, PathBuf};

/// Writes every `[[section]]` of `desc` into a copy of its PD's image in
/// `run_dir`, and points `images` at the copies.
pub fn apply(images: &mut [PathBuf], system: &System, desc: &SimDescription, run_dir: &Path) -> Result<(), String> {
    for (index, pd) in system.pds.iter().enumerate() {
        let sections: Vec<_> = desc.sections.iter().filter(|s| s.pd == pd.name).collect();
        if sections.is_empty() {
            continue;
        }
        let mut image = std::fs::read(&images[index])
            .map_err(|e| format!("PD '{}': reading its image {}: {e}", pd.name, images[index].display()))?;
        for s in &sections {
            let file = desc.base_dir.join(&s.file);
            let contents = std::fs::read(&file)
                .map_err(|e| format!("section {} of PD '{}': {}: {e}", s.name, pd.name, file.display()))?;
            sevio_elfcheck::section::update_section(&mut image, &s.name, &contents)
                .map_err(|e| format!("section {} of PD '{}' from {}: {e}", s.name, pd.name, file.display()))?;
        }
        let copy = run_dir.join(format!("{}.image", pd.name));
        std::fs::write(&copy, &image).map_err(|e| format!("PD '{}': writing {}: {e}", pd.name, copy.display()))?;
        let mode = std::fs::metadata(&images[index]).map_err(|e| format!("PD '{}': {e}", pd.name))?.permissions();
        std::fs::set_permissions(&copy, mode).map_err(|e| format!("PD '{}': {e}", pd.name))?;
        images[index] = copy;
    }
    Ok(())
}
