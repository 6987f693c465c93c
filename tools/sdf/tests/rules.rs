//! One test per rule: a small system.xml that breaks exactly that rule, and
//! the finding it must give (rule, element, attribute, line, message).

use sevio_sdf::{Rule, SdfError, parse};

/// `<system>` on line 1, then `lines` from line 2, then `</system>`.
fn sys(lines: &[&str]) -> String {
    format!("<system>\n{}\n</system>\n", lines.join("\n"))
}

/// A one-line PD.
fn pd(name: &str, priority: u32) -> String {
    format!(
        r#"<protection_domain name="{name}" priority="{priority}"><program_image path="{name}.elf"/></protection_domain>"#
    )
}

/// PD `a` on line 2, its program image on line 3, then `children` from
/// line 4.
fn in_a(children: &[&str]) -> String {
    let mut lines =
        vec![r#"<protection_domain name="a">"#.to_string(), r#"  <program_image path="a.elf"/>"#.to_string()];
    lines.extend(children.iter().map(|c| format!("  {c}")));
    lines.push("</protection_domain>".to_string());
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    sys(&refs)
}

/// The only finding `xml` gives.
#[track_caller]
fn one(xml: &str) -> SdfError {
    let errors = parse(xml).expect_err("the system should be rejected");
    assert_eq!(errors.len(), 1, "expected exactly one finding, got {errors:#?}");
    errors.into_iter().next().unwrap()
}

/// Asserts the only finding of `xml`.
#[track_caller]
fn expect(xml: &str, rule: Rule, element: &str, attribute: Option<&str>, line: u32, message: &str) -> SdfError {
    let e = one(xml);
    assert_eq!(e.rule, rule, "{e}");
    assert_eq!(e.element.as_deref(), Some(element), "{e}");
    assert_eq!(e.attribute.as_deref(), attribute, "{e}");
    assert_eq!(e.line, line, "{e}");
    assert_eq!(e.message, message, "{e}");
    e
}

#[track_caller]
fn valid(xml: &str) {
    if let Err(errors) = parse(xml) {
        panic!("expected a valid system, got {errors:#?}");
    }
}

// ---- XML and document shape ----

#[test]
fn unclosed_tag_names_the_open_element_and_its_line() {
    let xml = "<system>\n  <protection_domain name=\"a\">\n    <program_image path=\"a.elf\">\n  </protection_domain>\n</system>\n";
    let e = expect(
        xml,
        Rule::Xml,
        "program_image",
        None,
        3,
        "unclosed tag: <program_image> is not closed before </protection_domain> at line 4",
    );
    assert_eq!(e.column, 5);
    assert_eq!(
        e.to_string(),
        "system.xml:3: <program_image>: unclosed tag: <program_image> is not closed before </protection_domain> at line 4"
    );
}

#[test]
fn unclosed_root_at_end_of_file() {
    let xml = "<system>\n  <protection_domain name=\"a\">\n";
    expect(
        xml,
        Rule::Xml,
        "protection_domain",
        None,
        2,
        "unclosed tag: <protection_domain> is never closed (the file ends at line 3)",
    );
}

#[test]
fn other_malformed_xml_keeps_the_parser_position() {
    let xml = "<system>\n\n  <memory_region name=\"x\" size=\"0x1000\" size=\"0x2000\"/>\n</system>";
    let e = one(xml);
    assert_eq!((e.rule, e.line, e.element.as_deref()), (Rule::Xml, 3, None));
    assert!(e.message.starts_with("malformed XML: attribute 'size'"), "{e}");
}

#[test]
fn root_must_be_system() {
    expect("<sytsem/>", Rule::Root, "sytsem", None, 1, "the root element must be <system>, not <sytsem>");
}

#[test]
fn text_inside_elements_is_rejected() {
    let xml = sys(&[&pd("a", 1), "<channel>", "  oops", "</channel>"]);
    // The channel also lacks ends; only the text is asserted here.
    let errors = parse(&xml).unwrap_err();
    let e = errors.iter().find(|e| e.rule == Rule::UnexpectedText).expect("text finding");
    assert_eq!((e.element.as_deref(), e.line, e.column), (Some("channel"), 4, 3));
    assert_eq!(e.message, "unexpected text \"oops\"");
}

#[test]
fn unknown_element() {
    let xml = in_a(&[r#"<mapping mr="x" vaddr="0x1000"/>"#]);
    expect(&xml, Rule::UnknownElement, "mapping", None, 4, "unknown element inside <protection_domain>");
}

#[test]
fn unknown_attribute_names_the_allowed_ones() {
    let xml = sys(&[&pd("a", 1), r#"<memory_region name="m" size="0x1000" colour="red"/>"#]);
    let e = expect(
        &xml,
        Rule::UnknownAttribute,
        "memory_region",
        Some("colour"),
        3,
        "unknown attribute (allowed: name, size, page_size, phys_addr)",
    );
    assert_eq!(e.column, 39, "column of the attribute, not of the element");
}

#[test]
fn valid_microkit_that_sevio_does_not_model() {
    let xml = sys(&[&pd("a", 1), r#"<memory_region name="m" size="0x1000" prefill_path="blob.bin"/>"#]);
    expect(
        &xml,
        Rule::Unsupported,
        "memory_region",
        Some("prefill_path"),
        3,
        "valid Microkit, but not supported by sevio-sdf",
    );
    let xml = sys(&[&pd("a", 1), "<domains/>"]);
    expect(&xml, Rule::Unsupported, "domains", None, 3, "valid Microkit, but not supported by sevio-sdf");
}

#[test]
fn missing_required_attribute() {
    let xml = sys(&[
        r#"<memory_region name="m" size="0x1000"/>"#,
        r#"<protection_domain name="a">"#,
        r#"  <program_image path="a.elf"/>"#,
        r#"  <map vaddr="0x1000000"/>"#,
        "</protection_domain>",
    ]);
    expect(&xml, Rule::MissingAttribute, "map", Some("mr"), 5, "required attribute is missing");
}

#[test]
fn protection_domain_needs_a_program_image() {
    let xml = sys(&[r#"<protection_domain name="a" priority="1">"#, "</protection_domain>"]);
    expect(&xml, Rule::MissingElement, "protection_domain", None, 2, "a <protection_domain> needs a <program_image>");
}

#[test]
fn program_image_only_once() {
    let xml = in_a(&[r#"<program_image path="b.elf"/>"#]);
    expect(&xml, Rule::DuplicateElement, "program_image", None, 4, "<program_image> may appear only once");
}

// ---- values ----

#[test]
fn numbers_are_decimal_or_0x_hex() {
    let xml = sys(&[&pd("a", 1), r#"<memory_region name="m" size="4k"/>"#]);
    expect(
        &xml,
        Rule::InvalidNumber,
        "memory_region",
        Some("size"),
        3,
        "'4k' is not a number (decimal, or hex with 0x) that fits 64 bits",
    );
    // Underscores are ignored, as microkit does.
    let sys_ok =
        parse(&sys(&[&pd("a", 1), r#"<memory_region name="m" size="0x20_0000" page_size="2097152"/>"#])).unwrap();
    assert_eq!(sys_ok.memory_regions[0].size, 0x20_0000);
    assert_eq!(sys_ok.memory_regions[0].page_size, 0x20_0000);
}

#[test]
fn ids_are_decimal_only() {
    let xml = in_a(&[r#"<irq irq="33" id="0x3"/>"#]);
    expect(
        &xml,
        Rule::InvalidNumber,
        "irq",
        Some("id"),
        4,
        "'0x3' is not a decimal integer (microkit reads id as decimal only)",
    );
}

#[test]
fn booleans_are_true_or_false() {
    let xml = sys(&[r#"<protection_domain name="a" passive="yes"><program_image path="a.elf"/></protection_domain>"#]);
    expect(&xml, Rule::InvalidBool, "protection_domain", Some("passive"), 2, "'yes' is not 'true' or 'false'");
}

#[test]
fn irq_trigger_is_level_or_edge() {
    let xml = in_a(&[r#"<irq irq="33" id="1" trigger="rising"/>"#]);
    expect(&xml, Rule::InvalidValue, "irq", Some("trigger"), 4, "'rising' is not 'level' or 'edge'");
}

fn map_with_perms(perms: &str) -> String {
    sys(&[
        r#"<memory_region name="m" size="0x1000"/>"#,
        r#"<protection_domain name="a">"#,
        r#"  <program_image path="a.elf"/>"#,
        &format!(r#"  <map mr="m" vaddr="0x1000000" perms="{perms}"/>"#),
        "</protection_domain>",
    ])
}

#[test]
fn perms_are_r_w_x_letters_not_write_only() {
    expect(&map_with_perms("rwz"), Rule::Perms, "map", Some("perms"), 5, "'rwz' may only use the letters r, w and x");
    expect(&map_with_perms("w"), Rule::Perms, "map", Some("perms"), 5, "write-only mappings are not allowed");
    expect(&map_with_perms(""), Rule::Perms, "map", Some("perms"), 5, "perms must not be empty");
    valid(&map_with_perms("rx"));
    valid(&map_with_perms("r"));
}

#[test]
fn priority_is_at_most_254() {
    for p in ["255", "300"] {
        let xml = sys(&[&format!(
            r#"<protection_domain name="a" priority="{p}"><program_image path="a"/></protection_domain>"#
        )]);
        let msg = format!("priority {p} is out of range 0..=254");
        expect(&xml, Rule::Priority, "protection_domain", Some("priority"), 2, &msg);
    }
    valid(&sys(&[&pd("a", 254)]));
}

#[test]
fn budget_at_most_period() {
    let xml = sys(&[
        r#"<protection_domain name="a" budget="2000" period="1000"><program_image path="a"/></protection_domain>"#,
    ]);
    expect(
        &xml,
        Rule::BudgetPeriod,
        "protection_domain",
        Some("budget"),
        2,
        "budget (2000) must not exceed period (1000)",
    );
    // The period defaults to the budget.
    let s = parse(&sys(&[r#"<protection_domain name="a" budget="500"><program_image path="a"/></protection_domain>"#]))
        .unwrap();
    assert_eq!((s.pds[0].budget, s.pds[0].period), (500, 500));
}

#[test]
fn stack_size_bounds_and_granule() {
    let with = |size: &str| {
        sys(&[&format!(
            r#"<protection_domain name="a" stack_size="{size}"><program_image path="a"/></protection_domain>"#
        )])
    };
    let range = "is out of range 0x1000..=0x1000000";
    expect(
        &with("0x800"),
        Rule::StackSize,
        "protection_domain",
        Some("stack_size"),
        2,
        &format!("stack size 0x800 {range}"),
    );
    expect(
        &with("0x1001000"),
        Rule::StackSize,
        "protection_domain",
        Some("stack_size"),
        2,
        &format!("stack size 0x1001000 {range}"),
    );
    expect(
        &with("0x1800"),
        Rule::StackSize,
        "protection_domain",
        Some("stack_size"),
        2,
        "stack size 0x1800 is not a multiple of 0x1000",
    );
    valid(&with("0x1000"));
    valid(&with("0x1000000"));
}

// ---- memory regions ----

fn mr(attrs: &str) -> String {
    sys(&[&pd("a", 1), &format!(r#"<memory_region name="m" {attrs}/>"#)])
}

#[test]
fn page_size_is_4k_or_2m() {
    expect(
        &mr(r#"size="0x3000" page_size="0x3000""#),
        Rule::PageSize,
        "memory_region",
        Some("page_size"),
        3,
        "page size 0x3000 is not supported (0x1000 or 0x200000)",
    );
}

#[test]
fn size_is_a_nonzero_multiple_of_the_page_size() {
    expect(
        &mr(r#"size="0x1800""#),
        Rule::Size,
        "memory_region",
        Some("size"),
        3,
        "size 0x1800 is not a multiple of the page size 0x1000",
    );
    expect(
        &mr(r#"size="0x201000" page_size="0x200000""#),
        Rule::Size,
        "memory_region",
        Some("size"),
        3,
        "size 0x201000 is not a multiple of the page size 0x200000",
    );
    expect(&mr(r#"size="0""#), Rule::Size, "memory_region", Some("size"), 3, "size must not be 0");
}

#[test]
fn phys_addr_is_page_aligned() {
    expect(
        &mr(r#"size="0x200000" page_size="0x200000" phys_addr="0x40001000""#),
        Rule::Alignment,
        "memory_region",
        Some("phys_addr"),
        3,
        "0x40001000 is not aligned to the page size 0x200000",
    );
}

#[test]
fn phys_range_must_not_wrap() {
    expect(
        &mr(r#"size="0x2000" phys_addr="0xFFFFFFFFFFFFF000""#),
        Rule::AddressOverflow,
        "memory_region",
        Some("phys_addr"),
        3,
        "0xfffffffffffff000 + size 0x2000 wraps past 2^64",
    );
}

#[test]
fn physical_ranges_do_not_overlap() {
    let xml = sys(&[
        &pd("a", 1),
        r#"<memory_region name="uart" size="0x1000" phys_addr="0x9000000"/>"#,
        r#"<memory_region name="other" size="0x1000" phys_addr="0xa000000"/>"#,
        r#"<memory_region name="big" size="0x2000" phys_addr="0x8fff000"/>"#,
    ]);
    expect(
        &xml,
        Rule::PhysOverlap,
        "memory_region",
        Some("phys_addr"),
        5,
        "[0x8fff000..0x9001000) overlaps memory region 'uart' [0x9000000..0x9001000) at line 3",
    );
    // Touching is fine.
    valid(&sys(&[
        &pd("a", 1),
        r#"<memory_region name="x" size="0x1000" phys_addr="0x9000000"/>"#,
        r#"<memory_region name="y" size="0x1000" phys_addr="0x9001000"/>"#,
    ]));
}

#[test]
fn memory_region_names_are_unique() {
    let xml =
        sys(&[&pd("a", 1), r#"<memory_region name="m" size="0x1000"/>"#, r#"<memory_region name="m" size="0x2000"/>"#]);
    expect(
        &xml,
        Rule::DuplicateMrName,
        "memory_region",
        Some("name"),
        4,
        "memory region name 'm' is already used by the <memory_region> at line 3",
    );
}

// ---- maps ----

/// PD `a` (stack_size given) with one line per map; regions m4k (0x1000),
/// m8k (0x2000), m2m (2 MiB pages).
fn maps(stack: &str, maps: &[&str]) -> String {
    let mut lines = vec![
        r#"<memory_region name="m4k" size="0x1000"/>"#.to_string(),
        r#"<memory_region name="m8k" size="0x2000"/>"#.to_string(),
        r#"<memory_region name="m2m" size="0x200000" page_size="0x200000"/>"#.to_string(),
        format!(r#"<protection_domain name="a" stack_size="{stack}">"#),
        r#"  <program_image path="a.elf"/>"#.to_string(),
    ];
    lines.extend(maps.iter().map(|m| format!("  {m}")));
    lines.push("</protection_domain>".to_string());
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    sys(&refs)
}

#[test]
fn map_vaddr_is_page_aligned() {
    let e = expect(
        &maps("0x2000", &[r#"<map mr="m4k" vaddr="0x1234"/>"#]),
        Rule::Alignment,
        "map",
        Some("vaddr"),
        7,
        "0x1234 is not page aligned (memory region 'm4k' has page size 0x1000)",
    );
    assert_eq!(
        e.to_string(),
        "system.xml:7: <map> attribute vaddr: 0x1234 is not page aligned (memory region 'm4k' has page size 0x1000)"
    );
    expect(
        &maps("0x2000", &[r#"<map mr="m2m" vaddr="0x10001000"/>"#]),
        Rule::Alignment,
        "map",
        Some("vaddr"),
        7,
        "0x10001000 is not page aligned (memory region 'm2m' has page size 0x200000)",
    );
}

#[test]
fn map_refers_to_an_existing_region() {
    expect(
        &maps("0x2000", &[r#"<map mr="nope" vaddr="0x1000000"/>"#]),
        Rule::UnknownMemoryRegion,
        "map",
        Some("mr"),
        7,
        "no memory region is named 'nope'",
    );
}

#[test]
fn maps_end_below_the_stack() {
    // Default stack 0x2000: the stack starts at 0xff_ffff_e000 - 0x2000.
    valid(&maps("0x2000", &[r#"<map mr="m4k" vaddr="0xffffffb000"/>"#]));
    expect(
        &maps("0x2000", &[r#"<map mr="m8k" vaddr="0xffffffb000"/>"#]),
        Rule::MapBeyondStack,
        "map",
        Some("vaddr"),
        7,
        "[0xffffffb000..0xffffffd000) of 'm8k' reaches the stack, which starts at 0xffffffc000 \
         (stack_size 0x2000); maps must end at or below it",
    );
    // A bigger stack moves the bound down.
    let e = one(&maps("0x10000", &[r#"<map mr="m4k" vaddr="0xffffffb000"/>"#]));
    assert_eq!((e.rule, e.line), (Rule::MapBeyondStack, 7));
    assert!(e.message.contains("which starts at 0xfffffee000 (stack_size 0x10000)"), "{e}");
}

#[test]
fn map_range_must_not_wrap() {
    expect(
        &maps("0x2000", &[r#"<map mr="m8k" vaddr="0xfffffffffffff000"/>"#]),
        Rule::AddressOverflow,
        "map",
        Some("vaddr"),
        7,
        "0xfffffffffffff000 + size 0x2000 of 'm8k' wraps past 2^64",
    );
}

#[test]
fn maps_of_one_pd_do_not_overlap() {
    let xml = maps(
        "0x2000",
        &[r#"<map mr="m8k" vaddr="0x1000000"/>"#, r#"<map mr="m4k" vaddr="0x1001000" setvar_vaddr="x"/>"#],
    );
    expect(
        &xml,
        Rule::MapOverlap,
        "map",
        Some("vaddr"),
        8,
        "[0x1001000..0x1002000) of 'm4k' overlaps the map of 'm8k' [0x1000000..0x1002000) at line 7",
    );
    // The same region twice at distinct addresses is fine.
    valid(&maps("0x2000", &[r#"<map mr="m4k" vaddr="0x1000000"/>"#, r#"<map mr="m4k" vaddr="0x1001000" perms="r"/>"#]));
}

// ---- PDs and names ----

#[test]
fn pd_names_are_unique_including_nested() {
    let xml = sys(&[
        r#"<protection_domain name="a">"#,
        r#"  <program_image path="a.elf"/>"#,
        r#"  <protection_domain name="b" id="0"><program_image path="b.elf"/></protection_domain>"#,
        "</protection_domain>",
        &pd("b", 3),
    ]);
    expect(
        &xml,
        Rule::DuplicatePdName,
        "protection_domain",
        Some("name"),
        6,
        "protection domain name 'b' is already used by the <protection_domain> at line 4",
    );
}

#[test]
fn monitor_is_a_reserved_name() {
    expect(
        &sys(&[&pd("monitor", 1)]),
        Rule::ReservedName,
        "protection_domain",
        Some("name"),
        2,
        "the name 'monitor' is reserved for Microkit's monitor",
    );
}

#[test]
fn a_system_needs_a_pd() {
    expect("<system>\n</system>", Rule::NoPds, "system", None, 1, "a system needs at least one <protection_domain>");
}

#[test]
fn at_most_63_pds() {
    let names: Vec<String> = (0..64).map(|i| pd(&format!("p{i}"), 1)).collect();
    let lines: Vec<&str> = names.iter().map(String::as_str).collect();
    valid(&sys(&lines[..63]));
    expect(
        &sys(&lines),
        Rule::TooManyPds,
        "protection_domain",
        None,
        65,
        "64 protection domains; Microkit allows at most 63",
    );
}

// ---- nested PDs ----

fn nested(children: &[&str]) -> String {
    let mut lines = vec![r#"<protection_domain name="parent" priority="50">"#, r#"  <program_image path="p.elf"/>"#];
    lines.extend(children);
    lines.push("</protection_domain>");
    sys(&lines)
}

#[test]
fn child_ids_are_in_range() {
    let xml = nested(&[r#"  <protection_domain name="c" id="64"><program_image path="c"/></protection_domain>"#]);
    expect(&xml, Rule::ChildId, "protection_domain", Some("id"), 4, "child id 64 is out of range 0..=63");
    let xml = nested(&[r#"  <protection_domain name="c"><program_image path="c"/></protection_domain>"#]);
    expect(&xml, Rule::MissingAttribute, "protection_domain", Some("id"), 4, "required attribute is missing");
}

#[test]
fn child_ids_are_unique_per_parent() {
    let xml = nested(&[
        r#"  <protection_domain name="c1" id="1"><program_image path="c"/></protection_domain>"#,
        r#"  <protection_domain name="c2" id="1"><program_image path="c"/></protection_domain>"#,
    ]);
    expect(
        &xml,
        Rule::DuplicateChildId,
        "protection_domain",
        Some("id"),
        5,
        "child id 1 of 'parent' is already used by the <protection_domain> at line 4",
    );
    // Same id under different parents is fine.
    valid(&nested(&[
        r#"  <protection_domain name="c1" id="1">"#,
        r#"    <program_image path="c"/>"#,
        r#"    <protection_domain name="g1" id="1"><program_image path="g"/></protection_domain>"#,
        r#"  </protection_domain>"#,
    ]));
}

#[test]
fn id_attribute_only_on_nested_pds() {
    let xml = sys(&[r#"<protection_domain name="a" id="1"><program_image path="a"/></protection_domain>"#]);
    let e = one(&xml);
    assert_eq!((e.rule, e.attribute.as_deref(), e.line), (Rule::UnknownAttribute, Some("id"), 2));
}

// ---- channels and IRQs ----

/// A `<channel>` over four lines, its ends with attributes `a` and `b`.
fn channel(a: &str, b: &str) -> String {
    format!("<channel>\n  <end {a}/>\n  <end {b}/>\n</channel>")
}

/// PDs lo (priority 10), hi (priority 20), then `lines`.
fn two_pds(lines: &[&str]) -> String {
    let mut all = vec![pd("lo", 10), pd("hi", 20)];
    all.extend(lines.iter().map(|l| l.to_string()));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    sys(&refs)
}

#[test]
fn channel_ends_name_existing_pds() {
    let xml = two_pds(&[&channel(r#"pd="lo" id="0""#, r#"pd="nobody" id="0""#)]);
    expect(&xml, Rule::UnknownPd, "end", Some("pd"), 6, "no protection domain is named 'nobody'");
}

#[test]
fn a_channel_has_exactly_two_ends() {
    let xml = two_pds(&["<channel>", r#"  <end pd="lo" id="0"/>"#, "</channel>"]);
    expect(&xml, Rule::ChannelEnds, "channel", None, 4, "a channel needs exactly two <end>s, found 1");
    let xml = two_pds(&[
        "<channel>",
        r#"  <end pd="lo" id="0"/>"#,
        r#"  <end pd="hi" id="0"/>"#,
        r#"  <end pd="hi" id="1"/>"#,
        "</channel>",
    ]);
    expect(&xml, Rule::ChannelEnds, "channel", None, 4, "a channel needs exactly two <end>s, found 3");
}

#[test]
fn channel_ids_are_0_to_61() {
    let with = |id: &str| {
        two_pds(&["<channel>", r#"  <end pd="lo" id="0"/>"#, &format!(r#"  <end pd="hi" id="{id}"/>"#), "</channel>"])
    };
    valid(&with("61"));
    for id in ["62", "300", "-1"] {
        expect(&with(id), Rule::IdRange, "end", Some("id"), 6, &format!("id {id} is out of range 0..=61"));
    }
}

#[test]
fn irq_ids_are_0_to_61() {
    let xml = in_a(&[r#"<irq irq="33" id="62"/>"#]);
    expect(&xml, Rule::IdRange, "irq", Some("id"), 4, "id 62 is out of range 0..=61");
}

#[test]
fn channel_and_irq_ids_share_one_space_per_pd() {
    let xml = sys(&[
        r#"<protection_domain name="a" priority="1">"#,
        r#"  <program_image path="a.elf"/>"#,
        r#"  <irq irq="33" id="3"/>"#,
        "</protection_domain>",
        &pd("b", 2),
        &channel(r#"pd="a" id="3""#, r#"pd="b" id="3""#),
    ]);
    // b's id 3 is fine: ids are per PD.
    expect(&xml, Rule::DuplicateId, "end", Some("id"), 8, "id 3 of 'a' is already used by the <irq> at line 4");
}

#[test]
fn two_channels_with_one_id() {
    let xml = two_pds(&[
        &channel(r#"pd="lo" id="0""#, r#"pd="hi" id="0""#),
        &channel(r#"pd="lo" id="1""#, r#"pd="hi" id="0""#),
    ]);
    expect(&xml, Rule::DuplicateId, "end", Some("id"), 10, "id 0 of 'hi' is already used by the <end> at line 6");
}

#[test]
fn ppc_goes_one_way() {
    let xml = two_pds(&[&channel(r#"pd="lo" id="0" pp="true""#, r#"pd="hi" id="0" pp="true""#)]);
    expect(&xml, Rule::BidirectionalPpc, "channel", None, 4, "both ends have pp=\"true\"; a PPC goes one way only");
}

#[test]
fn ppc_only_to_strictly_higher_priority() {
    let ppc = |from: &str, to: &str| {
        two_pds(&[
            "<channel>",
            &format!(r#"  <end pd="{from}" id="0" pp="true"/>"#),
            &format!(r#"  <end pd="{to}" id="0"/>"#),
            "</channel>",
        ])
    };
    valid(&ppc("lo", "hi"));
    expect(
        &ppc("hi", "lo"),
        Rule::PpcPriority,
        "end",
        Some("pp"),
        5,
        "PPC from 'hi' (priority 20) to 'lo' (priority 10): the callee's priority must be strictly higher",
    );
    let same = sys(&[&pd("x", 7), &pd("y", 7), &channel(r#"pd="x" id="0""#, r#"pd="y" id="0" pp="true""#)]);
    let e = expect(
        &same,
        Rule::PpcPriority,
        "end",
        Some("pp"),
        6,
        "PPC from 'y' (priority 7) to 'x' (priority 7): the callee's priority must be strictly higher",
    );
    assert_eq!(e.column, 22, "column of the pp attribute");
}

#[test]
fn irq_numbers_are_unique_in_the_system() {
    let xml = sys(&[
        r#"<protection_domain name="a">"#,
        r#"  <program_image path="a.elf"/>"#,
        r#"  <irq irq="79" id="0"/>"#,
        "</protection_domain>",
        r#"<protection_domain name="b">"#,
        r#"  <program_image path="b.elf"/>"#,
        r#"  <irq irq="79" id="0" trigger="edge"/>"#,
        "</protection_domain>",
    ]);
    expect(&xml, Rule::DuplicateIrq, "irq", Some("irq"), 8, "interrupt 79 is already used by the <irq> at line 4");
}

// ---- setvars ----

#[test]
fn setvar_region_must_exist() {
    let xml = in_a(&[r#"<setvar symbol="dma_paddr" region_paddr="dma"/>"#]);
    expect(&xml, Rule::UnknownMemoryRegion, "setvar", Some("region_paddr"), 4, "no memory region is named 'dma'");
}

#[test]
fn setvar_symbols_are_unique_per_pd() {
    let xml = sys(&[
        r#"<memory_region name="m" size="0x1000"/>"#,
        r#"<protection_domain name="a">"#,
        r#"  <program_image path="a.elf"/>"#,
        r#"  <map mr="m" vaddr="0x1000000" setvar_vaddr="buf"/>"#,
        r#"  <setvar symbol="buf" region_paddr="m"/>"#,
        "</protection_domain>",
    ]);
    expect(
        &xml,
        Rule::DuplicateSetvar,
        "setvar",
        Some("symbol"),
        6,
        "symbol 'buf' of 'a' is already used by the <map> at line 5",
    );
}

#[test]
fn child_and_channel_setvar_ids_land_in_the_right_image() {
    // A child's setvar_id is a symbol of its parent; an end's of its own PD.
    let xml = nested(&[
        r#"  <irq irq="40" id="2" setvar_id="dev"/>"#,
        r#"  <protection_domain name="c" id="1" setvar_id="dev"><program_image path="c"/></protection_domain>"#,
    ]);
    expect(
        &xml,
        Rule::DuplicateSetvar,
        "protection_domain",
        Some("setvar_id"),
        5,
        "symbol 'dev' of 'parent' is already used by the <irq> at line 4",
    );
    let xml = two_pds(&[&channel(r#"pd="lo" id="0" setvar_id="ch""#, r#"pd="hi" id="0" setvar_id="ch""#)]);
    valid(&xml);
}

// ---- all findings, in order ----

#[test]
fn every_finding_is_reported_in_file_order() {
    let xml = sys(&[
        r#"<memory_region name="m" size="0x1800"/>"#,
        r#"<protection_domain name="a" priority="999" bogus="1">"#,
        r#"  <program_image path="a.elf"/>"#,
        r#"  <map mr="m" vaddr="0x1000010"/>"#,
        "</protection_domain>",
        &channel(r#"pd="a" id="99""#, r#"pd="b" id="0""#),
    ]);
    let errors = parse(&xml).unwrap_err();
    let got: Vec<(u32, Rule)> = errors.iter().map(|e| (e.line, e.rule)).collect();
    assert_eq!(
        got,
        [
            (2, Rule::Size),
            (3, Rule::Priority),
            (3, Rule::UnknownAttribute),
            (5, Rule::Alignment),
            (8, Rule::IdRange),
            (9, Rule::UnknownPd),
        ],
        "{errors:#?}"
    );
}

#[test]
fn a_bad_value_does_not_cascade() {
    // tally's priority is unusable: no PPC-priority finding follows from it.
    let xml = sys(&[
        &pd("ping", 100),
        r#"<protection_domain name="tally" priority="high"><program_image path="t"/></protection_domain>"#,
        &channel(r#"pd="ping" id="1" pp="true""#, r#"pd="tally" id="0""#),
    ]);
    let e = one(&xml);
    assert_eq!((e.rule, e.attribute.as_deref(), e.line), (Rule::InvalidNumber, Some("priority"), 3));
}
