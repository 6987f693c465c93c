//! The sim description: which QEMU devices a run attaches, how their
//! registers look, and which PDs must pass. A TOML file next to the
//! system.xml (`<stem>.sim.toml`); README.md documents the format.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A whole sim description.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimDescription {
    /// virtio-mmio register layout: true → legacy (version 1), false →
    /// modern (version 2, the default, as the image runs).
    #[serde(default)]
    pub force_legacy: bool,
    /// PDs that must report PASS; absent → the first verdict decides.
    pub expect_pass: Option<Vec<String>>,
    /// PDs that must report FAIL (a fault-injection run): their FAIL does
    /// not end the run, a PASS from one fails it, and the run passes only
    /// once each of them has failed (and `expect_pass` passed).
    #[serde(default)]
    pub expect_fail: Vec<String>,
    /// Raw arguments appended to QEMU's command line.
    #[serde(default)]
    pub qemu_args: Vec<String>,
    /// Where to write a screendump of QEMU's first console when the run
    /// ends (`.png`: PNG, else PPM), relative to this file.
    pub screendump: Option<PathBuf>,
    /// Devices to attach, in order.
    #[serde(default, rename = "device")]
    pub devices: Vec<Device>,
    /// ELF sections to write into PD images before they start.
    #[serde(default, rename = "section")]
    pub sections: Vec<Section>,
    /// Directory relative paths are resolved against (the file's own).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// One `[[device]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// QEMU `-device` driver (`virtio-blk-device`, `virtio-net-pci`, ...).
    pub driver: String,
    /// virtio-mmio slot 0..=31 (`bus=virtio-mmio-bus.N`).
    pub slot: Option<u8>,
    /// PCIe address on `pcie.0` (`"3"` or `"3.0"`).
    pub pci_addr: Option<String>,
    /// A block backend.
    pub drive: Option<Drive>,
    /// A network backend: `type` plus QEMU `-netdev` options.
    pub netdev: Option<BTreeMap<String, toml::Value>>,
    /// A character backend: `type` plus QEMU `-chardev` options.
    pub chardev: Option<BTreeMap<String, toml::Value>>,
    /// A file-system backend (virtio-9p): `type` plus QEMU `-fsdev`
    /// options; a relative `path` is taken from the description's
    /// directory.
    pub fsdev: Option<BTreeMap<String, toml::Value>>,
    /// An audio backend (virtio-sound): `type` plus QEMU `-audiodev`
    /// options; a relative `path` is taken from the description's
    /// directory.
    pub audiodev: Option<BTreeMap<String, toml::Value>>,
    /// More `-device` properties.
    #[serde(default)]
    pub properties: BTreeMap<String, toml::Value>,
}

impl Device {
    /// Whether QEMU puts this device on PCI: it has a PCIe address, or its
    /// driver is a `*-pci` one (placed by QEMU or behind a root port).
    pub fn is_pci(&self) -> bool {
        self.pci_addr.is_some() || self.driver.ends_with("-pci")
    }
}

/// One `[[section]]`: what an sDDF build does with sdfgen's output,
/// `objcopy --update-section NAME=FILE` on PD `pd`'s image (sim does it on
/// a copy of the host executable; see `src/sections.rs`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// The PD whose image gets the section.
    pub pd: String,
    /// The section's name, e.g. `.blk_driver_config`.
    pub name: String,
    /// The bytes (relative to the description's directory).
    pub file: PathBuf,
}

/// A `drive` table: an image file, or a scratch image of `size` bytes that
/// sim creates for the run and deletes afterwards.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drive {
    /// Image file (relative to the description's directory).
    pub file: Option<PathBuf>,
    /// Scratch image size: bytes, or with a K/M/G suffix.
    pub size: Option<toml::Value>,
    /// Image format (default raw).
    pub format: Option<String>,
    /// Read-only drive.
    #[serde(default)]
    pub readonly: bool,
}

/// Where `system` looks for its sim description: `dir/stem.sim.toml`.
pub fn default_path(system: &Path) -> PathBuf {
    let stem = system.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    system.with_file_name(format!("{stem}.sim.toml"))
}

/// Reads and checks a description; `pd_names` are the system's PDs.
pub fn load(path: &Path, pd_names: &[&str]) -> Result<SimDescription, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut desc = parse(&text, pd_names).map_err(|e| format!("{}: {e}", path.display()))?;
    desc.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(desc)
}

/// Parses and checks description text.
pub fn parse(text: &str, pd_names: &[&str]) -> Result<SimDescription, String> {
    let desc: SimDescription = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
    for name in &desc.expect_fail {
        if !pd_names.contains(&name.as_str()) {
            return Err(format!("expect_fail names '{name}', which is not a PD of the system"));
        }
    }
    for name in desc.expect_pass.iter().flatten() {
        if !pd_names.contains(&name.as_str()) {
            return Err(format!("expect_pass names '{name}', which is not a PD of the system"));
        }
    }
    for (i, s) in desc.sections.iter().enumerate() {
        if !pd_names.contains(&s.pd.as_str()) {
            return Err(format!("section {}: pd '{}' is not a PD of the system", i + 1, s.pd));
        }
        if !s.name.starts_with('.') || s.name.len() < 2 || s.name.contains(['=', ' ']) {
            return Err(format!(
                "section {}: name '{}' must be an ELF section name like .blk_driver_config",
                i + 1,
                s.name
            ));
        }
    }
    let mut slots = BTreeMap::new();
    for (i, d) in desc.devices.iter().enumerate() {
        let what = format!("device {} ({})", i + 1, d.driver);
        if d.driver.is_empty() || d.driver.contains(',') {
            return Err(format!("device {}: driver must be a QEMU device name", i + 1));
        }
        if d.slot.is_some() && d.pci_addr.is_some() {
            return Err(format!("{what}: give slot or pci_addr, not both"));
        }
        if let Some(slot) = d.slot {
            if slot > 31 {
                return Err(format!("{what}: slot {slot} is out of range 0..=31"));
            }
            if let Some(other) = slots.insert(slot, i + 1) {
                return Err(format!("{what}: slot {slot} is already taken by device {other}"));
            }
        }
        if let Some(drive) = &d.drive {
            match (&drive.file, &drive.size) {
                (Some(_), None) => {}
                (None, Some(size)) => {
                    parse_size(size).map_err(|e| format!("{what}: drive size: {e}"))?;
                }
                _ => return Err(format!("{what}: a drive needs exactly one of file and size")),
            }
        }
        for (kind, table) in
            [("netdev", &d.netdev), ("chardev", &d.chardev), ("fsdev", &d.fsdev), ("audiodev", &d.audiodev)]
        {
            if table.as_ref().is_some_and(|t| !matches!(t.get("type"), Some(toml::Value::String(_)))) {
                return Err(format!("{what}: {kind} needs a string `type`"));
            }
        }
    }
    Ok(desc)
}

