//! Where everything lives: physical addresses of memory regions (fixed or
//! allocated in guest RAM as the microkit tool would), each PD's maps,
//! setvar values and IRQ ids.

use sevio_runtime::generic_timer::PHYSICAL_TIMER_INTID;
use sevio_runtime::hosted::wire::{MapKind, MapSpec, RAM_BASE, RAM_SIZE, Setup};
use sevio_sdf::System;

/// QEMU puts its DTB at the start of RAM when it loads no kernel.
pub const DTB_SIZE: u64 = 0x10_0000;
/// The page the vCPU is parked in (`wfi; b .`), right after the DTB.
pub const PARK_ADDR: u64 = RAM_BASE + DTB_SIZE;
/// RAM sim keeps for itself: the DTB and the park page.
pub const RESERVED_END: u64 = PARK_ADDR + 0x1000;
/// Where allocation of regions without `phys_addr` starts.
pub const ALLOC_BASE: u64 = 0x5000_0000;

const RAM_END: u64 = RAM_BASE + RAM_SIZE;

/// One map of a PD, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PdMap {
    /// Virtual address in the PD.
    pub vaddr: u64,
    /// Bytes.
    pub size: u64,
    /// Physical address of the first byte.
    pub paddr: u64,
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub execute: bool,
    /// Outside guest RAM: device registers, reached over qtest.
    pub device: bool,
}

impl PdMap {
    /// The physical address of `width` bytes at `vaddr`, if inside this map.
    pub fn translate(&self, vaddr: u64, width: u64) -> Option<u64> {
        let off = vaddr.checked_sub(self.vaddr)?;
        (off.checked_add(width)? <= self.size).then(|| self.paddr + off)
    }
}

/// Everything sim needs to know about a system's memory.
#[derive(Debug)]
pub struct Layout {
    /// Per PD (index as in `System`): its maps.
    pub maps: Vec<Vec<PdMap>>,
    /// Per PD: its startup message.
    pub setups: Vec<Setup>,
    /// Some PD maps device registers or owns an IRQ.
    pub uses_devices: bool,
}

fn in_ram(start: u64, size: u64) -> bool {
    start >= RAM_BASE && start.checked_add(size).is_some_and(|end| end <= RAM_END)
}

fn overlaps(a: u64, a_size: u64, b: u64, b_size: u64) -> bool {
    a < b.saturating_add(b_size) && b < a.saturating_add(a_size)
}

/// The physical address of every memory region (index as in `System`):
/// its `phys_addr`, or one allocated in guest RAM from [`ALLOC_BASE`] up,
/// aligned to its page size and clear of the fixed ones.
pub fn place_regions(system: &System) -> Result<Vec<u64>, String> {
    let mut fixed = Vec::new();
    for mr in &system.memory_regions {
        let Some(pa) = mr.phys_addr else { continue };
        if in_ram(pa, mr.size) {
            if overlaps(pa, mr.size, RAM_BASE, RESERVED_END - RAM_BASE) {
                return Err(format!(
                    "memory region '{}' at {pa:#x} overlaps {RAM_BASE:#x}..{RESERVED_END:#x}, which sim keeps for QEMU's DTB and the parked vCPU",
                    mr.name
                ));
            }
        } else if overlaps(pa, mr.size, RAM_BASE, RAM_SIZE) {
            return Err(format!(
                "memory region '{}' ({pa:#x}, {:#x} bytes) is partly inside guest RAM {RAM_BASE:#x}..{RAM_END:#x}",
                mr.name, mr.size
            ));
        }
        fixed.push((pa, mr.size));
    }

    let mut cursor = ALLOC_BASE;
    let mut region_paddr = Vec::new();
    for mr in &system.memory_regions {
        if let Some(pa) = mr.phys_addr {
            region_paddr.push(pa);
            continue;
        }
        let mut at = cursor.next_multiple_of(mr.page_size);
        while let Some(&(pa, size)) = fixed.iter().find(|&&(pa, size)| overlaps(at, mr.size, pa, size)) {
            at = (pa + size).next_multiple_of(mr.page_size);
        }
        if !in_ram(at, mr.size) {
            return Err(format!("memory region '{}' ({:#x} bytes) does not fit in guest RAM", mr.name, mr.size));
        }
        region_paddr.push(at);
        cursor = at + mr.size;
    }
    Ok(region_paddr)
}

