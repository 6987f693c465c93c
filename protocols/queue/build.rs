// Declares the `loom` cfg (set by `RUSTFLAGS="--cfg loom"` for the model
// checks in tests/loom.rs) so rustc does not warn about it.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(loom)");
}
