//! Configuration the build writes into a named ELF section of the PD's
//! image, as sDDF's build does with sdfgen's output:
//!
//! ```sh
//! objcopy --update-section .blk_driver_config=blk_driver.data blk.elf
//! ```
//!
//! The PD declares the section (zeroed, of the struct's exact size, so
//! objcopy replaces it byte for byte) and reads a copy at run time:
//!
//! ```ignore
//! sevio_runtime::config_section!(
//!     pub fn blk_driver_config() -> [u8; sevio_sddf::BlkDriverConfig::SIZE] = ".blk_driver_config"
//! );
//! let config = sevio_sddf::BlkDriverConfig::parse(&blk_driver_config())?;
//! ```
//!
//! A section nobody filled reads as zeros, which every sDDF parser refuses
//! (bad magic). On seL4 the linker script (`sevio-pd.ld`) keeps the sDDF
//! driver-side sections under their own names in the read-only segment;
//! hosted, the host linker keeps them too, and `tools/sim` does the same
//! replacement on a copy of the host executable before it starts the PD
//! (the `[[section]]` entries of the sim description;
//! `sevio_elfcheck::section`, which `make qemu-test` uses on seL4 images).

/// Declares `fn NAME() -> [u8; SIZE]`, a copy of ELF section `SECTION`.
#[macro_export]
macro_rules! config_section {
    ($(#[$meta:meta])* $vis:vis fn $name:ident() -> [u8; $size:expr] = $section:literal) => {
        $(#[$meta])*
        $vis fn $name() -> [u8; $size] {
            // Not `mut`: the PD never writes it. Explicitly placed, so it
            // is PROGBITS (objcopy can replace its contents), not .bss.
            #[unsafe(link_section = $section)]
            #[used]
            static SECTION: [u8; $size] = [0; $size];
            let base = core::ptr::addr_of!(SECTION).cast::<u8>();
            let mut bytes = [0u8; $size];
            for (i, byte) in bytes.iter_mut().enumerate() {
                // SAFETY: i < $size, so base + i is inside SECTION, a
                // static that lives for the whole program. Volatile because
                // the bytes are replaced after linking: the compiler must
                // not fold them to the zeros of the initialiser.
                *byte = unsafe { base.add(i).read_volatile() };
            }
            bytes
        }
    };
}
