//! Entropy end to end: bus, mmio transport, rng driver and the test
//! client under sim, against QEMU's virtio-rng. The client checks the
//! bytes themselves (not constant, not repeated, nothing past the range);
//! this test checks from the outside what it reported: exactly the
//! lengths asked for, the large request in pieces, distinct hashes, the
//! refusals, and the driver's own count.

use sevio_e2e::{Run, TempDir, sim};

/// `(len, pieces, hash)` of every answer the client logged, in order.
fn answers(run: &Run) -> Vec<(u32, u32, String)> {
    run.lines_with("rng_client: request ")
        .into_iter()
        .filter(|l| l.contains(" bytes at "))
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let after = |w: &str| words[words.iter().position(|x| *x == w).unwrap() + 1];
            let len = words[words.iter().position(|x| *x == "bytes").unwrap() - 1].parse().unwrap();
            (len, after("in").parse().unwrap(), after("fnv1a").to_string())
        })
        .collect()
}

/// Run rng.xml with `args` and check everything the run reported.
fn passes_with(args: &[&str]) -> Run {
    let run = sim("rng.xml", &[args, &["--timeout", "60"]].concat());
    run.assert_code(0);
    let got = answers(&run);
    let lens: Vec<u32> = got.iter().map(|a| a.0).collect();
    assert_eq!(lens, [16, 100, 4096, 10_000], "exactly the lengths asked for\n{}", run.out);
    assert!(got[..3].iter().all(|a| a.1 >= 1));
    assert!(got[3].1 >= 3, "10000 bytes come in at least three 4096-byte pieces: {:?}", got[3]);
    let mut hashes: Vec<&str> = got.iter().map(|a| a.2.as_str()).collect();
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), 4, "four different answers");
    run.assert_lines(&[
        "rng: device ready",
        "rng_client: request 4: 10000 bytes at 0x1200",
        "rng_client: request 5: 0x3f00+512 refused as invalid",
        "rng_client: request 6: 0x10+0 refused as invalid",
        "rng_client: 4 requests, 14212 bytes, no two alike; 2 refusals",
        "rng_client: PASS",
        "sim: PASS",
    ]);
    assert!(run.out.contains("rng: 4 served (14212 bytes), 2 refused, 0 failed"), "the driver's count\n{}", run.out);
    run
}

#[test]
fn modern_device_in_slot_5_serves_exact_lengths() {
    // rng.sim.toml: virtio-rng-device in slot 5.
    let run = passes_with(&[]);
    run.assert_lines(&["bus: rng0 <- virtio-rng at mmio slot 5"]);
}

#[test]
fn legacy_device_where_qemu_puts_it_works_too() {
    let dir = TempDir::new("rng-legacy");
    let desc = dir.file(
        "rng-legacy.sim.toml",
        "expect_pass = [\"rng_client\"]\nforce_legacy = true\n[[device]]\ndriver = \"virtio-rng-device\"\n",
    );
    let run = passes_with(&["--sim", desc.to_str().unwrap()]);
    run.assert_lines(&["bus: rng0 <- virtio-rng at mmio slot 31"]);
}
