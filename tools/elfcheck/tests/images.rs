//! The checker against hand-made ELF images: one that the microkit tool
//! would accept, and one broken copy per rule.

use sevio_elfcheck::{Problem, check};

struct Sym {
    name: &'static str,
    value: u64,
    size: u64,
}

struct Image {
    e_type: u16,
    machine: u16,
    loads: Vec<(u64, u64)>,
    dynamic: bool,
    symbols: Vec<Sym>,
    with_symtab: bool,
}

impl Image {
    fn good() -> Image {
        let mut symbols: Vec<Sym> = sevio_elfcheck::PATCHED_SYMBOLS
            .iter()
            .enumerate()
            .map(|(i, (name, size))| Sym { name, value: 0x201000 + 64 * i as u64, size: *size })
            .collect();
        symbols.push(Sym { name: "shared_vaddr", value: 0x201200, size: 8 });
        Image {
            e_type: 2,
            machine: 183,
            loads: vec![(0x200000, 0x800), (0x201000, 0x300)],
            dynamic: false,
            symbols,
            with_symtab: true,
        }
    }

    /// A minimal ELF64 little-endian image: header, program headers, and
    /// (optionally) .symtab/.strtab/.shstrtab sections.
    fn bytes(&self) -> Vec<u8> {
        let mut phdrs: Vec<(u32, u64, u64)> = self.loads.iter().map(|&(v, s)| (1u32, v, s)).collect();
        if self.dynamic {
            phdrs.push((2, 0, 0));
        }
        let phoff = 64u64;
        let mut out = vec![0u8; 64 + 56 * phdrs.len()];
        // Sections: null, .symtab, .strtab, .shstrtab.
        let mut strtab = vec![0u8];
        let mut symtab = vec![0u8; 24];
        for s in &self.symbols {
            let name_off = strtab.len() as u32;
            strtab.extend_from_slice(s.name.as_bytes());
            strtab.push(0);
            let mut e = vec![0u8; 24];
            e[0..4].copy_from_slice(&name_off.to_le_bytes());
            e[4] = 0x11; // GLOBAL OBJECT
            e[6..8].copy_from_slice(&1u16.to_le_bytes()); // shndx: any non-zero
            e[8..16].copy_from_slice(&s.value.to_le_bytes());
            e[16..24].copy_from_slice(&s.size.to_le_bytes());
            symtab.extend(e);
        }
        let shstrtab = b"\0.symtab\0.strtab\0.shstrtab\0".to_vec();
        let symtab_off = out.len() as u64;
        out.extend(&symtab);
        let strtab_off = out.len() as u64;
        out.extend(&strtab);
        let shstr_off = out.len() as u64;
        out.extend(&shstrtab);
        while out.len() % 8 != 0 {
            out.push(0);
        }
        let shoff = out.len() as u64;
        let sh = |name: u32, ty: u32, off: u64, size: u64, link: u32, entsize: u64| {
            let mut h = vec![0u8; 64];
            h[0..4].copy_from_slice(&name.to_le_bytes());
            h[4..8].copy_from_slice(&ty.to_le_bytes());
            h[24..32].copy_from_slice(&off.to_le_bytes());
            h[32..40].copy_from_slice(&size.to_le_bytes());
            h[40..44].copy_from_slice(&link.to_le_bytes());
            h[44..48].copy_from_slice(&1u32.to_le_bytes()); // info: first global
            h[48..56].copy_from_slice(&8u64.to_le_bytes());
            h[56..64].copy_from_slice(&entsize.to_le_bytes());
            h
        };
        out.extend(vec![0u8; 64]);
        let symtab_type = if self.with_symtab { 2 } else { 1 };
        out.extend(sh(1, symtab_type, symtab_off, symtab.len() as u64, 2, 24));
        out.extend(sh(9, 3, strtab_off, strtab.len() as u64, 0, 0));
        out.extend(sh(17, 3, shstr_off, shstrtab.len() as u64, 0, 0));

        out[0..4].copy_from_slice(b"\x7fELF");
        out[4] = 2; // 64-bit
        out[5] = 1; // little endian
        out[6] = 1;
        out[16..18].copy_from_slice(&self.e_type.to_le_bytes());
        out[18..20].copy_from_slice(&self.machine.to_le_bytes());
        out[20..24].copy_from_slice(&1u32.to_le_bytes());
        out[24..32].copy_from_slice(&0x200000u64.to_le_bytes());
        out[32..40].copy_from_slice(&phoff.to_le_bytes());
        out[40..48].copy_from_slice(&shoff.to_le_bytes());
        out[52..54].copy_from_slice(&64u16.to_le_bytes());
        out[54..56].copy_from_slice(&56u16.to_le_bytes());
        out[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        out[58..60].copy_from_slice(&64u16.to_le_bytes());
        out[60..62].copy_from_slice(&4u16.to_le_bytes());
        out[62..64].copy_from_slice(&3u16.to_le_bytes());
        for (i, (ty, vaddr, size)) in phdrs.iter().enumerate() {
            let p = 64 + 56 * i;
            out[p..p + 4].copy_from_slice(&ty.to_le_bytes());
            out[p + 16..p + 24].copy_from_slice(&vaddr.to_le_bytes());
            out[p + 24..p + 32].copy_from_slice(&vaddr.to_le_bytes());
            out[p + 40..p + 48].copy_from_slice(&size.to_le_bytes());
            out[p + 48..p + 56].copy_from_slice(&0x1000u64.to_le_bytes());
        }
        out
    }
}

#[test]
fn a_good_image_passes() {
    assert_eq!(check(&Image::good().bytes(), &["shared_vaddr"]), []);
}

#[test]
fn a_missing_patched_symbol_is_named() {
    let mut img = Image::good();
    img.symbols.retain(|s| s.name != "microkit_irqs");
    assert_eq!(check(&img.bytes(), &[]), [Problem::MissingSymbol("microkit_irqs".into())]);
}

#[test]
fn a_wrong_sized_symbol_is_named() {
    let mut img = Image::good();
    img.symbols.iter_mut().find(|s| s.name == "microkit_name").unwrap().size = 16;
    img.symbols.iter_mut().find(|s| s.name == "shared_vaddr").unwrap().size = 4;
    assert_eq!(
        check(&img.bytes(), &["shared_vaddr"]),
        [
            Problem::WrongSize { name: "microkit_name".into(), expected: 64, found: 16 },
            Problem::WrongSize { name: "shared_vaddr".into(), expected: 8, found: 4 },
        ]
    );
}

#[test]
fn a_missing_setvar_is_named() {
    assert_eq!(check(&Image::good().bytes(), &["blk_data"]), [Problem::MissingSymbol("blk_data".into())]);
}

#[test]
fn pie_and_dynamic_images_are_refused() {
    let mut img = Image::good();
    img.e_type = 3;
    img.dynamic = true;
    assert_eq!(check(&img.bytes(), &[]), [Problem::NotExecutable { e_type: 3 }, Problem::Dynamic]);
}

#[test]
fn segments_sharing_a_page_are_refused() {
    let mut img = Image::good();
    img.loads = vec![(0x200000, 0x800), (0x200800, 0x100)];
    assert_eq!(check(&img.bytes(), &[]), [Problem::SegmentsSharePage { first: 0x200000, second: 0x200800 }]);
}

#[test]
fn wrong_machine_and_stripped_images_are_refused() {
    let mut img = Image::good();
    img.machine = 62; // x86-64
    img.with_symtab = false;
    assert_eq!(check(&img.bytes(), &[]), [Problem::WrongMachine, Problem::NoSymbolTable]);
}

#[test]
fn garbage_is_not_an_elf() {
    assert!(matches!(check(b"hello", &[])[..], [Problem::NotElf(_)]));
}
