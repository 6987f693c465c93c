//! The reference system (ping/pong/tally) read into the exact model; the
//! model-level API (`check`, `lint`, helpers); `load`; and the CLI.

use std::process::Command;

use sevio_sdf::{
    ChannelDef, ChannelEnd, LoadError, Map, MemoryRegion, Perms, ProtectionDomain, Rule, System, check, lint, load,
    parse,
};

const REFERENCE: &str = include_str!("data/ping_pong_tally.xml");
const REFERENCE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ping_pong_tally.xml");

fn pd(name: &str, priority: u8, line: u32) -> ProtectionDomain {
    ProtectionDomain {
        name: name.to_string(),
        priority,
        passive: false,
        budget: 1000,
        period: 1000,
        stack_size: 0x2000,
        program_image: format!("{name}.elf"),
        maps: Vec::new(),
        irqs: Vec::new(),
        setvars: Vec::new(),
        parent: None,
        child_id: None,
        line,
        fpu: true,
        smc: false,
        cpu: 0,
        program_image_for_symbols: None,
        setvar_id: None,
    }
}

fn shared_map(line: u32) -> Map {
    Map {
        mr: "shared".to_string(),
        vaddr: 0x200_0000,
        perms: Perms::RW,
        cached: true,
        setvar_vaddr: Some("shared_vaddr".to_string()),
        setvar_size: None,
        line,
    }
}

fn end(pd: usize, id: u8, pp: bool, line: u32) -> ChannelEnd {
    ChannelEnd { pd, id, pp, notify: true, setvar_id: None, line }
}

fn expected() -> System {
    let mut ping = pd("ping", 100, 6);
    ping.maps.push(shared_map(8));
    let mut pong = pd("pong", 110, 11);
    pong.maps.push(shared_map(13));
    let mut tally = pd("tally", 200, 16);
    tally.passive = true;
    System {
        memory_regions: vec![MemoryRegion {
            name: "shared".to_string(),
            size: 0x1000,
            page_size: 0x1000,
            phys_addr: None,
            line: 4,
        }],
        pds: vec![ping, pong, tally],
        channels: vec![
            ChannelDef { ends: [end(0, 0, false, 21), end(1, 0, false, 22)], line: 20 },
            ChannelDef { ends: [end(0, 1, true, 26), end(2, 0, false, 27)], line: 25 },
        ],
    }
}

#[test]
fn reference_system_reads_into_the_expected_model() {
    let sys = parse(REFERENCE).unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(sys, expected());
    assert!(lint(&sys).is_empty(), "{:#?}", lint(&sys));
    assert!(check(&sys).is_empty());
}

#[test]
fn model_helpers_follow_the_channels() {
    let sys = parse(REFERENCE).unwrap();
    let ping = sys.pd_index("ping").unwrap();
    let peers: Vec<(u8, &str, bool)> =
        sys.channels_of(ping).map(|(own, peer)| (own.id, sys.pds[peer.pd].name.as_str(), own.pp)).collect();
    assert_eq!(peers, [(0, "pong", false), (1, "tally", true)]);
    let tally = sys.pd_index("tally").unwrap();
    let (own, peer) = sys.channels[1].end_of(tally).unwrap();
    assert_eq!((own.id, peer.pd, peer.pp), (0, ping, true));
    assert_eq!(sys.pd("pong").unwrap().stack_bottom(), 0xFF_FFFF_C000);
    assert_eq!(sys.memory_region("shared").unwrap().size, 0x1000);
    assert_eq!(Perms::parse("xr").unwrap().to_string(), "rx");
}

#[test]
fn nested_pds_keep_parent_id_and_setvar() {
    let xml = r#"<system>
  <protection_domain name="root" priority="50">
    <program_image path="root.elf" path_for_symbols="root.sym.elf"/>
    <protection_domain name="kid" id="3" setvar_id="kid_id" priority="40" fpu="false" smc="true" cpu="0">
      <program_image path="kid.elf"/>
      <irq irq="48" id="7" trigger="edge" setvar_id="irq_ch"/>
    </protection_domain>
  </protection_domain>
</system>"#;
    let sys = parse(xml).unwrap();
    let kid = &sys.pds[1];
    assert_eq!((kid.parent, kid.child_id, kid.setvar_id.as_deref()), (Some(0), Some(3), Some("kid_id")));
    assert_eq!((kid.fpu, kid.smc, kid.line), (false, true, 4));
    assert_eq!(kid.irqs[0].trigger, sevio_sdf::Trigger::Edge);
    assert_eq!((kid.irqs[0].irq, kid.irqs[0].id), (48, 7));
    assert_eq!(sys.pds[0].program_image_for_symbols.as_deref(), Some("root.sym.elf"));
    assert_eq!(sys.children_of(0).collect::<Vec<_>>(), [1]);
}