/// Lay out a checked system.
pub fn lay_out(system: &System) -> Result<Layout, String> {
    let region_paddr = place_regions(system)?;

    let mut maps = Vec::new();
    let mut setups = Vec::new();
    let mut uses_devices = false;
    for (i, pd) in system.pds.iter().enumerate() {
        let mut pd_maps = Vec::new();
        let mut setvars = Vec::new();
        for m in &pd.maps {
            let Some(r) = system.memory_regions.iter().position(|mr| mr.name == m.mr) else {
                return Err(format!("PD '{}' maps unknown memory region '{}'", pd.name, m.mr));
            };
            let (paddr, size) = (region_paddr[r], system.memory_regions[r].size);
            let device = !in_ram(paddr, size);
            uses_devices |= device;
            pd_maps.push(PdMap {
                vaddr: m.vaddr,
                size,
                paddr,
                read: m.perms.read,
                write: m.perms.write,
                execute: m.perms.execute,
                device,
            });
            setvars.extend(m.setvar_vaddr.iter().map(|s| (s.clone(), m.vaddr)));
            setvars.extend(m.setvar_size.iter().map(|s| (s.clone(), size)));
        }
        for sv in &pd.setvars {
            let Some(r) = system.memory_regions.iter().position(|mr| mr.name == sv.region_paddr) else {
                return Err(format!(
                    "PD '{}' setvar {} names unknown memory region '{}'",
                    pd.name, sv.symbol, sv.region_paddr
                ));
            };
            setvars.push((sv.symbol.clone(), region_paddr[r]));
        }
        for irq in &pd.irqs {
            setvars.extend(irq.setvar_id.iter().map(|s| (s.clone(), irq.id as u64)));
        }
        for (own, _) in system.channels_of(i) {
            setvars.extend(own.setvar_id.iter().map(|s| (s.clone(), own.id as u64)));
        }
        for child in system.children_of(i) {
            let c = &system.pds[child];
            if let (Some(sym), Some(id)) = (&c.setvar_id, c.child_id) {
                setvars.push((sym.clone(), id as u64));
            }
        }
        // The generic timer's interrupt is sim's own, not QEMU's.
        uses_devices |= pd.irqs.iter().any(|irq| irq.irq != PHYSICAL_TIMER_INTID);
        let irqs = pd.irqs.iter().fold(0u64, |acc, irq| acc | 1 << irq.id);
        let specs = pd_maps
            .iter()
            .map(|m| MapSpec {
                vaddr: m.vaddr,
                size: m.size,
                read: m.read,
                write: m.write,
                execute: m.execute,
                kind: if m.device { MapKind::Device } else { MapKind::Ram { offset: m.paddr - RAM_BASE } },
            })
            .collect();
        setups.push(Setup { name: pd.name.clone(), irqs, maps: specs, setvars });
        maps.push(pd_maps);
    }
    Ok(Layout { maps, setups, uses_devices })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system(xml: &str) -> System {
        sevio_sdf::parse(xml).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn allocates_regions_in_ram_around_fixed_ones() {
        let s = system(
            r#"<system>
            <memory_region name="a" size="0x1000" />
            <memory_region name="fixed" size="0x2000" phys_addr="0x50001000" />
            <memory_region name="b" size="0x2000" />
            <memory_region name="huge" size="0x200000" page_size="0x200000" />
            <memory_region name="regs" size="0x4000" phys_addr="0xa000000" />
            <protection_domain name="p" priority="1">
                <program_image path="p" />
                <map mr="a" vaddr="0x2000000" perms="r" setvar_vaddr="a_vaddr" setvar_size="a_size" />
                <map mr="regs" vaddr="0x3000000" perms="rw" cached="false" />
                <setvar symbol="b_paddr" region_paddr="b" />
                <irq irq="79" id="5" />
            </protection_domain>
            </system>"#,
        );
        let l = lay_out(&s).unwrap();
        assert_eq!(place_regions(&s).unwrap(), [0x5000_0000, 0x5000_1000, 0x5000_3000, 0x5020_0000, 0xa00_0000]);
        assert!(l.uses_devices);
        let setup = &l.setups[0];
        assert_eq!(setup.irqs, 1 << 5);
        assert_eq!(
            setup.setvars,
            [("a_vaddr".to_string(), 0x200_0000), ("a_size".to_string(), 0x1000), ("b_paddr".to_string(), 0x5000_3000)]
        );
        assert_eq!(setup.maps[0].kind, MapKind::Ram { offset: 0x1000_0000 });
        assert!(setup.maps[0].read && !setup.maps[0].write);
        assert_eq!(setup.maps[1].kind, MapKind::Device);
        let regs = &l.maps[0][1];
        assert_eq!(regs.translate(0x300_0000 + 0x3e00 + 8, 4), Some(0xa00_3e08));
        assert_eq!(regs.translate(0x300_3ffe, 4), None);
        assert_eq!(regs.translate(0x2ff_ffff, 1), None);
    }

    #[test]
    fn refuses_regions_sim_cannot_back() {
        let base = |mr: &str| {
            format!(
                r#"<system>{mr}<protection_domain name="p" priority="1"><program_image path="p" />
                <map mr="m" vaddr="0x2000000" /></protection_domain></system>"#
            )
        };
        let e =
            lay_out(&system(&base(r#"<memory_region name="m" size="0x1000" phys_addr="0x40100000" />"#))).unwrap_err();
        assert!(e.contains("keeps for QEMU's DTB"), "{e}");
        let e =
            lay_out(&system(&base(r#"<memory_region name="m" size="0x2000" phys_addr="0x3ffff000" />"#))).unwrap_err();
        assert!(e.contains("partly inside guest RAM"), "{e}");
    }

    #[test]
    fn no_devices_without_device_maps_or_irqs() {
        let s = system(
            r#"<system><memory_region name="m" size="0x1000" />
            <protection_domain name="p" priority="1"><program_image path="p" />
            <map mr="m" vaddr="0x2000000" /></protection_domain></system>"#,
        );
        assert!(!lay_out(&s).unwrap().uses_devices);
    }
}
