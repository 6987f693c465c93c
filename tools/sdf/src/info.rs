//! A human summary of a system (`sevio-sdf info`).

use core::fmt::Write;

use crate::model::{ChannelDef, System};

/// PDs (tree, priorities, scheduling, maps, IRQs), channels and memory
/// regions, one item a line.
pub fn describe(sys: &System) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "protection domains ({}):", sys.pds.len());
    for (i, pd) in sys.pds.iter().enumerate() {
        let depth = ancestors(sys, i);
        let indent = "  ".repeat(depth + 1);
        let child = pd.child_id.map_or(String::new(), |id| format!(" (child id {id})"));
        let passive = if pd.passive { " passive" } else { "" };
        let _ = writeln!(
            out,
            "{indent}{}{child}: priority {}{passive}, budget {}/{} us, stack {:#x}, image {}",
            pd.name, pd.priority, pd.budget, pd.period, pd.stack_size, pd.program_image
        );
        for m in &pd.maps {
            let cached = if m.cached { "" } else { " uncached" };
            let var = m.setvar_vaddr.as_ref().map_or(String::new(), |v| format!(" -> {v}"));
            let _ = writeln!(out, "{indent}  map {} at {:#x} {}{cached}{var}", m.mr, m.vaddr, m.perms);
        }
        for irq in &pd.irqs {
            let _ = writeln!(out, "{indent}  irq {} as id {} ({})", irq.irq, irq.id, irq.trigger);
        }
        for sv in &pd.setvars {
            let _ = writeln!(out, "{indent}  setvar {} = paddr of {}", sv.symbol, sv.region_paddr);
        }
    }
    let _ = writeln!(out, "channels ({}):", sys.channels.len());
    for ch in &sys.channels {
        let _ = writeln!(out, "  {}", channel_line(sys, ch));
    }
    let _ = writeln!(out, "memory regions ({}):", sys.memory_regions.len());
    for mr in &sys.memory_regions {
        let phys = mr.phys_addr.map_or("anywhere".to_string(), |p| format!("at {p:#x}"));
        let _ = writeln!(out, "  {}: {:#x} bytes in {:#x} pages, {phys}", mr.name, mr.size, mr.page_size);
    }
    out
}

fn ancestors(sys: &System, mut pd: usize) -> usize {
    let mut depth = 0;
    while let Some(p) = sys.pds.get(pd).and_then(|p| p.parent) {
        if depth > sys.pds.len() {
            break;
        }
        depth += 1;
        pd = p;
    }
    depth
}

/// `ping:1 -- tally:0: ping calls tally (PPC), ping notifies tally`
fn channel_line(sys: &System, ch: &ChannelDef) -> String {
    let name = |pd: usize| sys.pds.get(pd).map_or("?", |p| p.name.as_str());
    let [a, b] = &ch.ends;
    let mut uses = Vec::new();
    for (from, to) in [(a, b), (b, a)] {
        if from.pp {
            uses.push(format!("{} calls {} (PPC)", name(from.pd), name(to.pd)));
        }
        if from.notify {
            uses.push(format!("{} notifies {}", name(from.pd), name(to.pd)));
        }
    }
    if uses.is_empty() {
        uses.push("unused".to_string());
    }
    format!("{}:{} -- {}:{}: {}", name(a.pd), a.id, name(b.pd), b.id, uses.join(", "))
}