/// Bytes in `1048576`, `"64K"`, `"1M"` or `"2G"`.
pub fn parse_size(v: &toml::Value) -> Result<u64, String> {
    let text = match v {
        toml::Value::Integer(n) if *n > 0 => return Ok(*n as u64),
        toml::Value::String(s) => s.trim(),
        other => return Err(format!("{other} is not a size")),
    };
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let shift = match unit {
        "" => 0,
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        _ => return Err(format!("'{text}': unit must be K, M or G")),
    };
    let n: u64 = digits.parse().map_err(|_| format!("'{text}' is not a size"))?;
    n.checked_shl(shift).filter(|b| *b > 0 && b >> shift == n).ok_or_else(|| format!("'{text}' is out of range"))
}

/// A TOML value as a QEMU option value (commas doubled, as QEMU escapes them).
pub fn option_value(v: &toml::Value) -> String {
    let s = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Boolean(b) => if *b { "on" } else { "off" }.to_string(),
        other => other.to_string(),
    };
    s.replace(',', ",,")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDS: [&str; 2] = ["probe", "irq"];

    #[test]
    fn full_description_parses() {
        let d = parse(
            r#"
            force_legacy = true
            expect_pass = ["probe"]
            qemu_args = ["-trace", "virtio_*"]
            screendump = "out/screen.png"
            [[device]]
            driver = "virtio-blk-device"
            slot = 31
            drive = { size = "1M" }
            properties = { serial = "disk0" }
            [[device]]
            driver = "virtio-net-pci"
            pci_addr = "3.0"
            netdev = { type = "user" }
            "#,
            &PDS,
        )
        .unwrap();
        assert!(d.force_legacy);
        assert_eq!(d.expect_pass.as_deref(), Some(&["probe".to_string()][..]));
        assert_eq!(d.screendump.as_deref(), Some(std::path::Path::new("out/screen.png")));
        assert_eq!(d.devices.len(), 2);
        assert_eq!(d.devices[0].slot, Some(31));
        assert_eq!(d.devices[1].pci_addr.as_deref(), Some("3.0"));
    }

    #[test]
    fn empty_description_means_no_devices() {
        let d = parse("", &PDS).unwrap();
        assert!(d.devices.is_empty() && d.expect_pass.is_none() && !d.force_legacy);
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("expect_pass = [\"nobody\"]", "expect_pass names 'nobody'"),
            ("[[device]]\ndriver = \"virtio-rng-device\"\nslot = 32", "slot 32 is out of range"),
            (
                "[[device]]\ndriver = \"virtio-rng-device\"\nslot = 3\n[[device]]\ndriver = \"virtio-rng-device\"\nslot = 3",
                "slot 3 is already taken by device 1",
            ),
            ("[[device]]\ndriver = \"a\"\nslot = 1\npci_addr = \"2\"", "not both"),
            ("[[device]]\ndriver = \"virtio-blk-device\"\ndrive = {}", "exactly one of file and size"),
            ("[[device]]\ndriver = \"virtio-blk-device\"\ndrive = { size = \"1X\" }", "unit must be"),
            ("[[device]]\ndriver = \"virtio-net-device\"\nnetdev = { id = \"x\" }", "netdev needs a string `type`"),
            ("colour = 1", "unknown field `colour`"),
            ("[[section]]\npd = \"nobody\"\nname = \".x\"\nfile = \"x\"", "pd 'nobody' is not a PD"),
            ("[[section]]\npd = \"probe\"\nname = \"x=y\"\nfile = \"x\"", "must be an ELF section name"),
        ];
        for (text, want) in cases {
            let err = parse(text, &PDS).unwrap_err();
            assert!(err.contains(want), "{text:?}: got {err:?}, want {want:?}");
        }
    }

    #[test]
    fn sizes() {
        let s = |t: &str| parse_size(&toml::Value::String(t.into()));
        assert_eq!(s("64K"), Ok(64 << 10));
        assert_eq!(s("1M"), Ok(1 << 20));
        assert_eq!(s("2G"), Ok(2 << 30));
        assert_eq!(parse_size(&toml::Value::Integer(4096)), Ok(4096));
        assert!(s("0").is_err());
        assert!(s("99999999999999999999G").is_err());
        assert!(parse_size(&toml::Value::Integer(-1)).is_err());
    }

    #[test]
    fn option_values_escape_commas() {
        assert_eq!(option_value(&toml::Value::String("a,b".into())), "a,,b");
        assert_eq!(option_value(&toml::Value::Boolean(true)), "on");
        assert_eq!(option_value(&toml::Value::Integer(5)), "5");
    }
}
