//! `make bench-qemu`'s numbers: `BENCH` lines read from a console, fio's
//! terse output turned into the same lines, medians over rounds, and the
//! `RATIO <metric>_sel4_vs_linux` lines (above 1.0: sevio ahead).
//!
//! A metric is named as blk-bench names it (`blk_qd32_randread_4k_iops`);
//! its unit says which way is better: `IOPS` and `MB/s` higher, `us`
//! (latency) lower.

use sevio_client_blk::BenchConfig;

/// One `BENCH <name> <value> <unit>` figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// The metric, e.g. `blk_qd1_randread_4k_iops`.
    pub name: String,
    /// Its value.
    pub value: f64,
    /// Its unit, e.g. `IOPS`.
    pub unit: String,
}

/// A `BENCH` line anywhere in a console line (a PD's name may come
/// first: `blk_client: BENCH ...`).
pub fn parse_bench_line(line: &str) -> Option<Figure> {
    let at = line.find("BENCH ")?;
    let mut words = line[at + "BENCH ".len()..].split_whitespace();
    let name = words.next()?.to_string();
    let value = words.next()?.parse().ok()?;
    let unit = words.next()?.to_string();
    Some(Figure { name, value, unit })
}

/// One workload both systems run: what blk-bench does in one phase.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    /// blk-bench's metric prefix and fio's job name, e.g. `qd1_randread_4k`.
    pub name: &'static str,
    /// fio's `rw=`.
    pub fio_rw: &'static str,
    /// Bytes per request.
    pub block_bytes: usize,
    /// Requests in flight.
    pub depth: usize,
}

/// The blk workloads: blk-bench's six phases.
pub const BLK_WORKLOADS: [Workload; 6] = [
    Workload { name: "qd1_randread_4k", fio_rw: "randread", block_bytes: 4096, depth: 1 },
    Workload { name: "qd1_seqread_64k", fio_rw: "read", block_bytes: 65536, depth: 1 },
    Workload { name: "qd1_seqwrite_64k", fio_rw: "write", block_bytes: 65536, depth: 1 },
    Workload { name: "qd32_randread_4k", fio_rw: "randread", block_bytes: 4096, depth: 32 },
    Workload { name: "qd32_seqread_64k", fio_rw: "read", block_bytes: 65536, depth: 32 },
    Workload { name: "qd32_seqwrite_64k", fio_rw: "write", block_bytes: 65536, depth: 32 },
];

/// The Linux guest's job list (its kernel command line's `sevio.jobs=`):
/// `name,rw,bs,iodepth,number_ios` per workload, `:` between them, with
/// as many requests per workload as blk-bench's default configuration
/// issues in the same phase.
pub fn fio_jobs() -> String {
    let cfg = BenchConfig::default();
    let jobs: Vec<String> = BLK_WORKLOADS
        .iter()
        .map(|w| {
            let requests = if w.depth == 1 { cfg.qd1_requests } else { cfg.deep_requests };
            format!("{},{},{},{},{requests}", w.name, w.fio_rw, w.block_bytes, w.depth)
        })
        .collect();
    jobs.join(":")
}

/// Fields of fio's terse format version 3 (0-based, split at `;`): the
/// read block starts at 5, the write block 41 fields later; within a
/// block: bandwidth (KiB/s) at +1, IOPS at +2, the 20 latency
/// percentiles (`<p>%=<usec>`) at +12..+32.
const TERSE_READ: usize = 5;
const TERSE_BLOCK_LEN: usize = 41;

