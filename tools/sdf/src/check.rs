//! The rules on a [`System`]'s values: names, references, ranges, alignment,
//! overlaps, id spaces and priorities, as Microkit 2.3.0's tool enforces
//! them (`tool/microkit/src/sdf.rs`). Every rule reports every offender; an
//! attribute that already failed to parse is skipped.

use crate::error::Rule;
use crate::limits::*;
use crate::model::{ProtectionDomain, System};
use crate::span::{Pos, Report, Span, Spans};

pub(crate) fn priority_message(v: u64) -> String {
    format!("priority {v} is out of range 0..={MAX_PRIORITY}")
}

pub(crate) fn child_id_message(v: u64) -> String {
    format!("child id {v} is out of range 0..={MAX_CHILD_ID}")
}

pub(crate) fn id_range_message(v: i128) -> String {
    format!("id {v} is out of range 0..={MAX_CHANNEL_ID}")
}

/// Runs every rule on `sys`, whose items are placed by `spans`.
pub(crate) fn check(sys: &System, spans: &Spans, r: &mut Report) {
    pd_set(sys, spans, r);
    pd_values(sys, spans, r);
    memory_regions(sys, spans, r);
    for (i, pd) in sys.pds.iter().enumerate() {
        maps(sys, pd, &spans.pds[i].maps, &spans.pds[i].pd, r);
    }
    setvars(sys, spans, r);
    irqs(sys, spans, r);
    channels(sys, spans, r);
    id_spaces(sys, spans, r);
}

/// Reports each item whose key was already used by an earlier one.
/// `items`: (key, element, attribute, span); `what` names the key.
fn duplicates<K: PartialEq>(r: &mut Report, rule: Rule, items: &[(K, &str, &str, &Span)], what: impl Fn(&K) -> String) {
    let mut sorted: Vec<_> = items.iter().collect();
    sorted.sort_by_key(|(_, _, attr, span)| pos_key(span.attr(attr)));
    for (i, (key, element, attr, span)) in sorted.iter().enumerate() {
        if let Some((_, first_el, first_attr, first)) = sorted[..i].iter().find(|(k, ..)| k == key) {
            let at = first.attr(first_attr).line;
            let msg = format!("{} is already used by the <{first_el}> at line {at}", what(key));
            r.add(rule, element, Some(attr), span, msg);
        }
    }
}

fn pos_key(p: Pos) -> (u32, u32) {
    (p.line, p.col)
}

/// At least one PD, at most 63, names unique and not reserved.
fn pd_set(sys: &System, spans: &Spans, r: &mut Report) {
    if sys.pds.is_empty() {
        let msg = "a system needs at least one <protection_domain>".to_string();
        r.add(Rule::NoPds, "system", None, &spans.system, msg);
    }
    if let Some(extra) = spans.pds.get(MAX_PDS) {
        let msg = format!("{} protection domains; Microkit allows at most {MAX_PDS}", sys.pds.len());
        r.add(Rule::TooManyPds, "protection_domain", None, &extra.pd, msg);
    }
    let mut names = Vec::new();
    for (pd, s) in sys.pds.iter().zip(&spans.pds) {
        if !s.pd.ok("name") {
            continue;
        }
        if pd.name == RESERVED_PD_NAME {
            let msg = format!("the name '{RESERVED_PD_NAME}' is reserved for Microkit's monitor");
            r.add(Rule::ReservedName, "protection_domain", Some("name"), &s.pd, msg);
        }
        names.push((pd.name.clone(), "protection_domain", "name", &s.pd));
    }
    duplicates(r, Rule::DuplicatePdName, &names, |n| format!("protection domain name '{n}'"));
    let mrs: Vec<_> = sys
        .memory_regions
        .iter()
        .zip(&spans.mrs)
        .filter(|(_, s)| s.ok("name"))
        .map(|(mr, s)| (mr.name.clone(), "memory_region", "name", s))
        .collect();
    duplicates(r, Rule::DuplicateMrName, &mrs, |n| format!("memory region name '{n}'"));
}

