//! Turning roxmltree's syntax errors into findings. For an unclosed tag
//! roxmltree says only "expected 'a' tag, not 'b'" or "the root node was
//! opened but never closed" (at 1:1), so a small tag scanner finds which
//! element was left open and where it was opened.

use crate::error::Rule;
use crate::span::{Pos, Report};

/// Reports `err` (from parsing `xml`) as one [`Rule::Xml`] finding.
pub(crate) fn report_xml_error(xml: &str, err: &roxmltree::Error, report: &mut Report) {
    use roxmltree::Error as E;
    let unclosed_kind = matches!(err, E::UnclosedRootNode | E::UnexpectedEndOfStream | E::UnexpectedCloseTag(..));
    let open = if unclosed_kind { find_unclosed(xml) } else { None };
    if let Some(open) = open {
        let msg = match &open.closed_by {
            Some((name, pos)) => {
                format!("unclosed tag: <{}> is not closed before </{name}> at line {}", open.name, pos.line)
            }
            None => format!(
                "unclosed tag: <{}> is never closed (the file ends at line {})",
                open.name,
                position(xml, xml.len()).line
            ),
        };
        report.at(Rule::Xml, &open.name, None, open.at, msg);
        return;
    }
    let p = err.pos();
    // roxmltree ends most messages with " at LINE:COL"; the line is ours.
    let text = err.to_string();
    let suffix = format!(" at {}:{}", p.row, p.col);
    let msg = text.strip_suffix(&suffix).unwrap_or(&text).to_string();
    report.at(Rule::Xml, "", None, Pos { line: p.row, col: p.col }, format!("malformed XML: {msg}"));
}

/// An element left open.
#[derive(Debug, PartialEq)]
struct Unclosed {
    name: String,
    at: Pos,
    /// The close tag met instead, if any.
    closed_by: Option<(String, Pos)>,
}

/// The innermost element left open: the top of the stack at the first
/// mismatched close tag, or at the end of the text.
fn find_unclosed(xml: &str) -> Option<Unclosed> {
    let mut stack: Vec<(String, Pos)> = Vec::new();
    let mut i = 0;
    while let Some(off) = xml[i..].find('<').map(|o| o + i) {
        let rest = &xml[off..];
        let skip_to = |end: &str| rest.find(end).map(|e| off + e + end.len());
        let next = if rest.starts_with("<!--") {
            skip_to("-->")
        } else if rest.starts_with("<![CDATA[") {
            skip_to("]]>")
        } else if rest.starts_with("<?") {
            skip_to("?>")
        } else if rest.starts_with("<!") {
            skip_to(">")
        } else if let Some(close) = rest.strip_prefix("</") {
            let name = tag_name(close);
            match stack.last() {
                Some((open, _)) if *open == name => {
                    stack.pop();
                }
                Some((open, at)) => {
                    let closed_by = Some((name.to_string(), position(xml, off)));
                    return Some(Unclosed { name: open.clone(), at: *at, closed_by });
                }
                None => return None,
            }
            skip_to(">")
        } else {
            let name = tag_name(&rest[1..]);
            let end = tag_end(rest).map(|e| off + e);
            if end.is_some_and(|e| !xml[..e].ends_with('/')) {
                stack.push((name.to_string(), position(xml, off)));
            }
            end.map(|e| e + 1)
        };
        match next {
            Some(n) => i = n,
            None => break,
        }
    }
    let (name, at) = stack.pop()?;
    Some(Unclosed { name, at, closed_by: None })
}

fn tag_name(s: &str) -> &str {
    let end = s.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(s.len());
    &s[..end]
}

/// Offset of the `>` ending the start tag at the beginning of `s`, skipping
/// quoted attribute values (which may contain `>`).
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// 1-based line and column (in characters) of byte `off`.
fn position(xml: &str, off: usize) -> Pos {
    let before = &xml[..off];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    let col = before[line_start..].chars().count() + 1;
    Pos { line: line as u32, col: col as u32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_innermost_open_tag_at_mismatch() {
        let xml = "<a>\n <b x='>'>\n  <c/>\n</a>";
        let u = find_unclosed(xml).unwrap();
        assert_eq!(u.name, "b");
        assert_eq!(u.at, Pos { line: 2, col: 2 });
        assert_eq!(u.closed_by, Some(("a".to_string(), Pos { line: 4, col: 1 })));
    }

    #[test]
    fn finds_open_tag_at_end_of_text() {
        let xml = "<?xml version='1.0'?>\n<a>\n<!-- <z> -->\n<b></b>";
        let u = find_unclosed(xml).unwrap();
        assert_eq!((u.name.as_str(), u.at.line, u.closed_by), ("a", 2, None));
    }

    #[test]
    fn balanced_text_has_nothing_open() {
        assert_eq!(find_unclosed("<a><b/><c></c></a>"), None);
    }
}
