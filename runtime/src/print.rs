//! Debug printing: seL4's debug console on debug kernels, stdout under sim.
//! Release kernels have no debug console; there these print nothing.

use core::fmt;

/// A `fmt::Write` sink for the platform's debug output.
pub struct DebugWriter;

impl fmt::Write for DebugWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        #[cfg(target_os = "none")]
        for b in s.bytes() {
            crate::sel4::put_byte(b);
        }
        #[cfg(not(target_os = "none"))]
        crate::hosted::write_output(s);
        Ok(())
    }
}

#[doc(hidden)]
pub fn _print(args: fmt::Arguments<'_>) {
    let _ = fmt::Write::write_fmt(&mut DebugWriter, args);
}

/// Print to the debug console.
#[macro_export]
macro_rules! debug_print {
    ($($arg:tt)*) => { $crate::print::_print(format_args!($($arg)*)) };
}

/// Print a line to the debug console.
#[macro_export]
macro_rules! debug_println {
    () => { $crate::print::_print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::print::_print(format_args!("{}\n", format_args!($($arg)*))) };
}
