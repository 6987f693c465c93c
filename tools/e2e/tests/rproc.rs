//! sevio over remoteproc end to end: the device-side PD (vhost) publishes
//! a resource table with an rpmsg and an rng vdev; the rproc transport
//! serves them; the rpmsg driver and the unchanged rng driver bind. The
//! clients check their devices themselves (the echo byte for byte: 12 and
//! exactly 496 bytes, a 497-byte message refused, a burst of 100, more
//! than a virtqueue holds); this test checks from the outside that the
//! announcements went both ways and that the entropy bytes are exactly
//! the device's deterministic stream, in order.

use sevio_e2e::{sim, workspace};

/// `fnv1a` of each request's bytes as rng-client logs them, in order.
fn rng_hashes(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.contains("rng_client: request ") && l.contains(" bytes at "))
        .map(|l| l.rsplit(' ').next().unwrap().to_string())
        .collect()
}

#[test]
fn messages_come_back_from_the_remote_echo_and_entropy_arrives_over_rproc() {
    let system = workspace().join("systems/rproc.xml");
    let run = sim(system.to_str().unwrap(), &["--timeout", "60"]);
    run.assert_code(0);
    // Lines of different PDs reach the log in no fixed order (vhost, for
    // one, logs after it has published): each is checked on its own.
    for line in [
        "vhost: resource table published",
        "rproc: entry 0: virtio-rpmsg, 2 vring(s)",
        "bus: rpmsg0 <- virtio-rpmsg at rproc entry 0",
        "rpmsg: device ready",
        "bus: rng0 <- virtio-rng at rproc entry 1",
        "rng: device ready",
    ] {
        run.assert_lines(&[line]);
    }
    // Name-service announcements, both ways.
    run.assert_lines(&["rpmsg_client: remote endpoint rpmsg-echo at 1024"]);
    run.assert_lines(&["vhost: rpmsg: the driver announced 'echo-client' at 1024 (Create)"]);
    run.assert_lines(&[
        "rpmsg_client: 12-byte echo ok",
        "rpmsg_client: 496-byte echo ok",
        "rpmsg_client: a 497-byte message refused as too large",
        "rpmsg_client: burst of 100 echoed in order",
        "rpmsg_client: PASS",
    ]);
    // The driver's own line for that refusal: two PDs' lines, so in no
    // fixed order with the client's.
    run.assert_lines(&[
        "rpmsg_client: 496-byte echo ok",
        "rpmsg: request refused: TooLarge (from 1024 to 1024, 497 bytes)",
    ]);
    run.assert_lines(&["rng_client: PASS"]);
    assert!(run.lines_with("dropped:").is_empty(), "nothing dropped on either side\n{}", run.out);
    // The rng device's stream, cut as the client asked for it.
    let mut at = 0u64;
    let expected: Vec<String> = [16u64, 100, 4096, 10_000]
        .iter()
        .map(|&len| {
            let bytes = (at..at + len).map(sevio_vhost::rng::stream_byte);
            at += len;
            format!("{:016x}", sevio_client_rng::fnv1a(bytes))
        })
        .collect();
    assert_eq!(rng_hashes(&run.out), expected, "exactly the device's bytes, in order\n{}", run.out);
}