/// Priority, budget/period, stack size and child ids of each PD.
fn pd_values(sys: &System, spans: &Spans, r: &mut Report) {
    const PD: &str = "protection_domain";
    let mut child_ids = Vec::new();
    for (i, (pd, s)) in sys.pds.iter().zip(&spans.pds).enumerate() {
        let s = &s.pd;
        if pd.parent.is_some_and(|p| p >= i) {
            let msg = format!("parent index {:?} does not come before this PD", pd.parent);
            r.add(Rule::UnknownPd, PD, None, s, msg);
        }
        if s.ok("priority") && pd.priority > MAX_PRIORITY {
            r.add(Rule::Priority, PD, Some("priority"), s, priority_message(pd.priority.into()));
        }
        if s.all_ok(&["budget", "period"]) && pd.budget > pd.period {
            let msg = format!("budget ({}) must not exceed period ({})", pd.budget, pd.period);
            r.add(Rule::BudgetPeriod, PD, Some("budget"), s, msg);
        }
        if s.ok("stack_size") {
            let size = pd.stack_size;
            if !(MIN_STACK_SIZE..=MAX_STACK_SIZE).contains(&size) {
                let msg = format!("stack size {size:#x} is out of range {MIN_STACK_SIZE:#x}..={MAX_STACK_SIZE:#x}");
                r.add(Rule::StackSize, PD, Some("stack_size"), s, msg);
            } else if size % PAGE_SIZES[0] != 0 {
                let msg = format!("stack size {size:#x} is not a multiple of {:#x}", PAGE_SIZES[0]);
                r.add(Rule::StackSize, PD, Some("stack_size"), s, msg);
            }
        }
        if let (Some(id), Some(parent), true) = (pd.child_id, pd.parent, s.ok("id")) {
            if id > MAX_CHILD_ID {
                r.add(Rule::ChildId, PD, Some("id"), s, child_id_message(id.into()));
            }
            child_ids.push(((parent, id), PD, "id", s));
        }
    }
    duplicates(r, Rule::DuplicateChildId, &child_ids, |&(parent, id)| {
        format!("child id {id} of '{}'", sys.pds.get(parent).map_or("?", |p| &p.name))
    });
}

/// Page sizes, sizes, physical alignment and physical overlaps.
fn memory_regions(sys: &System, spans: &Spans, r: &mut Report) {
    const MR: &str = "memory_region";
    let mut placed: Vec<(u64, u64, &str, u32)> = Vec::new();
    for (mr, s) in sys.memory_regions.iter().zip(&spans.mrs) {
        let page_ok = s.ok("page_size") && PAGE_SIZES.contains(&mr.page_size);
        if s.ok("page_size") && !page_ok {
            let msg = format!("page size {:#x} is not supported (0x1000 or 0x200000)", mr.page_size);
            r.add(Rule::PageSize, MR, Some("page_size"), s, msg);
        }
        if s.ok("size") && mr.size == 0 {
            r.add(Rule::Size, MR, Some("size"), s, "size must not be 0".to_string());
        } else if s.ok("size") && page_ok && mr.size % mr.page_size != 0 {
            let msg = format!("size {:#x} is not a multiple of the page size {:#x}", mr.size, mr.page_size);
            r.add(Rule::Size, MR, Some("size"), s, msg);
        }
        let Some(phys) = mr.phys_addr.filter(|_| s.all_ok(&["phys_addr", "size"])) else {
            continue;
        };
        if page_ok && phys % mr.page_size != 0 {
            let msg = format!("{phys:#x} is not aligned to the page size {:#x}", mr.page_size);
            r.add(Rule::Alignment, MR, Some("phys_addr"), s, msg);
        }
        let Some(end) = phys.checked_add(mr.size) else {
            let msg = format!("{phys:#x} + size {:#x} wraps past 2^64", mr.size);
            r.add(Rule::AddressOverflow, MR, Some("phys_addr"), s, msg);
            continue;
        };
        for &(start, stop, name, line) in &placed {
            if phys < stop && start < end {
                let msg = format!(
                    "[{phys:#x}..{end:#x}) overlaps memory region '{name}' [{start:#x}..{stop:#x}) at line {line}"
                );
                r.add(Rule::PhysOverlap, MR, Some("phys_addr"), s, msg);
            }
        }
        placed.push((phys, end, &mr.name, s.at.line));
    }
}

