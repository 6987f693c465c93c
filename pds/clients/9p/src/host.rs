//! The host's side of the 9p check (feature `host`, std): what the
//! exported directory holds before a run and must hold after it. Used by
//! the simulator's end-to-end test and by `make qemu-test`, so the rule
//! is written once.

extern crate std;

use crate::{A_TEXT, BIG_LEN, big_byte, fnv1a};
use std::format;
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;

/// The file the host prepares, which the client reads back.
pub const HOST_FILE: &str = "host.txt";

/// `host.txt`'s bytes: 3000 of them, a repeated line.
pub fn host_text() -> Vec<u8> {
    (0..3000u32).map(|i| b"the host wrote this\n"[(i % 20) as usize]).collect()
}

/// The line the client logs when it read `host.txt` exactly.
pub fn host_read_line() -> String {
    let text = host_text();
    format!("host.txt: {} bytes, fnv1a {:016x}", text.len(), fnv1a(text.iter().copied()))
}

/// Make `dir` the export: created, holding only `host.txt`.
pub fn prepare(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(dir.join(HOST_FILE), host_text()).map_err(|e| format!("cannot write {HOST_FILE}: {e}"))
}

/// Every file and directory under `root` (directories end in `/`),
/// relative, sorted.
fn tree(root: &Path) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut todo = std::vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).map_err(|e| e.to_string())?.to_string_lossy().into_owned();
            if p.is_dir() {
                todo.push(p);
                out.push(format!("{rel}/"));
            } else {
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// After a run: `dir` holds exactly `host.txt` (untouched), `out/a.txt`
/// and `out/sub/big.bin` with the bytes the client wrote, and nothing
/// else (the client removed `out/tmp.txt`).
pub fn check(dir: &Path) -> Result<(), String> {
    let want = ["host.txt", "out/", "out/a.txt", "out/sub/", "out/sub/big.bin"];
    let got = tree(dir)?;
    if got != want {
        return Err(format!("the export holds {got:?}, not exactly {want:?}"));
    }
    let read = |name: &str| std::fs::read(dir.join(name)).map_err(|e| format!("cannot read {name}: {e}"));
    if read("out/a.txt")? != A_TEXT {
        return Err("out/a.txt does not hold the text written".into());
    }
    let big = read("out/sub/big.bin")?;
    if big.len() != BIG_LEN as usize || big.iter().enumerate().any(|(i, b)| *b != big_byte(i as u32)) {
        return Err(format!("out/sub/big.bin ({} bytes) does not hold the bytes written", big.len()));
    }
    if read(HOST_FILE)? != host_text() {
        return Err("host.txt changed".into());
    }
    Ok(())
}