#[test]
fn check_on_a_model_built_in_code_uses_its_lines() {
    let mut sys = expected();
    sys.pds[2].priority = 90; // tally below ping: the PPC is now illegal
    sys.pds[1].maps[0].vaddr = 0x200_0800;
    let errors = check(&sys);
    let got: Vec<(u32, Rule, Option<&str>)> = errors.iter().map(|e| (e.line, e.rule, e.attribute.as_deref())).collect();
    assert_eq!(got, [(13, Rule::Alignment, Some("vaddr")), (26, Rule::PpcPriority, Some("pp"))]);
    assert_eq!(errors[0].column, 0);
}

#[test]
fn lint_warns_about_unused_regions_unreachable_passive_pds_and_idle_channels() {
    let mut sys = expected();
    sys.memory_regions.push(MemoryRegion {
        name: "spare".to_string(),
        size: 0x1000,
        page_size: 0x1000,
        phys_addr: None,
        line: 5,
    });
    sys.channels.remove(1); // nothing reaches tally now
    sys.channels[0].ends.iter_mut().for_each(|e| e.notify = false);
    let warnings = lint(&sys);
    let got: Vec<(u32, Rule)> = warnings.iter().map(|w| (w.line, w.rule)).collect();
    assert_eq!(got, [(5, Rule::UnusedMemoryRegion), (16, Rule::UnreachablePassive), (20, Rule::IdleChannel)]);
    assert!(warnings.iter().all(|w| w.rule.is_warning()));
    assert_eq!(
        warnings[0].to_string(),
        "system.xml:5: warning: <memory_region>: memory region 'spare' is not mapped by any protection domain"
    );
}

#[test]
fn load_names_the_file_in_errors() {
    assert_eq!(load(REFERENCE_PATH).unwrap(), expected());
    let dir = std::env::temp_dir().join(format!("sevio-sdf-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.xml");
    std::fs::write(&bad, REFERENCE.replace(r#"priority="200""#, r#"priority="256""#)).unwrap();
    match load(&bad) {
        Err(LoadError::Invalid(errors)) => {
            assert_eq!(errors.len(), 1);
            let shown = errors[0].to_string();
            assert!(
                shown.starts_with(&format!("{}:16: <protection_domain> attribute priority:", bad.display())),
                "{shown}"
            );
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(matches!(load(dir.join("absent.xml")), Err(LoadError::Io { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sevio-sdf")).args(args).output().unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

#[test]
fn cli_check_and_info() {
    let (code, out, err) = cli(&["check", REFERENCE_PATH]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "ok: 3 PDs, 2 channels, 1 memory regions\n", ""));

    let (code, out, _) = cli(&["info", REFERENCE_PATH]);
    assert_eq!(code, 0);
    assert!(out.contains("tally: priority 200 passive"), "{out}");
    assert!(out.contains("ping:1 -- tally:0: ping calls tally (PPC)"), "{out}");

    let dir = std::env::temp_dir().join(format!("sevio-sdf-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("system.xml");
    let text = REFERENCE
        .replace(
            r#"vaddr="0x2000000" perms="rw" setvar_vaddr="shared_vaddr" />
    </protection_domain>

    <protection_domain name="pong""#,
            r#"vaddr="0x2000800" perms="rw" setvar_vaddr="shared_vaddr" />
    </protection_domain>

    <protection_domain name="pong""#,
        )
        .replace(r#"id="1" pp="true""#, r#"id="0" pp="true""#);
    std::fs::write(&bad, text).unwrap();
    let (code, out, err) = cli(&["check", bad.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (1, ""));
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines[0].ends_with(
            ":8: <map> attribute vaddr: 0x2000800 is not page aligned (memory region 'shared' has page size 0x1000)"
        ),
        "{err}"
    );
    assert!(
        lines[1].ends_with(":26: <end> attribute id: id 0 of 'ping' is already used by the <end> at line 21"),
        "{err}"
    );
    assert_eq!(lines[2], "2 error(s)");
    std::fs::remove_dir_all(&dir).unwrap();
}