/// The figures of one guest line `FIO <job> <terse v3 line>` (fio run with
/// `--lat_percentiles=1`, so the percentiles are of the whole latency,
/// submission to completion, as blk-bench measures it).
pub fn parse_fio_line(line: &str) -> Result<Vec<Figure>, String> {
    let rest = line.strip_prefix("FIO ").ok_or_else(|| format!("not a FIO line: {line}"))?;
    let (job, terse) = rest.split_once(' ').ok_or_else(|| format!("FIO line without output: {line}"))?;
    let workload = BLK_WORKLOADS.iter().find(|w| w.name == job).ok_or_else(|| format!("unknown fio job {job}"))?;
    let fields: Vec<&str> = terse.trim().split(';').collect();
    if fields.first() != Some(&"3") || fields.len() < TERSE_READ + 2 * TERSE_BLOCK_LEN {
        return Err(format!("fio job {job}: not terse version 3 output: {terse}"));
    }
    if fields[4] != "0" {
        return Err(format!("fio job {job} failed with error {}", fields[4]));
    }
    let block = if workload.fio_rw == "write" { TERSE_READ + TERSE_BLOCK_LEN } else { TERSE_READ };
    let number = |i: usize| -> Result<f64, String> {
        fields[i].parse().map_err(|_| format!("fio job {job}: field {i} is {:?}, not a number", fields[i]))
    };
    let median_us = fields[block + 12..block + 32]
        .iter()
        .find_map(|f| f.strip_prefix("50.000000%="))
        .ok_or_else(|| format!("fio job {job}: no 50th percentile"))?
        .parse::<f64>()
        .map_err(|_| format!("fio job {job}: bad 50th percentile"))?;
    let mut figures = Vec::new();
    if workload.fio_rw == "randread" {
        figures.push(figure(format!("blk_{job}_iops"), number(block + 2)?, "IOPS"));
    } else {
        // KiB/s to MB/s (10^6 bytes), as blk-bench counts.
        figures.push(figure(format!("blk_{job}_mbps"), number(block + 1)? * 1024.0 / 1e6, "MB/s"));
    }
    figures.push(figure(format!("blk_{job}_median_latency_us"), median_us, "us"));
    Ok(figures)
}

fn figure(name: String, value: f64, unit: &str) -> Figure {
    Figure { name, value, unit: unit.to_string() }
}

/// Whether a larger value of this unit is better.
pub fn higher_is_better(unit: &str) -> bool {
    unit != "us"
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// Every round's figures of one system, collected by metric.
#[derive(Clone, Debug, Default)]
pub struct Rounds {
    by_name: Vec<(String, String, Vec<f64>)>,
}

impl Rounds {
    /// Add one round's figures.
    pub fn add(&mut self, figures: &[Figure]) {
        for f in figures {
            match self.by_name.iter_mut().find(|(name, _, _)| *name == f.name) {
                Some((_, _, values)) => values.push(f.value),
                None => self.by_name.push((f.name.clone(), f.unit.clone(), vec![f.value])),
            }
        }
    }

    /// The median figure of a metric over the rounds.
    pub fn median_of(&self, name: &str) -> Option<Figure> {
        let (name, unit, values) = self.by_name.iter().find(|(n, _, _)| n == name)?;
        Some(Figure { name: name.clone(), value: median(values)?, unit: unit.clone() })
    }

    /// Metric names, in the order first seen.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.iter().map(|(n, _, _)| n.as_str())
    }

    /// Rounds a metric was seen in.
    pub fn count(&self, name: &str) -> usize {
        self.by_name.iter().find(|(n, _, _)| n == name).map_or(0, |(_, _, v)| v.len())
    }
}

/// The report: per metric both systems have, `BENCH <sel4_label>_<metric>`,
/// `BENCH linux_<metric>` (medians) and `RATIO <metric>_sel4_vs_linux`
/// (above 1.0: sevio ahead; a debug kernel's ratio names it:
/// `_sel4_debug_vs_linux`), then the metrics only one side has.
pub fn report(sel4_label: &str, sel4: &Rounds, linux: &Rounds) -> Vec<String> {
    let suffix = sel4_label.strip_prefix("sel4").unwrap_or("");
    compare(sel4_label, sel4, "linux", linux, &format!("sel4{suffix}_vs_linux"))
}

