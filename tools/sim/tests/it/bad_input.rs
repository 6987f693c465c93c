//! Input sim must refuse, each with a message that says what is wrong
//! and where (exit status 2, nothing started).

use crate::common::{Run, TempDir, sim, systems};

/// Run `xml` (and `sim_toml`, if given) from a scratch directory.
fn run_bad(name: &str, xml: &str, sim_toml: Option<&str>) -> Run {
    let dir = TempDir::new(name);
    let system = dir.file(&format!("{name}.xml"), xml);
    if let Some(t) = sim_toml {
        dir.file(&format!("{name}.sim.toml"), t);
    }
    let run = sim(&[system.to_str().unwrap(), "--timeout", "10"]);
    run.assert_code(2);
    run
}

const ECHO_PD: &str =
    r#"<protection_domain name="a" priority="1"><program_image path="simtest-echo" /></protection_domain>"#;

#[test]
fn malformed_xml() {
    let xml = "<system>\n  <protection_domain name=\"a\" priority=\"1\">\n    <program_image path=\"simtest-echo\" />\n</system>\n";
    run_bad("malformed", xml, None)
        .assert_stderr("malformed.xml is not a valid system description")
        .assert_stderr("malformed.xml:2: <protection_domain>: unclosed tag");
}

#[test]
fn channel_naming_an_unknown_pd() {
    let xml = format!(
        r#"<system>{ECHO_PD}
        <channel><end pd="a" id="0" /><end pd="ghost" id="0" /></channel></system>"#
    );
    run_bad("unknown_pd", &xml, None)
        .assert_stderr("unknown_pd.xml:2: <end> attribute pd: no protection domain is named 'ghost'");
}

#[test]
fn duplicate_ids() {
    let xml = r#"<system>
        <protection_domain name="a" priority="1"><program_image path="simtest-echo" /><irq irq="79" id="0" /></protection_domain>
        <protection_domain name="b" priority="2"><program_image path="simtest-echo" /></protection_domain>
        <channel><end pd="a" id="0" /><end pd="b" id="0" /></channel></system>"#;
    run_bad("dup_id", xml, None)
        .assert_stderr("dup_id.xml:4: <end> attribute id: id 0 of 'a' is already used by the <irq> at line 2");
}

#[test]
fn ppc_to_lower_or_equal_priority() {
    for (callee, name) in [(5, "ppc_equal"), (4, "ppc_lower")] {
        let xml = format!(
            r#"<system>
            <protection_domain name="a" priority="5"><program_image path="simtest-echo" /></protection_domain>
            <protection_domain name="b" priority="{callee}"><program_image path="simtest-echo" /></protection_domain>
            <channel><end pd="a" id="0" pp="true" /><end pd="b" id="0" /></channel></system>"#
        );
        run_bad(name, &xml, None).assert_stderr(&format!(
            "{name}.xml:4: <end> attribute pp: PPC from 'a' (priority 5) to 'b' (priority {callee}): the callee's priority must be strictly higher"
        ));
    }
}

#[test]
fn overlapping_maps() {
    let xml = r#"<system>
        <memory_region name="m1" size="0x2000" />
        <memory_region name="m2" size="0x1000" />
        <protection_domain name="a" priority="1"><program_image path="simtest-echo" />
            <map mr="m1" vaddr="0x2000000" />
            <map mr="m2" vaddr="0x2001000" />
        </protection_domain></system>"#;
    run_bad("overlap", xml, None)
        .assert_stderr("overlap.xml:6: <map> attribute vaddr: [0x2001000..0x2002000) of 'm2' overlaps");
}

#[test]
fn missing_program_image() {
    let xml = r#"<system><protection_domain name="lost" priority="1"><program_image path="no-such-pd" /></protection_domain></system>"#;
    run_bad("missing", xml, None)
        .assert_stderr("PD 'lost': program image 'no-such-pd' not found: looked for ")
        .assert_stderr("/no-such-pd");
}

#[test]
fn qemu_not_installed() {
    let probe = systems().join("probe.xml");
    let run = sim(&[probe.to_str().unwrap(), "--qemu", "/nonexistent/qemu-system-aarch64"]);
    run.assert_code(2).assert_stderr("cannot run QEMU '/nonexistent/qemu-system-aarch64': No such file or directory");
}

#[test]
fn bad_sim_description() {
    let xml = format!("<system>{ECHO_PD}</system>");
    run_bad("bad_desc", &xml, Some("expect_pass = [\"nobody\"]\n"))
        .assert_stderr("bad_desc.sim.toml: expect_pass names 'nobody', which is not a PD of the system");
    run_bad("bad_device", &xml, Some("[[device]]\ndriver = \"virtio-rng-device\"\nslot = 40\n"))
        .assert_stderr("device 1 (virtio-rng-device): slot 40 is out of range 0..=31");
}

#[test]
fn qemu_refusing_a_device_is_reported() {
    let xml = format!("<system>{ECHO_PD}</system>");
    run_bad("bad_qemu_device", &xml, Some("[[device]]\ndriver = \"no-such-device\"\n"))
        .assert_stderr("QEMU exited during startup")
        .assert_stderr("no-such-device");
}

#[test]
fn section_the_pd_does_not_declare() {
    let dir = TempDir::new("undeclared_section_data");
    let data = dir.file("x.data", "sDDF\u{2}");
    let toml = format!("[[section]]\npd = \"a\"\nname = \".not_declared\"\nfile = \"{}\"\n", data.display());
    run_bad("undeclared_section", &format!("<system>{ECHO_PD}</system>"), Some(&toml))
        .assert_stderr("section .not_declared of PD 'a'")
        .assert_stderr("no section .not_declared (does the PD declare it?)");
}

#[test]
fn section_file_missing() {
    let toml = "[[section]]\npd = \"a\"\nname = \".blk_driver_config\"\nfile = \"nowhere.data\"\n";
    run_bad("missing_section_file", &format!("<system>{ECHO_PD}</system>"), Some(toml))
        .assert_stderr("section .blk_driver_config of PD 'a':")
        .assert_stderr("nowhere.data: No such file");
}

#[test]
fn section_file_of_the_wrong_size() {
    // The echo PD declares no config section, so name one the host
    // linker always makes: .text, far larger than these four bytes.
    let dir = TempDir::new("short_section_data");
    let data = dir.file("short.data", "SVRP");
    let toml = format!("[[section]]\npd = \"a\"\nname = \".text\"\nfile = \"{}\"\n", data.display());
    run_bad("short_section", &format!("<system>{ECHO_PD}</system>"), Some(&toml))
        .assert_stderr("section .text of PD 'a'")
        .assert_stderr("the new contents 4");
}
