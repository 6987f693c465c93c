//! The minimal driver of README.md's "Writing a driver"
//! (`examples/minimal.rs`): it works over the real transport core, and
//! the README shows exactly its code.

#[allow(dead_code)] // its `main`: `cargo run --example minimal`
#[path = "../examples/minimal.rs"]
mod minimal;

use minimal::{BYTES, ROUNDS, bound_driver, run_device};
use sevio_driver_core::{DriverError, DriverStatus};
use sevio_virtio::{DeviceFault, Error};

#[test]
fn logs_what_the_device_wrote_then_stops_asking() {
    let mut h = bound_driver();
    assert_eq!(h.status(), DriverStatus::Ready);
    let answered = run_device(&mut h, |round| vec![0xa0 + round; BYTES]);
    assert_eq!(u32::from(answered), ROUNDS, "one buffer per round, none after the last");
    assert_eq!(h.driver().rounds, ROUNDS);
    assert_eq!(h.driver().last, ([0xa2; BYTES], BYTES));
    assert_eq!(h.status(), DriverStatus::Ready);
}

#[test]
fn a_short_answer_is_taken_as_it_is() {
    let mut h = bound_driver();
    // VIRTIO 1.2 §5.4.6: the device MAY return fewer bytes than asked.
    run_device(&mut h, |round| if round == 2 { vec![7, 8, 9] } else { vec![1; BYTES] });
    assert_eq!(h.driver().rounds, ROUNDS);
    assert_eq!(h.driver().last, ([7, 8, 9, 0, 0, 0, 0, 0], 3));
}

#[test]
fn a_device_that_claims_more_than_the_buffer_is_failed() {
    let mut h = bound_driver();
    run_device(&mut h, |_| vec![1; BYTES + 1]);
    assert_eq!(h.status(), DriverStatus::Failed);
    assert!(
        matches!(h.last_error(), Some(DriverError::Queue(Error::Device(DeviceFault::UsedLenTooLarge { .. })))),
        "{:?}",
        h.last_error()
    );
    assert_eq!(h.driver().rounds, 0, "nothing was logged");
}

/// The README's first `rust` block under "## Writing a driver".
fn readme_driver() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../README.md")).unwrap();
    let section = readme.split_once("\n## Writing a driver\n").expect("README has the section").1;
    let block = section.split_once("\n```rust\n").expect("a rust block in the section").1;
    block.split_once("\n```\n").expect("the block ends").0.to_string()
}

#[test]
fn the_readme_shows_exactly_this_driver() {
    let example = include_str!("../examples/minimal.rs");
    let from = example.split_once("// README: from here\n").expect("start marker").1;
    let code = from.split_once("\n// README: to here\n").expect("end marker").0;
    assert!(
        readme_driver() == code,
        "README.md's \"Writing a driver\" code and pds/drivers/core/examples/minimal.rs differ: copy the file's \
         part between the README markers into the README"
    );
}