/// Two sets of rounds side by side: per metric both have, `BENCH
/// <ours_label>_<metric>`, `BENCH <theirs_label>_<metric>` (medians) and
/// `RATIO <metric>_<ratio>` (above 1.0: ours ahead), then the metrics
/// only ours has.
pub fn compare(ours_label: &str, ours: &Rounds, theirs_label: &str, theirs: &Rounds, ratio: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for name in ours.names() {
        let Some(a) = ours.median_of(name) else { continue };
        let Some(b) = theirs.median_of(name) else { continue };
        lines.push(format!("BENCH {ours_label}_{name} {:.1} {}", a.value, a.unit));
        lines.push(format!("BENCH {theirs_label}_{name} {:.1} {}", b.value, b.unit));
        let r = if higher_is_better(&a.unit) { a.value / b.value } else { b.value / a.value };
        lines.push(format!("RATIO {name}_{ratio} {r:.3}"));
    }
    for name in ours.names().filter(|n| theirs.median_of(n).is_none()) {
        let f = ours.median_of(name).expect("a listed name has values");
        lines.push(format!("BENCH {ours_label}_{name} {:.1} {}", f.value, f.unit));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// fio 3.33's terse v3 line for a 4 KiB random read at depth 1 on the
    /// Linux guest (cut to the fields read, the rest as fio prints them).
    fn terse(rw_block_at_write: bool, bw: &str, iops: &str, p50: &str) -> String {
        let pct = |p50: &str| {
            ["1.000000%=42", "5.000000%=45", "10.000000%=46", "20.000000%=47", "30.000000%=48", "40.000000%=49"]
                .iter()
                .map(|s| s.to_string())
                .chain([format!("50.000000%={p50}")])
                .chain(
                    [
                        "60.000000%=54",
                        "70.000000%=57",
                        "80.000000%=64",
                        "90.000000%=140",
                        "95.000000%=342",
                        "99.000000%=1056",
                        "99.500000%=5013",
                        "99.900000%=7372",
                        "99.950000%=7372",
                        "99.990000%=7372",
                        "0%=0",
                        "0%=0",
                        "0%=0",
                    ]
                    .iter()
                    .map(|s| s.to_string()),
                )
                .collect::<Vec<_>>()
        };
        let block = |bw: &str, iops: &str, p50: &str| {
            let mut f: Vec<String> = vec!["1200".into(), bw.into(), iops.into(), "312".into()];
            f.extend(["234", "14313", "817.7", "1489.8", "40", "7349", "141.4", "570.1"].map(String::from));
            f.extend(pct(p50));
            f.extend(
                ["299", "19340", "959.1", "1714.9", "0", "0", "0.000000%", "0.000000", "0.000000"].map(String::from),
            );
            f
        };
        let idle = block("0", "0", "0");
        let busy = block(bw, iops, p50);
        let (read, write) = if rw_block_at_write { (idle, busy) } else { (busy, idle) };
        let mut fields: Vec<String> = ["3", "fio-3.33", "job", "0", "0"].map(String::from).to_vec();
        fields.extend(read);
        fields.extend(write);
        fields.extend(["11.2%", "24.6%", "347", "0", "25", "vda", "47"].map(String::from));
        fields.join(";")
    }

    #[test]
    fn a_bench_line_is_read_after_a_pd_name() {
        let f = parse_bench_line("blk_client: BENCH blk_qd1_randread_4k_iops 1234 IOPS").unwrap();
        assert_eq!(f, figure("blk_qd1_randread_4k_iops".into(), 1234.0, "IOPS"));
        assert_eq!(parse_bench_line("BENCH x 1.5 us").unwrap().value, 1.5);
        assert!(parse_bench_line("blk_client: BENCH x notanumber IOPS").is_none());
        assert!(parse_bench_line("blk-bench: qd1 randread: 300 requests").is_none());
    }

    #[test]
    fn fio_random_reads_give_iops_and_the_median_latency() {
        let line = format!("FIO qd1_randread_4k {}", terse(false, "3846", "961", "51"));
        let figures = parse_fio_line(&line).unwrap();
        assert_eq!(
            figures,
            [
                figure("blk_qd1_randread_4k_iops".into(), 961.0, "IOPS"),
                figure("blk_qd1_randread_4k_median_latency_us".into(), 51.0, "us"),
            ]
        );
    }

    #[test]
    fn fio_sequential_writes_are_read_from_the_write_block_in_mb_per_s() {
        let line = format!("FIO qd32_seqwrite_64k {}", terse(true, "100000", "1562", "9000"));
        let figures = parse_fio_line(&line).unwrap();
        assert_eq!(figures[0].name, "blk_qd32_seqwrite_64k_mbps");
        assert!((figures[0].value - 102.4).abs() < 1e-9, "{}", figures[0].value);
        assert_eq!(figures[1].value, 9000.0);
        // Read from the read block, the same line has nothing.
        let as_read = format!("FIO qd32_seqread_64k {}", terse(true, "100000", "1562", "9000"));
        assert_eq!(parse_fio_line(&as_read).unwrap()[0].value, 0.0);
    }

    #[test]
    fn broken_fio_output_is_an_error_that_says_why() {
        let t = terse(false, "1", "1", "1");
        assert!(parse_fio_line(&format!("FIO nosuchjob {t}")).unwrap_err().contains("unknown fio job"));
        assert!(parse_fio_line("FIO qd1_randread_4k ").unwrap_err().contains("terse version 3"));
        let failed = t.replacen(";0;0;1200", ";0;5;1200", 1);
        assert!(parse_fio_line(&format!("FIO qd1_randread_4k {failed}")).unwrap_err().contains("error 5"));
    }

    #[test]
    fn the_job_list_matches_blk_bench_phases_and_request_counts() {
        let cfg = BenchConfig::default();
        let jobs = fio_jobs();
        let first = jobs.split(':').next().unwrap();
        assert_eq!(first, format!("qd1_randread_4k,randread,4096,1,{}", cfg.qd1_requests));
        assert!(jobs.contains(&format!("qd32_seqwrite_64k,write,65536,32,{}", cfg.deep_requests)));
        assert_eq!(jobs.split(':').count(), 6);
    }

    #[test]
    fn medians_and_ratios_point_the_right_way() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let mut sel4 = Rounds::default();
        let mut linux = Rounds::default();
        for (iops, lat) in [(100.0, 10.0), (300.0, 30.0), (200.0, 20.0)] {
            sel4.add(&[figure("m_iops".into(), iops, "IOPS"), figure("m_lat".into(), lat, "us")]);
        }
        linux.add(&[figure("m_iops".into(), 100.0, "IOPS"), figure("m_lat".into(), 40.0, "us")]);
        sel4.add(&[figure("only_ours".into(), 7.0, "count")]);
        assert_eq!(sel4.count("m_iops"), 3);
        let lines = report("sel4", &sel4, &linux);
        assert_eq!(
            lines,
            [
                "BENCH sel4_m_iops 200.0 IOPS",
                "BENCH linux_m_iops 100.0 IOPS",
                "RATIO m_iops_sel4_vs_linux 2.000",
                "BENCH sel4_m_lat 20.0 us",
                "BENCH linux_m_lat 40.0 us",
                "RATIO m_lat_sel4_vs_linux 2.000",
                "BENCH sel4_only_ours 7.0 count",
            ]
        );
        let debug = report("sel4_debug", &sel4, &linux);
        assert!(debug.contains(&"RATIO m_iops_sel4_debug_vs_linux 2.000".to_string()), "{debug:?}");
        let msix = compare("sel4_msix", &sel4, "sel4_intx", &linux, "msix_vs_intx");
        assert_eq!(
            msix[..3],
            [
                "BENCH sel4_msix_m_iops 200.0 IOPS",
                "BENCH sel4_intx_m_iops 100.0 IOPS",
                "RATIO m_iops_msix_vs_intx 2.000"
            ]
        );
    }
}
