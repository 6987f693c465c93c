//! From XML text to a [`System`] plus its [`Spans`]: element and attribute
//! names, required attributes, and values that must parse. Rules about
//! values that the model can hold are left to [`crate::check`], so a system
//! built in code gets the same checks.

use roxmltree::Node;

use crate::check::id_range_message;
use crate::error::Rule;
use crate::limits::{DEFAULT_BUDGET, DEFAULT_STACK_SIZE, MAX_CHANNEL_ID, PAGE_SIZES};
use crate::model::{ChannelDef, ChannelEnd, Irq, Map, MemoryRegion, Perms, ProtectionDomain, Setvar, System, Trigger};
use crate::scan;
use crate::span::{ChannelSpans, PdSpans, Pos, Report, Span, Spans};

/// Reads `xml`. `None` when the text is not well-formed XML or its root is
/// not `<system>` (the reason is in `report`); otherwise the model of every
/// element that could be read, even if `report` holds errors.
pub(crate) fn read(xml: &str, report: &mut Report) -> Option<(System, Spans)> {
    let doc = match roxmltree::Document::parse(xml) {
        Ok(doc) => doc,
        Err(e) => {
            scan::report_xml_error(xml, &e, report);
            return None;
        }
    };
    let root = doc.root_element();
    if root.tag_name().name() != "system" {
        let msg = format!("the root element must be <system>, not <{}>", root.tag_name().name());
        report.at(Rule::Root, root.tag_name().name(), None, pos_of(root, root.range().start), msg);
        return None;
    }
    let mut r = Reader {
        report,
        sys: System { memory_regions: Vec::new(), pds: Vec::new(), channels: Vec::new() },
        spans: Spans::default(),
    };
    r.spans.system = r.open(root, &[], &[]).span;
    r.no_text(root);
    // Channels name PDs that may come later in the file.
    let mut channels = Vec::new();
    for child in root.children().filter(Node::is_element) {
        match child.tag_name().name() {
            "memory_region" => r.memory_region(child),
            "protection_domain" => r.pd(child, None),
            "channel" => channels.push(child),
            "domains" | "io_address_space" | "virtual_machine" => r.unsupported(child),
            _ => r.unknown(child),
        }
    }
    for ch in channels {
        r.channel(ch);
    }
    Some((r.sys, r.spans))
}

fn pos_of(node: Node, byte: usize) -> Pos {
    let p = node.document().text_pos_at(byte);
    Pos { line: p.row, col: p.col }
}

/// An element being read: its node, name and span.
struct Elem<'a, 'i> {
    node: Node<'a, 'i>,
    name: &'a str,
    span: Span,
}

struct Reader<'r> {
    report: &'r mut Report,
    sys: System,
    spans: Spans,
}

