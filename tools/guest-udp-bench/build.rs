//! The aarch64 build links with the PD linker script (`runtime/sevio-pd.ld`,
//! which `.cargo/config.toml` names for every aarch64-unknown-none
//! program): a static ELF, text at 0x200000, `_start` its entry, which is
//! what Linux needs of a program without a libc as well.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo::rustc-link-search={dir}/../../runtime");
    println!("cargo::rerun-if-changed=../../runtime/sevio-pd.ld");
}