/// Each map of `pd`: region exists, perms allowed, vaddr aligned, below the
/// stack, and no overlap with another map of the same PD.
fn maps(sys: &System, pd: &ProtectionDomain, spans: &[Span], pd_span: &Span, r: &mut Report) {
    const MAP: &str = "map";
    let bottom = pd.stack_bottom();
    let stack_ok = pd_span.ok("stack_size");
    let mut placed: Vec<(u64, u64, &str, u32)> = Vec::new();
    for (map, s) in pd.maps.iter().zip(spans) {
        if s.ok("perms") && !map.perms.read && !map.perms.execute {
            let msg = if map.perms.write {
                "write-only mappings are not allowed".to_string()
            } else {
                "perms must not be empty".to_string()
            };
            r.add(Rule::Perms, MAP, Some("perms"), s, msg);
        }
        if !s.ok("mr") {
            continue;
        }
        let Some(mr) = sys.memory_region(&map.mr) else {
            let msg = format!("no memory region is named '{}'", map.mr);
            r.add(Rule::UnknownMemoryRegion, MAP, Some("mr"), s, msg);
            continue;
        };
        if !s.ok("vaddr") {
            continue;
        }
        let vaddr = map.vaddr;
        if PAGE_SIZES.contains(&mr.page_size) && vaddr % mr.page_size != 0 {
            let msg = format!(
                "{vaddr:#x} is not page aligned (memory region '{}' has page size {:#x})",
                mr.name, mr.page_size
            );
            r.add(Rule::Alignment, MAP, Some("vaddr"), s, msg);
        }
        let Some(end) = vaddr.checked_add(mr.size) else {
            let msg = format!("{vaddr:#x} + size {:#x} of '{}' wraps past 2^64", mr.size, mr.name);
            r.add(Rule::AddressOverflow, MAP, Some("vaddr"), s, msg);
            continue;
        };
        if stack_ok && end > bottom {
            let msg = format!(
                "[{vaddr:#x}..{end:#x}) of '{}' reaches the stack, which starts at {bottom:#x} \
                 (stack_size {:#x}); maps must end at or below it",
                mr.name, pd.stack_size
            );
            r.add(Rule::MapBeyondStack, MAP, Some("vaddr"), s, msg);
        }
        for &(start, stop, name, line) in &placed {
            if vaddr < stop && start < end {
                let msg = format!(
                    "[{vaddr:#x}..{end:#x}) of '{}' overlaps the map of '{name}' [{start:#x}..{stop:#x}) at line {line}",
                    mr.name
                );
                r.add(Rule::MapOverlap, MAP, Some("vaddr"), s, msg);
            }
        }
        placed.push((vaddr, end, &mr.name, s.at.line));
    }
}

/// `region_paddr` names a region; no symbol is set twice in one image.
fn setvars(sys: &System, spans: &Spans, r: &mut Report) {
    let mut symbols: Vec<Vec<(String, &str, &str, &Span)>> = vec![Vec::new(); sys.pds.len()];
    for (i, (pd, s)) in sys.pds.iter().zip(&spans.pds).enumerate() {
        let own = &mut symbols[i];
        for (map, ms) in pd.maps.iter().zip(&s.maps) {
            for (sym, attr) in [(&map.setvar_vaddr, "setvar_vaddr"), (&map.setvar_size, "setvar_size")] {
                if let Some(sym) = sym {
                    own.push((sym.clone(), "map", attr, ms));
                }
            }
        }
        for (irq, is) in pd.irqs.iter().zip(&s.irqs) {
            if let Some(sym) = &irq.setvar_id {
                own.push((sym.clone(), "irq", "setvar_id", is));
            }
        }
        for (sv, ss) in pd.setvars.iter().zip(&s.setvars) {
            if ss.ok("symbol") {
                own.push((sv.symbol.clone(), "setvar", "symbol", ss));
            }
            if ss.ok("region_paddr") && sys.memory_region(&sv.region_paddr).is_none() {
                let msg = format!("no memory region is named '{}'", sv.region_paddr);
                r.add(Rule::UnknownMemoryRegion, "setvar", Some("region_paddr"), ss, msg);
            }
        }
        // A child's setvar_id is a symbol of the parent's image.
        if let (Some(theirs), Some(sym)) = (pd.parent.and_then(|p| symbols.get_mut(p)), &pd.setvar_id) {
            theirs.push((sym.clone(), "protection_domain", "setvar_id", &s.pd));
        }
    }
    for (ch, cs) in sys.channels.iter().zip(&spans.channels) {
        for (end, es) in ch.ends.iter().zip(&cs.ends) {
            if let (Some(sym), Some(own)) = (&end.setvar_id, symbols.get_mut(end.pd)) {
                own.push((sym.clone(), "end", "setvar_id", es));
            }
        }
    }
    for (pd, syms) in sys.pds.iter().zip(&symbols) {
        duplicates(r, Rule::DuplicateSetvar, syms, |k| format!("symbol '{k}' of '{}'", pd.name));
    }
}

/// IRQ ids in range; no interrupt number claimed twice in the system.
fn irqs(sys: &System, spans: &Spans, r: &mut Report) {
    let mut numbers = Vec::new();
    for (pd, s) in sys.pds.iter().zip(&spans.pds) {
        for (irq, is) in pd.irqs.iter().zip(&s.irqs) {
            if is.ok("id") && irq.id > MAX_CHANNEL_ID {
                r.add(Rule::IdRange, "irq", Some("id"), is, id_range_message(irq.id.into()));
            }
            if is.ok("irq") {
                numbers.push((irq.irq, "irq", "irq", is));
            }
        }
    }
    duplicates(r, Rule::DuplicateIrq, &numbers, |n| format!("interrupt {n}"));
}

