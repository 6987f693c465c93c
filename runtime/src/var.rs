//! Variables the system description sets: `setvar_vaddr`, `setvar_size`,
//! `region_paddr` and `id` in system.xml.
//!
//! On seL4 each is an 8-byte symbol the microkit tool patches; hosted, sim
//! passes the same values in the environment. Declare one accessor per
//! variable, in the PD's `config.rs`:
//!
//! ```ignore
//! sevio_runtime::setvar!(pub fn client_data_vaddr() = "client_data");
//! ```

/// Declares `fn NAME() -> u64` returning the variable `SYMBOL`.
#[macro_export]
macro_rules! setvar {
    ($(#[$meta:meta])* $vis:vis fn $name:ident() = $symbol:literal) => {
        $(#[$meta])*
        $vis fn $name() -> u64 {
            #[cfg(target_os = "none")]
            {
                // In .data so the tool patches file contents, 8 bytes as
                // the tool requires.
                #[unsafe(export_name = $symbol)]
                #[unsafe(link_section = ".data")]
                #[used]
                static mut VALUE: u64 = 0;
                // SAFETY: VALUE is written only by the microkit tool before
                // the PD starts; a volatile read keeps the compiler from
                // folding the zero default.
                unsafe { core::ptr::addr_of!(VALUE).read_volatile() }
            }
            #[cfg(not(target_os = "none"))]
            {
                $crate::hosted::setvar($symbol)
            }
        }
    };
}
