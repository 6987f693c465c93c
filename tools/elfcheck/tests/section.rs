//! `update_section` against hand-made ELF images: a config section
//! replaced byte for byte, and every refusal leaving the image unchanged.

use sevio_elfcheck::section::{SectionError, update_section};

const CONFIG: &[u8] = b".sevio_restart_policy";

/// A 64-bit little-endian ELF with three sections besides the null one:
/// `.sevio_restart_policy` (PROGBITS, 24 bytes of 0xaa), `.bss` (NOBITS,
/// 64 bytes) and `.shstrtab`.
fn image() -> Vec<u8> {
    let mut shstrtab = vec![0u8];
    let mut name = |n: &[u8]| {
        let at = shstrtab.len() as u32;
        shstrtab.extend_from_slice(n);
        shstrtab.push(0);
        at
    };
    let (config_name, bss_name, shstrtab_name) = (name(CONFIG), name(b".bss"), name(b".shstrtab"));
    let mut out = vec![0u8; 64];
    let config_off = out.len() as u64;
    out.extend([0xaa; 24]);
    let shstrtab_off = out.len() as u64;
    out.extend(&shstrtab);
    while !out.len().is_multiple_of(8) {
        out.push(0);
    }
    let shoff = out.len() as u64;
    let sh = |name: u32, ty: u32, flags: u64, off: u64, size: u64| {
        let mut h = vec![0u8; 64];
        h[0..4].copy_from_slice(&name.to_le_bytes());
        h[4..8].copy_from_slice(&ty.to_le_bytes());
        h[8..16].copy_from_slice(&flags.to_le_bytes());
        h[24..32].copy_from_slice(&off.to_le_bytes());
        h[32..40].copy_from_slice(&size.to_le_bytes());
        h[48..56].copy_from_slice(&1u64.to_le_bytes());
        h
    };
    out.extend([0u8; 64]);
    out.extend(sh(config_name, 1, 2, config_off, 24)); // PROGBITS, ALLOC
    out.extend(sh(bss_name, 8, 3, 0, 64)); // NOBITS, WRITE | ALLOC
    out.extend(sh(shstrtab_name, 3, 0, shstrtab_off, shstrtab.len() as u64));
    out[0..4].copy_from_slice(b"\x7fELF");
    out[4] = 2; // 64-bit
    out[5] = 1; // little endian
    out[6] = 1;
    out[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    out[18..20].copy_from_slice(&183u16.to_le_bytes()); // AArch64
    out[20..24].copy_from_slice(&1u32.to_le_bytes());
    out[40..48].copy_from_slice(&shoff.to_le_bytes());
    out[52..54].copy_from_slice(&64u16.to_le_bytes());
    out[58..60].copy_from_slice(&64u16.to_le_bytes());
    out[60..62].copy_from_slice(&4u16.to_le_bytes()); // shnum
    out[62..64].copy_from_slice(&3u16.to_le_bytes()); // shstrndx
    out
}

#[test]
fn the_section_is_replaced_and_nothing_else() {
    let before = image();
    let mut after = before.clone();
    let policy: Vec<u8> = (0..24).collect();
    update_section(&mut after, ".sevio_restart_policy", &policy).unwrap();
    assert_eq!(&after[64..88], &policy[..]);
    assert_eq!(&after[..64], &before[..64]);
    assert_eq!(&after[88..], &before[88..]);
}

#[test]
fn refusals_name_the_problem_and_leave_the_image_alone() {
    let before = image();
    let mut img = before.clone();
    let cases: [(&str, &[u8], SectionError); 3] = [
        (".blk_driver_config", &[0; 24], SectionError::Missing(".blk_driver_config".into())),
        (".bss", &[0; 64], SectionError::NoFileBytes(".bss".into())),
        (
            ".sevio_restart_policy",
            &[0; 20],
            SectionError::WrongSize { name: ".sevio_restart_policy".into(), section: 24, given: 20 },
        ),
    ];
    for (name, contents, error) in cases {
        assert_eq!(update_section(&mut img, name, contents), Err(error));
        assert_eq!(img, before);
    }
    assert_eq!(
        update_section(&mut img, ".sevio_restart_policy", &[0; 20]).unwrap_err().to_string(),
        "section .sevio_restart_policy is 24 bytes, the new contents 20"
    );
    let mut garbage = b"not an elf at all".to_vec();
    assert!(matches!(update_section(&mut garbage, ".x", &[]), Err(SectionError::NotElf(_))));
    let mut big_endian = before.clone();
    big_endian[5] = 2;
    assert!(matches!(update_section(&mut big_endian, ".sevio_restart_policy", &[0; 24]), Err(SectionError::NotElf(_))));
}
