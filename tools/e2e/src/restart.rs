//! The time from a driver's fault to its first answer after the restart,
//! read from a run's log, in sim or on seL4: the bus logs when the driver
//! stopped (`bus: restarting blk0 in ... us (...); it stopped at T us`),
//! the restarted driver when it first published an answer (`blk: first
//! answer since the restart at T us`), both on the runtime's clock, which
//! every PD shares (the generic timer on seL4, CLOCK_MONOTONIC in sim).

/// The number before the final " us" of `line`, after `marker`.
fn micros_after(line: &str, marker: &str) -> Option<u64> {
    let at = line.find(marker)? + marker.len();
    line[at..].strip_suffix(" us").or_else(|| line[at..].split(" us").next())?.trim().parse().ok()
}

/// Microseconds from each fault of the driver the bus calls `bus_name`
/// (`blk0`) to the first answer its restart published (`driver`: the PD
/// name, `blk`). A restart that faulted again before answering has no
/// answer of its own: its fault is superseded by the next one, so each
/// answer is paired with the latest fault before it.
pub fn fault_to_first_answer_us(log: &str, bus_name: &str, driver: &str) -> Vec<u64> {
    let stopped = format!("bus: restarting {bus_name} in ");
    let answered = format!("{driver}: first answer since the restart at ");
    let mut last_fault = None;
    let mut out = Vec::new();
    for line in log.lines() {
        if line.contains(&stopped) {
            last_fault = micros_after(line, "it stopped at ");
        } else if let (Some(at), Some(fault)) = (micros_after(line, &answered), last_fault) {
            last_fault = None;
            out.push(at.saturating_sub(fault));
        }
    }
    out
}

/// The median of `values` (upper middle; None if empty).
pub fn median(values: &[u64]) -> Option<u64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_answer_pairs_with_the_latest_fault_before_it() {
        let log = "\
bus: restarting blk0 in 1000 us (restart 1 of 11 allowed in 10000 ms); it stopped at 1000 us
blk: first answer since the restart at 1500 us
bus: restarting blk0 in 2000 us (restart 2 of 11 allowed in 10000 ms); it stopped at 5000 us
bus: restarting blk0 in 4000 us (restart 3 of 11 allowed in 10000 ms); it stopped at 6000 us
blk: first answer since the restart at 6800 us
blk: first answer since the restart at 9000 us
bus: restarting net0 in 1000 us (restart 1 of 11 allowed in 10000 ms); it stopped at 9500 us
";
        assert_eq!(fault_to_first_answer_us(log, "blk0", "blk"), vec![500, 800]);
        assert_eq!(median(&[500, 800, 100]), Some(500));
        assert_eq!(median(&[]), None);
    }
}
