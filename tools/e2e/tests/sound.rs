//! Sound end to end: bus, both transports, two sound driver instances and
//! the tone and recorder clients under sim, against two QEMU
//! virtio-sound devices: the tone's with the wav audiodev (playback
//! recorded to a file), the recorder's with the none audiodev (silence at
//! the real rate). Afterwards the host reads the WAV file: it must hold
//! the tone the client generated, its frequency and length
//! (`sevio_client_sound::host`, shared with `make qemu-test`); the
//! recorder must have been given exactly the frames it asked for.

use sevio_client_sound::{RECORD_FRAMES, TONE_FRAMES, host};
use sevio_e2e::{TempDir, sim};

/// Run `system` with the tone's device placed by `tone_at` and the
/// recorder's by `record_at` (sim description lines); `bound`: where the
/// bus finds each device, then how sound0 and sound1 log their binding.
fn plays_and_records(system: &str, tone_at: &str, record_at: &str, bound: [&str; 4]) {
    let dir = TempDir::new(&format!("sound-{system}"));
    let wav = dir.0.join("tone.wav");
    let desc = dir.file(
        "sound.sim.toml",
        &format!(
            "expect_pass = [\"tone\", \"recorder\"]\n\
             [[device]]\n{tone_at}\n\
             audiodev = {{ type = \"wav\", path = \"tone.wav\", \"out.frequency\" = 48000, \"out.channels\" = 1, \"out.format\" = \"s16\" }}\n\
             [[device]]\n{record_at}\naudiodev = {{ type = \"none\" }}\n"
        ),
    );
    let system = sevio_e2e::workspace().join("systems").join(system);
    let run = sim(system.to_str().unwrap(), &["--sim", desc.to_str().unwrap(), "--timeout", "60"]);
    run.assert_code(0);
    // Each PD's lines in order; the two devices and clients interleave.
    // The bus names a driver by its rank among those registered when it
    // binds; the drivers' own lines say which instance got which device.
    run.assert_lines(&[&format!("<- virtio-sound at {}", bound[0]), &format!("sound0: sound: bound to {}", bound[2])]);
    run.assert_lines(&[&format!("<- virtio-sound at {}", bound[1]), &format!("sound1: sound: bound to {}", bound[3])]);
    run.assert_lines(&[
        "tone: stream 0 of 2 (playback), mono S16 at 48000 Hz",
        &format!("tone: played 50048 frames of 50048 (1042 ms): {TONE_FRAMES} of 440 Hz (1000 ms), then silence"),
        "tone: PASS",
    ]);
    run.assert_lines(&[
        "recorder: stream 1 of 2 (capture), mono S16 at 48000 Hz",
        &format!("recorder: captured {RECORD_FRAMES} frames of {RECORD_FRAMES} asked"),
        "recorder: PASS",
    ]);
    run.assert_lines(&["sim: PASS"]);
    assert!(
        run.out.contains(&format!(
            "sound1: sound: 5 commands ok, 0 refused, 0 refused by the device, 0 failed; 0 bytes played, {} captured",
            2 * RECORD_FRAMES
        )),
        "the capture driver's count\n{}",
        run.out
    );
    let seen = host::check_tone(&wav).unwrap_or_else(|why| panic!("{why}\n{}", run.out));
    assert_eq!(seen.peak_hz, 440);
}

#[test]
fn the_tone_over_mmio_is_in_the_wav_file_and_capture_over_pci_gives_every_frame() {
    plays_and_records(
        "sound.xml",
        "driver = \"virtio-sound-device\"\nslot = 5",
        "driver = \"virtio-sound-pci\"\npci_addr = \"2\"",
        ["mmio slot 5", "pci 00:02.0", "Mmio { slot: 5 }", "Pci"],
    );
}

#[test]
fn the_same_with_the_transports_swapped() {
    plays_and_records(
        "sound-pci.xml",
        "driver = \"virtio-sound-pci\"\npci_addr = \"2\"",
        "driver = \"virtio-sound-device\"\nslot = 5",
        ["pci 00:02.0", "mmio slot 5", "Pci", "Mmio { slot: 5 }"],
    );
}
