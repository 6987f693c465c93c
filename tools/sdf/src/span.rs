//! Where each item of a [`System`] came from: the side table the checks use
//! to name a line and column, and to skip attributes that already failed to
//! parse (so one typo gives one error, not a cascade).

use crate::error::{Rule, SdfError};
use crate::model::System;

/// A 1-based line and column; 0 means unknown.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: u32,
    pub col: u32,
}

/// One element: its position, its attributes' positions, and the attributes
/// whose values were unusable (already reported).
#[derive(Clone, Debug, Default)]
pub(crate) struct Span {
    pub at: Pos,
    attrs: Vec<(String, Pos)>,
    bad: Vec<&'static str>,
}

impl Span {
    /// An element known only by its line (a model built in code).
    pub fn from_line(line: u32) -> Span {
        Span { at: Pos { line, col: 0 }, ..Span::default() }
    }

    pub fn new(at: Pos, attrs: Vec<(String, Pos)>) -> Span {
        Span { at, attrs, bad: Vec::new() }
    }

    /// Position of attribute `name`, or of the element if it has none.
    pub fn attr(&self, name: &str) -> Pos {
        self.attrs.iter().find(|(n, _)| n == name).map_or(self.at, |(_, p)| *p)
    }

    /// True unless attribute `name` was reported as unusable.
    pub fn ok(&self, name: &str) -> bool {
        !self.bad.contains(&name)
    }

    /// True if every attribute in `names` is usable.
    pub fn all_ok(&self, names: &[&str]) -> bool {
        names.iter().all(|n| self.ok(n))
    }

    pub fn mark_bad(&mut self, name: &'static str) {
        self.bad.push(name);
    }
}

/// Spans of one PD and its children elements, parallel to the model.
#[derive(Clone, Debug, Default)]
pub(crate) struct PdSpans {
    pub pd: Span,
    pub maps: Vec<Span>,
    pub irqs: Vec<Span>,
    pub setvars: Vec<Span>,
}

/// Spans of one channel and its two ends.
#[derive(Clone, Debug, Default)]
pub(crate) struct ChannelSpans {
    pub channel: Span,
    pub ends: [Span; 2],
}

/// Spans of a whole system, parallel to [`System`]'s vectors.
#[derive(Clone, Debug, Default)]
pub(crate) struct Spans {
    pub system: Span,
    pub mrs: Vec<Span>,
    pub pds: Vec<PdSpans>,
    pub channels: Vec<ChannelSpans>,
}

impl Spans {
    /// Spans made from the `line` fields of a model built in code.
    pub fn from_model(sys: &System) -> Spans {
        Spans {
            system: Span::default(),
            mrs: sys.memory_regions.iter().map(|mr| Span::from_line(mr.line)).collect(),
            pds: sys
                .pds
                .iter()
                .map(|pd| PdSpans {
                    pd: Span::from_line(pd.line),
                    maps: pd.maps.iter().map(|m| Span::from_line(m.line)).collect(),
                    irqs: pd.irqs.iter().map(|i| Span::from_line(i.line)).collect(),
                    setvars: pd.setvars.iter().map(|s| Span::from_line(s.line)).collect(),
                })
                .collect(),
            channels: sys
                .channels
                .iter()
                .map(|ch| ChannelSpans {
                    channel: Span::from_line(ch.line),
                    ends: [Span::from_line(ch.ends[0].line), Span::from_line(ch.ends[1].line)],
                })
                .collect(),
        }
    }
}

/// Collects findings for one file.
pub(crate) struct Report {
    file: String,
    pub errors: Vec<SdfError>,
}

impl Report {
    pub fn new(file: &str) -> Report {
        Report { file: file.to_string(), errors: Vec::new() }
    }

    /// A finding about `element` (and `attr`, if any) at `pos`.
    pub fn at(&mut self, rule: Rule, element: &str, attr: Option<&str>, pos: Pos, message: String) {
        self.errors.push(SdfError {
            file: self.file.clone(),
            line: pos.line,
            column: pos.col,
            element: (!element.is_empty()).then(|| element.to_string()),
            attribute: attr.map(str::to_string),
            rule,
            message,
        });
    }

    /// A finding about `element`, placed at `attr`'s position in `span`
    /// when an attribute is named.
    pub fn add(&mut self, rule: Rule, element: &str, attr: Option<&str>, span: &Span, message: String) {
        let pos = attr.map_or(span.at, |a| span.attr(a));
        self.at(rule, element, attr, pos, message);
    }

    /// The findings in file order (stable for equal lines).
    pub fn into_sorted(mut self) -> Vec<SdfError> {
        self.errors.sort_by_key(|e| (e.line, e.column));
        self.errors
    }
}
