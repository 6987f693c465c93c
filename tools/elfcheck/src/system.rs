//! Which image and which setvars each PD of a system.xml has.

use std::path::Path;

/// `(program image, setvar symbols)` for every PD in the system.
pub fn images(system: &Path) -> Result<Vec<(String, Vec<String>)>, String> {
    let text = std::fs::read_to_string(system).map_err(|e| e.to_string())?;
    let sys = sevio_sdf::parse_named(&text, &system.display().to_string())
        .map_err(|errors| errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))?;
    Ok(sys
        .pds
        .iter()
        .map(|pd| {
            let mut vars: Vec<String> = pd.setvars.iter().map(|s| s.symbol.clone()).collect();
            for m in &pd.maps {
                vars.extend(m.setvar_vaddr.iter().cloned());
                vars.extend(m.setvar_size.iter().cloned());
            }
            (pd.program_image.clone(), vars)
        })
        .collect())
}