/// Ends name existing PDs with ids in range; PPC one way, to a strictly
/// higher priority.
fn channels(sys: &System, spans: &Spans, r: &mut Report) {
    for (ch, cs) in sys.channels.iter().zip(&spans.channels) {
        let mut known = true;
        for (end, es) in ch.ends.iter().zip(&cs.ends) {
            if end.pd >= sys.pds.len() {
                let msg = format!("PD index {} does not exist", end.pd);
                r.add(Rule::UnknownPd, "end", Some("pd"), es, msg);
                known = false;
            }
            if es.ok("id") && end.id > MAX_CHANNEL_ID {
                r.add(Rule::IdRange, "end", Some("id"), es, id_range_message(end.id.into()));
            }
        }
        if ch.ends[0].pp && ch.ends[1].pp {
            let msg = "both ends have pp=\"true\"; a PPC goes one way only".to_string();
            r.add(Rule::BidirectionalPpc, "channel", None, &cs.channel, msg);
            continue;
        }
        if !known {
            continue;
        }
        for (k, (end, es)) in ch.ends.iter().zip(&cs.ends).enumerate() {
            let peer = &ch.ends[1 - k];
            let (caller, callee) = (&sys.pds[end.pd], &sys.pds[peer.pd]);
            let prio_ok = spans.pds[end.pd].pd.ok("priority") && spans.pds[peer.pd].pd.ok("priority");
            if end.pp && prio_ok && callee.priority <= caller.priority {
                let msg = format!(
                    "PPC from '{}' (priority {}) to '{}' (priority {}): the callee's priority must be strictly higher",
                    caller.name, caller.priority, callee.name, callee.priority
                );
                r.add(Rule::PpcPriority, "end", Some("pp"), es, msg);
            }
        }
    }
}

/// Channel ends and IRQs of one PD share one id space.
fn id_spaces(sys: &System, spans: &Spans, r: &mut Report) {
    let mut ids: Vec<Vec<(u8, &str, &str, &Span)>> = vec![Vec::new(); sys.pds.len()];
    for (i, (pd, s)) in sys.pds.iter().zip(&spans.pds).enumerate() {
        for (irq, is) in pd.irqs.iter().zip(&s.irqs).filter(|(_, is)| is.ok("id")) {
            ids[i].push((irq.id, "irq", "id", is));
        }
    }
    for (ch, cs) in sys.channels.iter().zip(&spans.channels) {
        for (end, es) in ch.ends.iter().zip(&cs.ends) {
            if let (true, Some(own)) = (es.ok("id"), ids.get_mut(end.pd)) {
                own.push((end.id, "end", "id", es));
            }
        }
    }
    for (pd, pd_ids) in sys.pds.iter().zip(&ids) {
        duplicates(r, Rule::DuplicateId, pd_ids, |id| format!("id {id} of '{}'", pd.name));
    }
}

/// Findings the microkit tool accepts but that are probably mistakes.
pub(crate) fn lint(sys: &System, r: &mut Report) {
    let spans = Spans::from_model(sys);
    for (mr, s) in sys.memory_regions.iter().zip(&spans.mrs) {
        if !sys.pds.iter().any(|pd| pd.maps.iter().any(|m| m.mr == mr.name)) {
            let msg = format!("memory region '{}' is not mapped by any protection domain", mr.name);
            r.add(Rule::UnusedMemoryRegion, "memory_region", None, s, msg);
        }
    }
    for (i, (pd, s)) in sys.pds.iter().zip(&spans.pds).enumerate() {
        let woken = sys.channels_of(i).any(|(_, peer)| peer.pp || peer.notify);
        if pd.passive && !woken && pd.irqs.is_empty() && sys.children_of(i).next().is_none() {
            let msg = format!(
                "passive protection domain '{}' has no PPC, notification, IRQ or child that could run it",
                pd.name
            );
            r.add(Rule::UnreachablePassive, "protection_domain", None, &s.pd, msg);
        }
    }
    for (ch, cs) in sys.channels.iter().zip(&spans.channels) {
        if ch.ends.iter().all(|e| !e.pp && !e.notify) {
            let msg = "neither end may notify or PPC the other".to_string();
            r.add(Rule::IdleChannel, "channel", None, &cs.channel, msg);
        }
    }
}
