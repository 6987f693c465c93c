//! Build-time configuration of the seL4 backend.
//!
//! - `SEVIO_IRQ_ACK_LABEL`: the IRQAckIRQ invocation label, which differs
//!   by kernel config (seL4 16.0.0: 31 debug, 27 release). Read from
//!   `$MICROKIT_SDK/board/$MICROKIT_BOARD/$MICROKIT_CONFIG/invocations_all.json`
//!   when an SDK is given, else those defaults.
//! - `SEVIO_TCB_WRITE_REGISTERS_LABEL`: the TCBWriteRegisters invocation
//!   label (a parent restarting a child), read the same way (3 in both
//!   configs of seL4 16.0.0, the default).
//! - cfg `sevio_debug_putchar`: the kernel has seL4_DebugPutChar (every
//!   config but release).
//! - the linker script `sevio-pd.ld`, placed on the link search path of
//!   every crate that depends on this one; `.cargo/config.toml` passes
//!   `-Tsevio-pd.ld` for aarch64-unknown-none.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(sevio_debug_putchar)");
    for var in ["MICROKIT_SDK", "MICROKIT_BOARD", "MICROKIT_CONFIG"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rerun-if-changed=sevio-pd.ld");

    let config = env::var("MICROKIT_CONFIG").unwrap_or_else(|_| "debug".into());
    let board = env::var("MICROKIT_BOARD").unwrap_or_else(|_| "qemu_virt_aarch64".into());
    let irq_ack_default = if config == "release" { 27 } else { 31 };
    let invocations = match env::var("MICROKIT_SDK") {
        Ok(sdk) if !sdk.is_empty() => {
            let path = PathBuf::from(&sdk).join("board").join(&board).join(&config).join("invocations_all.json");
            println!("cargo::rerun-if-changed={}", path.display());
            match fs::read_to_string(&path) {
                Ok(text) => Some((path, text)),
                Err(e) => panic!("cannot read {}: {e} (is MICROKIT_SDK/BOARD/CONFIG right?)", path.display()),
            }
        }
        _ => None,
    };
    let label = |name: &str, default: u64| match &invocations {
        Some((path, text)) => match find_label(text, name) {
            Some(v) => v,
            None => panic!("{}: no {name} entry", path.display()),
        },
        None => default,
    };
    println!("cargo::rustc-env=SEVIO_IRQ_ACK_LABEL={}", label("IRQAckIRQ", irq_ack_default));
    println!("cargo::rustc-env=SEVIO_TCB_WRITE_REGISTERS_LABEL={}", label("TCBWriteRegisters", 3));
    if config != "release" {
        println!("cargo::rustc-cfg=sevio_debug_putchar");
    }

    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::copy("sevio-pd.ld", out.join("sevio-pd.ld")).expect("copy linker script");
    println!("cargo::rustc-link-search={}", out.display());
}

/// The number after `"name"` and a colon, in a JSON object of name: number.
fn find_label(json: &str, name: &str) -> Option<u64> {
    let key = format!("\"{name}\"");
    let rest = &json[json.find(&key)? + key.len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}