impl Reader<'_> {
    /// Starts reading `node`: records positions and reports attributes not
    /// in `allowed` (as unsupported if in `unsupported`).
    fn open<'a, 'i>(&mut self, node: Node<'a, 'i>, allowed: &[&str], unsupported: &[&str]) -> Elem<'a, 'i> {
        let name = node.tag_name().name();
        let mut attrs = Vec::new();
        for a in node.attributes() {
            let pos = pos_of(node, a.range().start);
            attrs.push((a.name().to_string(), pos));
            if allowed.contains(&a.name()) {
                continue;
            }
            let (rule, msg) = if unsupported.contains(&a.name()) {
                (Rule::Unsupported, "valid Microkit, but not supported by sevio-sdf".to_string())
            } else {
                (Rule::UnknownAttribute, format!("unknown attribute (allowed: {})", list(allowed)))
            };
            self.report.at(rule, name, Some(a.name()), pos, msg);
        }
        Elem { node, name, span: Span::new(pos_of(node, node.range().start), attrs) }
    }

    fn err(&mut self, e: &mut Elem, rule: Rule, attr: &'static str, msg: String) {
        self.report.add(rule, e.name, Some(attr), &e.span, msg);
        e.span.mark_bad(attr);
    }

    fn unknown(&mut self, node: Node) {
        let name = node.tag_name().name();
        let parent = node.parent_element().map_or("", |p| p.tag_name().name());
        let msg = format!("unknown element inside <{parent}>");
        self.report.at(Rule::UnknownElement, name, None, pos_of(node, node.range().start), msg);
    }

    fn unsupported(&mut self, node: Node) {
        let name = node.tag_name().name();
        let msg = "valid Microkit, but not supported by sevio-sdf".to_string();
        self.report.at(Rule::Unsupported, name, None, pos_of(node, node.range().start), msg);
    }

    /// Reports non-blank text anywhere below `node`.
    fn no_text(&mut self, node: Node) {
        for t in node.descendants().filter(|n| n.is_text()) {
            let text = t.text().unwrap_or("");
            if text.trim().is_empty() {
                continue;
            }
            let parent = t.parent_element().map_or("", |p| p.tag_name().name());
            let start = t.range().start + (text.len() - text.trim_start().len());
            let msg = format!("unexpected text {:?}", text.trim());
            self.report.at(Rule::UnexpectedText, parent, None, pos_of(t, start), msg);
        }
    }

    /// A required attribute's text.
    fn req<'a>(&mut self, e: &mut Elem<'a, '_>, attr: &'static str) -> Option<&'a str> {
        let v = e.node.attribute(attr);
        if v.is_none() {
            self.err(e, Rule::MissingAttribute, attr, "required attribute is missing".into());
        }
        v
    }

    /// A number in Microkit's syntax: decimal, or hex after `0x`; `_` ignored.
    fn num(&mut self, e: &mut Elem, attr: &'static str, text: &str) -> Option<u64> {
        let digits: String = text.chars().filter(|&c| c != '_').collect();
        let parsed = match digits.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => digits.parse::<u64>(),
        };
        match parsed {
            Ok(v) if !digits.starts_with('+') => Some(v),
            _ => {
                let msg = format!("'{text}' is not a number (decimal, or hex with 0x) that fits 64 bits");
                self.err(e, Rule::InvalidNumber, attr, msg);
                None
            }
        }
    }

    fn opt_num(&mut self, e: &mut Elem, attr: &'static str) -> Option<u64> {
        let text = e.node.attribute(attr)?;
        self.num(e, attr, text)
    }

    fn req_num(&mut self, e: &mut Elem, attr: &'static str) -> Option<u64> {
        let text = self.req(e, attr)?;
        self.num(e, attr, text)
    }

    /// A required decimal integer: the microkit tool reads channel ids, IRQ
    /// ids and IRQ numbers with Rust's `parse` (and panics on anything else).
    fn req_decimal(&mut self, e: &mut Elem, attr: &'static str) -> Option<i128> {
        let text = self.req(e, attr)?;
        match text.parse::<i128>() {
            Ok(v) => Some(v),
            Err(_) => {
                let msg = format!("'{text}' is not a decimal integer (microkit reads {attr} as decimal only)");
                self.err(e, Rule::InvalidNumber, attr, msg);
                None
            }
        }
    }

    /// A channel or IRQ id, range-checked here so that an end of a channel
    /// dropped for another reason still gets its finding.
    fn id(&mut self, e: &mut Elem) -> u8 {
        let Some(v) = self.req_decimal(e, "id") else {
            return 0;
        };
        match u8::try_from(v) {
            Ok(id) if id <= MAX_CHANNEL_ID => id,
            _ => {
                self.err(e, Rule::IdRange, "id", id_range_message(v));
                0
            }
        }
    }

    fn bool(&mut self, e: &mut Elem, attr: &'static str, default: bool) -> bool {
        match e.node.attribute(attr) {
            None => default,
            Some("true") => true,
            Some("false") => false,
            Some(other) => {
                let msg = format!("'{other}' is not 'true' or 'false'");
                self.err(e, Rule::InvalidBool, attr, msg);
                default
            }
        }
    }

    /// `value` as a `T`, or a `rule` error with `msg` and `T::default()`.
    fn narrow<T: TryFrom<u64> + Default>(
        &mut self,
        e: &mut Elem,
        attr: &'static str,
        value: Option<u64>,
        rule: Rule,
        msg: impl FnOnce(u64) -> String,
    ) -> Option<T> {
        let v = value?;
        match T::try_from(v) {
            Ok(t) => Some(t),
            Err(_) => {
                self.err(e, rule, attr, msg(v));
                Some(T::default())
            }
        }
    }

    fn memory_region(&mut self, node: Node) {
        const ALLOWED: &[&str] = &["name", "size", "page_size", "phys_addr"];
        let mut e = self.open(node, ALLOWED, &["prefill_path", "prefill_bootinfo"]);
        let name = self.req(&mut e, "name").unwrap_or_default().to_string();
        let size = self.req_num(&mut e, "size").unwrap_or(0);
        let page_size = self.opt_num(&mut e, "page_size").unwrap_or(PAGE_SIZES[0]);
        let phys_addr = self.opt_num(&mut e, "phys_addr");
        self.no_children(node);
        let line = e.span.at.line;
        self.sys.memory_regions.push(MemoryRegion { name, size, page_size, phys_addr, line });
        self.spans.mrs.push(e.span);
    }

    fn no_children(&mut self, node: Node) {
        for child in node.children().filter(Node::is_element) {
            self.unknown(child);
        }
    }

    fn pd(&mut self, node: Node, parent: Option<usize>) {
        let mut allowed = vec!["name", "priority", "budget", "period", "passive", "stack_size", "smc", "cpu", "fpu"];
        if parent.is_some() {
            allowed.extend(["id", "setvar_id"]);
        }
        let mut e = self.open(node, &allowed, &["domain"]);
        let name = self.req(&mut e, "name").unwrap_or_default().to_string();
        let prio = self.opt_num(&mut e, "priority");
        let priority = self.narrow(&mut e, "priority", prio, Rule::Priority, crate::check::priority_message);
        let budget = self.opt_num(&mut e, "budget").unwrap_or(DEFAULT_BUDGET);
        let period = self.opt_num(&mut e, "period").unwrap_or(budget);
        let passive = self.bool(&mut e, "passive", false);
        let stack_size = self.opt_num(&mut e, "stack_size").unwrap_or(DEFAULT_STACK_SIZE);
        let smc = self.bool(&mut e, "smc", false);
        let fpu = self.bool(&mut e, "fpu", true);
        let cpu_num = self.opt_num(&mut e, "cpu");
        let cpu = self.narrow(&mut e, "cpu", cpu_num, Rule::InvalidNumber, |v| format!("cpu {v} does not fit 0..=255"));
        let child_id = match parent {
            Some(_) => {
                let id = self.req_num(&mut e, "id");
                self.narrow(&mut e, "id", id, Rule::ChildId, crate::check::child_id_message)
            }
            None => None,
        };
        let setvar_id = parent.and_then(|_| e.node.attribute("setvar_id")).map(str::to_string);
        let index = self.sys.pds.len();
        self.sys.pds.push(ProtectionDomain {
            name,
            priority: priority.unwrap_or(0),
            passive,
            budget,
            period,
            stack_size,
            program_image: String::new(),
            maps: Vec::new(),
            irqs: Vec::new(),
            setvars: Vec::new(),
            parent,
            child_id,
            line: e.span.at.line,
            fpu,
            smc,
            cpu: cpu.unwrap_or(0),
            program_image_for_symbols: None,
            setvar_id,
        });
        self.spans.pds.push(PdSpans { pd: e.span.clone(), ..PdSpans::default() });
        let mut image = false;
        for child in node.children().filter(Node::is_element) {
            match child.tag_name().name() {
                "program_image" => {
                    if image {
                        let msg = "<program_image> may appear only once".to_string();
                        let pos = pos_of(child, child.range().start);
                        self.report.at(Rule::DuplicateElement, "program_image", None, pos, msg);
                    }
                    image = true;
                    self.program_image(child, index);
                }
                "map" => self.map(child, index),
                "irq" => self.irq(child, index),
                "setvar" => self.setvar(child, index),
                "protection_domain" => self.pd(child, Some(index)),
                "virtual_machine" | "ioport" | "cspace" => self.unsupported(child),
                _ => self.unknown(child),
            }
        }
        if !image {
            let msg = "a <protection_domain> needs a <program_image>".to_string();
            self.report.add(Rule::MissingElement, e.name, None, &e.span, msg);
        }
    }

    fn program_image(&mut self, node: Node, pd: usize) {
        let mut e = self.open(node, &["path", "path_for_symbols"], &[]);
        let path = self.req(&mut e, "path").unwrap_or_default().to_string();
        self.no_children(node);
        let target = &mut self.sys.pds[pd];
        target.program_image = path;
        target.program_image_for_symbols = node.attribute("path_for_symbols").map(str::to_string);
    }

    fn map(&mut self, node: Node, pd: usize) {
        const ALLOWED: &[&str] = &["mr", "vaddr", "perms", "cached", "setvar_vaddr", "setvar_size"];
        let mut e = self.open(node, ALLOWED, &["setvar_prefill_size"]);
        let mr = self.req(&mut e, "mr").unwrap_or_default().to_string();
        let vaddr = self.req_num(&mut e, "vaddr").unwrap_or(0);
        let perms = match node.attribute("perms") {
            None => Perms::RW,
            Some(text) => Perms::parse(text).unwrap_or_else(|| {
                let msg = format!("'{text}' may only use the letters r, w and x");
                self.err(&mut e, Rule::Perms, "perms", msg);
                Perms::RW
            }),
        };
        let cached = self.bool(&mut e, "cached", true);
        self.no_children(node);
        self.sys.pds[pd].maps.push(Map {
            mr,
            vaddr,
            perms,
            cached,
            setvar_vaddr: node.attribute("setvar_vaddr").map(str::to_string),
            setvar_size: node.attribute("setvar_size").map(str::to_string),
            line: e.span.at.line,
        });
        self.spans.pds[pd].maps.push(e.span);
    }

    fn irq(&mut self, node: Node, pd: usize) {
        const X86: &[&str] = &["pin", "pcidev", "ioapic", "polarity", "vector", "handle"];
        let mut e = self.open(node, &["irq", "id", "trigger", "setvar_id"], X86);
        let x86 = X86.iter().any(|a| node.has_attribute(*a));
        let number = if x86 { None } else { self.req_decimal(&mut e, "irq") };
        let irq = match number.map(u32::try_from) {
            Some(Ok(n)) => n,
            Some(Err(_)) => {
                let msg = format!("{} is not an interrupt number (0..=4294967295)", number.unwrap_or_default());
                self.err(&mut e, Rule::InvalidNumber, "irq", msg);
                0
            }
            None => {
                e.span.mark_bad("irq");
                0
            }
        };
        let id = self.id(&mut e);
        let trigger = match node.attribute("trigger") {
            None | Some("level") => Trigger::Level,
            Some("edge") => Trigger::Edge,
            Some(other) => {
                let msg = format!("'{other}' is not 'level' or 'edge'");
                self.err(&mut e, Rule::InvalidValue, "trigger", msg);
                Trigger::Level
            }
        };
        self.no_children(node);
        let setvar_id = node.attribute("setvar_id").map(str::to_string);
        let line = e.span.at.line;
        self.sys.pds[pd].irqs.push(Irq { irq, id, trigger, line, setvar_id });
        self.spans.pds[pd].irqs.push(e.span);
    }

    fn setvar(&mut self, node: Node, pd: usize) {
        let mut e = self.open(node, &["symbol", "region_paddr"], &[]);
        let symbol = self.req(&mut e, "symbol").unwrap_or_default().to_string();
        let region_paddr = self.req(&mut e, "region_paddr").unwrap_or_default().to_string();
        self.no_children(node);
        let line = e.span.at.line;
        self.sys.pds[pd].setvars.push(Setvar { symbol, region_paddr, line });
        self.spans.pds[pd].setvars.push(e.span);
    }

    fn channel(&mut self, node: Node) {
        let e = self.open(node, &[], &[]);
        let mut ends = Vec::new();
        let mut resolved = true;
        for child in node.children().filter(Node::is_element) {
            if child.tag_name().name() != "end" {
                self.unknown(child);
                continue;
            }
            match self.end(child) {
                Some(end) => ends.push(end),
                None => resolved = false,
            }
        }
        let count = node.children().filter(|c| c.has_tag_name("end")).count();
        if count != 2 {
            let msg = format!("a channel needs exactly two <end>s, found {count}");
            self.report.add(Rule::ChannelEnds, e.name, None, &e.span, msg);
            return;
        }
        let (true, Ok([a, b])) = (resolved, <[_; 2]>::try_from(ends)) else {
            return;
        };
        self.sys.channels.push(ChannelDef { ends: [a.0, b.0], line: e.span.at.line });
        self.spans.channels.push(ChannelSpans { channel: e.span, ends: [a.1, b.1] });
    }

    /// One `<end>`; `None` if its PD cannot be found (already reported).
    fn end(&mut self, node: Node) -> Option<(ChannelEnd, Span)> {
        let mut e = self.open(node, &["pd", "id", "pp", "notify", "setvar_id"], &[]);
        let pd_name = self.req(&mut e, "pd");
        let id = self.id(&mut e);
        let pp = self.bool(&mut e, "pp", false);
        let notify = self.bool(&mut e, "notify", true);
        self.no_children(node);
        let pd = match pd_name {
            Some(name) => match self.sys.pd_index(name) {
                Some(pd) => pd,
                None => {
                    let msg = format!("no protection domain is named '{name}'");
                    self.err(&mut e, Rule::UnknownPd, "pd", msg);
                    return None;
                }
            },
            None => return None,
        };
        let setvar_id = node.attribute("setvar_id").map(str::to_string);
        let line = e.span.at.line;
        Some((ChannelEnd { pd, id, pp, notify, setvar_id, line }, e.span))
    }
}

fn list(names: &[&str]) -> String {
    if names.is_empty() { "none".to_string() } else { names.join(", ") }
}
