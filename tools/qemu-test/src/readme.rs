//! The README's "What works, and where it was checked" table, made from
//! what is checked: each row names the tests of `make test` (the e2e and
//! simulator tests, found in their source) and the systems of
//! `make qemu-test` ([`SYSTEMS`]) that check it, and the cells say what
//! those check. `make readme-table` writes it; a unit test fails when the
//! committed table differs, when a row names a test or system that does
//! not exist, or when an e2e test or seL4 system is in no row.

use crate::disk::DiskCheck;
use crate::systems::{SYSTEMS, System};
use std::path::Path;

/// One row: a capability and what checks it.
pub struct Row {
    /// The capability.
    pub what: &'static str,
    /// Tests of `make test`: `<file>::<fn>` for `tools/e2e/tests/<file>.rs`,
    /// `sim/<file>::<fn>` for `tools/sim/tests/it/<file>.rs`.
    pub sim: &'static [&'static str],
    /// Systems of `make qemu-test`.
    pub sel4: &'static [&'static str],
    /// The client PDs whose verdicts check this row on seL4 (all of the
    /// systems' clients if empty).
    pub clients: &'static [&'static str],
}

/// The table's rows.
pub const ROWS: &[Row] = &[
    Row {
        what: "runtime: notifications both ways, 6-word PPC, setvars, passive PD (`systems/pingpong.xml`)",
        sim: &["sim/systems::reference_system_prints_every_round_and_passes"],
        sel4: &["pingpong"],
        clients: &[],
    },
    Row {
        what: "output: every line whole and named after its PD (`blk_client: PASS`), on debug and release kernels \
               (the `uart` PD; every PD of every seL4 system wired to it)",
        sim: &[
            "output::every_pd_of_every_sel4_system_has_the_log_channel_to_a_uart_above_it",
            "output::every_line_of_the_reference_system_is_whole_and_names_its_pd",
        ],
        sel4: &["reference", "pingpong"],
        clients: &[],
    },
    Row {
        what: "reference system (`system.xml`): blk, net, console, rng and their clients on virtio-mmio, devices on any slot; \
               the timer PD (the net client retransmits on it)",
        sim: &["reference::every_device_is_bound_and_every_client_passes"],
        sel4: &["reference", "reference-legacy"],
        clients: &[],
    },
    Row {
        what: "blk over virtio-mmio, modern and legacy, any slot, spoken to as sDDF's virtualiser does (I/O addresses, two data regions, 128-entry queues, 100 reads outstanding); bad requests refused (one straddling the two regions); read-only disk; no disk",
        sim: &[
            "blk::modern_device_in_slot_31_holds_exactly_the_pattern_afterwards",
            "blk::modern_device_in_slot_0_works_too",
            "blk::legacy_device_works",
            "blk::bad_requests_are_refused_and_touch_nothing",
            "blk::read_only_drive_refuses_writes_and_serves_reads",
            "blk::without_a_disk_the_bus_says_so_and_nothing_crashes",
        ],
        sel4: &["reference", "reference-legacy"],
        clients: &["blk_client"],
    },
    Row {
        what: "blk device that stops answering (sim holds back its interrupt, `--hold-irq`): the driver reports the request \
               after its 5 s deadline (timer PD), fails the device and answers ERR_IO; the client reports it, the rest runs on",
        sim: &["blk::a_device_that_stops_answering_is_reported_after_its_deadline_and_the_client_gets_err_io"],
        sel4: &[],
        clients: &[],
    },
    Row {
        what: "packed virtqueues (VIRTIO 1.2 §2.8, QEMU's `packed=on`): negotiated when offered, behind the drivers' \
               one queue API; blk and net pass the same client checks (every driver of the reference system on seL4)",
        sim: &[
            "blk::packed_virtqueue_holds_exactly_the_pattern_afterwards",
            "net::packed_virtqueues_ping_the_gateway_too",
        ],
        sel4: &["reference-packed"],
        clients: &[],
    },
    Row {
        what: "blk over virtio-pci: modern, transitional in legacy mode, behind a root port (`systems/pci.xml`)",
        sim: &[
            "pci::modern_pci_device_holds_exactly_the_pattern_afterwards",
            "pci::transitional_device_in_legacy_mode_works",
            "pci::device_behind_a_root_port_is_found_and_works",
        ],
        sel4: &["pci-modern", "pci-legacy", "pci-root-port"],
        clients: &[],
    },
    Row {
        what: "one blk on mmio + one on PCI, one driver image twice (`systems/mmio-pci.xml`)",
        sim: &["pci::one_disk_on_mmio_and_one_on_pci_bind_two_instances_of_one_driver"],
        sel4: &["mmio-pci"],
        clients: &[],
    },
    Row {
        what: "net: ARP, ping, UDP echo against a peer that counts every frame; the user-networking gateway ping; \
               over mmio and PCI (`systems/net-pci.xml`), modern and legacy; the client plays sDDF's rx and tx \
               virtualisers (I/O addresses in two data regions, 512 rx and 1024 tx entries, a channel each); what \
               goes unanswered resent on the timer PD's deadlines, a clear FAIL after 8 unanswered resends",
        sim: &[
            "net::a_peer_on_a_socket_gets_every_answer_and_nothing_else",
            "net::an_unanswered_client_gives_up_with_a_clear_fail",
            "net::the_client_pings_the_user_networking_gateway_on_its_own",
            "net::a_legacy_device_in_another_slot_works_too",
            "pci::net_passes_over_a_modern_pci_device",
            "pci::net_passes_over_a_transitional_pci_device_in_legacy_mode",
        ],
        sel4: &["reference", "reference-legacy", "net-pci-modern", "net-pci-legacy"],
        clients: &["net_client"],
    },
    Row {
        what: "MSI-X on virtio-pci (`systems/pci-msix.xml`, `systems/net-pci-msix.xml`): the GICv2m frame's \
               MSI_TYPER read, one vector per queue and one for configuration (each read back), SPIs given to the \
               pci PD; a one-entry table shared; no MSI-X or a legacy device: INTx",
        sim: &[
            "pci::msix_blk_interrupts_through_a_vector_for_its_queue_and_one_for_configuration",
            "pci::msix_with_a_one_entry_table_shares_it_between_configuration_and_the_queue",
            "pci::msix_system_keeps_a_device_without_msix_and_a_legacy_one_on_intx",
            "pci::net_passes_over_msix",
        ],
        sel4: &["blk-pci-msix", "net-pci-msix"],
        clients: &[],
    },
    Row {
        what: "net configured the sDDF way: `.net_driver_config` and `.sevio_data_regions` alone (no queue or data \
               setvars), rx and tx peers on the config's channels; one channel for both peers refused (on seL4: \
               sDDF 0.7.0's `examples/echo_server`, built outside the repo, see `pds/drivers/net/README.md`)",
        sim: &[
            "net::config_sections_alone_wire_the_net_driver",
            "net::a_config_naming_one_channel_for_both_peers_is_refused",
        ],
        sel4: &[],
        clients: &["net_client"],
    },
    Row {
        what: "net bench (`systems/net-bench.xml`): two hosts on one QEMU hub, 1000 UDP datagrams of 1 KiB echoed, \
               then as many as go in 2 s (timed on the timer PD), every echo checked; BENCH lines",
        sim: &["net::net_bench"],
        sel4: &[],
        clients: &[],
    },
    Row {
        what: "net bench against a host outside the system (`systems/net-bench-peer.xml`, what `make bench-qemu` \
               compares with a Linux guest): the NIC on a UDP socket to an echo peer on the host; a stream (1 KiB, \
               32 in flight) and request/response (net-bench-rr: 64 bytes, one in flight), every echo checked",
        sim: &["net::net_bench_streams_through_the_host_peer", "net::net_bench_rr_round_trips_through_the_host_peer"],
        sel4: &[],
        clients: &[],
    },
    Row {
        what: "console: typed lines (a 3 KiB one, a burst of 500) come back upper-cased, nothing lost \
               (on seL4: the device consumes the banner)",
        sim: &[
            "console::typed_lines_come_back_upper_cased_with_nothing_lost_or_reordered",
            "console::the_standalone_client_passes_once_its_banner_is_out",
            "console::a_legacy_device_carries_the_banner_too",
        ],
        sel4: &["reference", "reference-legacy"],
        clients: &["console_client"],
    },
    Row {
        what: "console configured the sDDF way: `.serial_driver_config` alone (no queue setvars), rx and tx peers \
               on channels of their own; a config naming the transport's channel refused (on seL4: sDDF 0.7.0's \
               `examples/serial`, built outside the repo, see `pds/drivers/console/README.md`)",
        sim: &[
            "console::a_config_section_alone_wires_the_console",
            "console::a_config_naming_the_transports_channel_is_refused",
        ],
        sel4: &[],
        clients: &["console_client"],
    },
    Row {
        what: "rng: exact lengths, large requests in pieces, refusals",
        sim: &["rng::modern_device_in_slot_5_serves_exact_lengths", "rng::legacy_device_where_qemu_puts_it_works_too"],
        sel4: &["reference", "reference-legacy"],
        clients: &["rng_client"],
    },
    Row {
        what: "remoteproc (`systems/rproc.xml`): a device-side PD publishes a resource table; rpmsg echo (12 and \
               496 bytes, 497 refused, a burst of 100), name service both ways; the unchanged rng driver over rproc \
               gets the device's exact bytes",
        sim: &["rproc::messages_come_back_from_the_remote_echo_and_entropy_arrives_over_rproc"],
        sel4: &["rproc"],
        clients: &[],
    },
    Row {
        what: "timer: sDDF's timer protocol on the Arm generic timer (EL0 physical, INTID 30), three clients with \
               1/10/100 ms timeouts at once, replaced timeouts never notified, a deadline list (`systems/timer.xml`)",
        sim: &["timer::three_clients_get_their_timeouts_on_time_and_replaced_ones_never"],
        sel4: &["timer"],
        clients: &[],
    },
    Row {
        what: "gpu (2D) and input: paint draws a test pattern and text, a hardware cursor follows the mouse or tablet, \
               keys change colour; key presses, relative moves, absolute positions and clicks injected through QMP \
               arrive exactly, and QEMU's screendump equals paint's picture pixel for pixel; over mmio and PCI \
               (`systems/gpu.xml`, `systems/gpu-pci.xml`)",
        sim: &[
            "gpu::mmio_events_arrive_exactly_and_the_screen_is_what_paint_drew",
            "gpu::pci_events_arrive_exactly_and_the_screen_is_what_paint_drew",
        ],
        sel4: &["gpu", "gpu-pci"],
        clients: &["paint"],
    },
    Row {
        what: "9p (9P2000.L in the driver PD, `systems/9p.xml`, `systems/9p-pci.xml`): a tree of files written, read back, listed, partly removed; the host directory then holds exactly those files and bytes; a file the host prepared read back exactly; a path climbing out and an unknown fd refused; over mmio and PCI (modern, transitional)",
        sim: &[
            "p9::a_tree_written_over_mmio_is_on_the_host_exactly",
            "p9::the_same_tree_over_pci_modern_and_transitional",
        ],
        sel4: &["9p", "9p-pci"],
        clients: &["p9_client"],
    },
    Row {
        what: "vsock (`systems/vsock.xml`, `systems/vsock-pci.xml`, against QEMU's vhost-user-vsock with rust-vmm's vhost-device-vsock as the host side): the guest connects out to a host listener that echoes 300 kB, checked byte for byte; a host program connects to the guest's echo server and gets 200 kB back byte for byte; credit-based flow control both ways; over mmio and PCI",
        sim: &["vsock::echo_both_ways_over_mmio", "vsock::echo_both_ways_over_pci"],
        sel4: &["vsock", "vsock-pci"],
        clients: &["vsock_client"],
    },
    Row {
        what: "sound (sDDF sound protocol, `systems/sound.xml`, `systems/sound-pci.xml`): streams described, parameters set, prepared, started, stopped, released; one second of a 440 Hz tone played from the client's region, and QEMU's WAV file then holds it (PCM mono 48 kHz, length within 0.1%, DFT peak and zero crossings at 440 Hz); a capture gives exactly the frames asked for; a short status and unknown statuses fail the device, device errors reach the client; playback and capture each over mmio and PCI",
        sim: &[
            "sound::the_tone_over_mmio_is_in_the_wav_file_and_capture_over_pci_gives_every_frame",
            "sound::the_same_with_the_transports_swapped",
        ],
        sel4: &["sound", "sound-pci"],
        clients: &["tone", "recorder"],
    },
    Row {
        what: "a driver that keeps faulting: unbound by the bus, device reset, restarted with back-off until the 12th fault in 10 s leaves it down; the rest runs on",
        sim: &[
            "reference::a_driver_that_keeps_faulting_stays_down_and_nothing_else_stops",
            "sim/systems::faults_are_reported_and_reach_the_parent",
        ],
        sel4: &["fault"],
        clients: &[],
    },
    Row {
        what: "a system's own restart policy (the bus's `.sevio_restart_policy` section, written by `Sevio.serialise_restart_policy`): 3 faults in 2 s leave blk down after 2 restarts; a section with a bad field is refused by name and the built-in policy kept",
        sim: &["reference::a_system_sets_its_own_restart_policy"],
        sel4: &["fault-policy"],
        clients: &[],
    },
    Row {
        what: "a driver restarted after a fault (blk during bring-up and with its device up; in sim also net and console with their devices up): from its boot state, bound to its device again, its client's session continues to PASS",
        sim: &[
            "reference::a_faulted_driver_is_restarted_and_its_client_still_passes",
            "reference::net_and_console_clients_pass_across_a_restart_of_their_drivers",
        ],
        sel4: &["restart"],
        clients: &["blk_client"],
    },
    Row {
        what: "restart recovers client work (`systems/journal.xml`): blk faulted 10 times at random points (a request taken, posted, answered but unpublished, an interrupt, bring-up; in sim also killed 10 times at random moments, `--fault-random`) under a 12-round write/verify load; its journal (a region a restart keeps) has every request it had taken resubmitted or answered again, each exactly once; the client reads back every block it was told was written, the host finds the last round's pattern on the disk",
        sim: &[
            "journal::blk_survives_ten_faults_under_write_verify_load",
            "journal::blk_survives_ten_kills_at_random_moments",
        ],
        sel4: &["journal"],
        clients: &["blk_client"],
    },
    Row {
        what: "a driver stuck in a loop (hang drill in `systems/journal.xml`): the bus reads its heartbeat every 250 ms on the timer PD's timeouts, takes one event lasting 1 s for a hang, unbinds it (device reset) and restarts it like a faulted one; the journal recovers its requests, the client reads back every block",
        sim: &["journal::a_driver_stuck_in_a_loop_is_restarted_and_loses_nothing"],
        sel4: &["journal-hang"],
        clients: &["blk_client"],
    },
    Row {
        what: "DMA confinement with a virtio-iommu (PCI devices only): a PCI binding is published only once the IOMMU PD \
               attached the device and mapped, identity, exactly the regions system.xml names for its driver; blk and \
               net pass confined (`systems/blk-pci-iommu.xml`, `systems/net-pci-iommu.xml`); a region left out is \
               unreachable; a driver that points its device at another PD's page (`pds/drivers/rogue`) changes it \
               without an IOMMU (`systems/rogue-pci.xml`) and, behind one, faults (logged), is unbound and restarted, the page intact \
               (`systems/rogue-pci-iommu.xml`)",
        sim: &[
            "iommu::blk_over_pci_passes_with_its_dma_confined_and_the_disk_holds_the_pattern",
            "iommu::a_region_system_xml_leaves_out_is_out_of_the_devices_reach",
            "iommu::net_over_pci_passes_with_its_dma_confined",
            "iommu::without_an_iommu_the_rogue_drivers_device_overwrites_the_canary",
            "iommu::behind_a_virtio_iommu_the_canary_stays_intact_the_fault_is_logged_and_the_rogue_unbound_and_restarted",
        ],
        sel4: &["blk-pci-iommu", "net-pci-iommu", "rogue-pci", "rogue-pci-iommu"],
        clients: &[],
    },
    Row {
        what: "DMA confinement with the Arm SMMUv3 (QEMU virt `iommu=smmuv3`, stage 2; PCI devices only): the smmu PD \
               (`pds/drivers/smmu`) serves the bus the same way; a bound device's stream table entry points at stage-2 \
               tables mapping, identity, exactly the regions system.xml names for its driver, every other stream \
               aborts; blk and net pass confined (`systems/blk-pci-smmu.xml`, `systems/net-pci-smmu.xml`); a region \
               left out is unreachable; the rogue's device faults (F_TRANSLATION, logged), the rogue is unbound and \
               restarted, the canary page intact (`systems/rogue-pci-smmu.xml`); with MSI-X each slot's tables also \
               map the GICv2m frame page write-only and blk and net interrupt through their vectors \
               (`systems/blk-pci-smmu-msix.xml`, `systems/net-pci-smmu-msix.xml`); without that page the MSI write faults",
        sim: &[
            "smmu::blk_over_pci_passes_behind_the_smmu_and_the_disk_holds_the_pattern",
            "smmu::behind_the_smmu_a_region_system_xml_leaves_out_is_out_of_the_devices_reach",
            "smmu::net_over_pci_passes_behind_the_smmu",
            "smmu::behind_the_smmu_the_canary_stays_intact_the_fault_is_logged_and_the_rogue_unbound_and_restarted",
            "smmu::blk_over_pci_with_msix_passes_behind_the_smmu_its_vectors_reaching_the_gic",
            "smmu::behind_the_smmu_without_the_msi_frame_the_devices_msix_write_is_refused",
            "smmu::net_over_pci_with_msix_passes_behind_the_smmu",
        ],
        sel4: &["blk-pci-smmu", "net-pci-smmu", "rogue-pci-smmu", "blk-pci-smmu-msix", "net-pci-smmu-msix"],
        clients: &[],
    },
];

/// Where the generated table starts and ends in the README.
pub const BEGIN: &str = "<!-- generated by `make readme-table` from tools/qemu-test/src/readme.rs: do not edit -->";
/// See [`BEGIN`].
pub const END: &str = "<!-- end of generated table -->";

/// A test function found in the source.
#[derive(Clone, Debug)]
pub struct TestFn {
    /// `<file>::<fn>` or `sim/<file>::<fn>`.
    pub id: String,
    /// The file's name (`blk.rs`).
    pub file: String,
    /// Its body reads a disk back from the host.
    pub reads_disk: bool,
}

/// Every `#[test]` of the e2e tests and the simulator's system tests that
/// `make test` runs (not `#[ignore]`d).
pub fn tests(workspace: &Path) -> Result<Vec<TestFn>, String> {
    let mut out = Vec::new();
    for (dir, prefix) in [("tools/e2e/tests", ""), ("tools/sim/tests/it", "sim/")] {
        let mut files: Vec<_> = std::fs::read_dir(workspace.join(dir))
            .map_err(|e| format!("{dir}: {e}"))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            let stem = file.trim_end_matches(".rs");
            out.extend(test_fns(&text).into_iter().map(|(name, body)| TestFn {
                id: format!("{prefix}{stem}::{name}"),
                file: format!("{prefix}{file}"),
                reads_disk: body.contains("assert_disk_holds_the_pattern") || body.contains("std::fs::read(&disk)"),
            }));
        }
    }
    Ok(out)
}

/// `(name, body)` of each non-ignored `#[test]` fn in `text`; a body runs
/// to the next attribute-led item.
fn test_fns(text: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() != "#[test]" {
            continue;
        }
        let mut j = i + 1;
        let mut ignored = false;
        while j < lines.len() && lines[j].trim_start().starts_with("#[") {
            ignored |= lines[j].contains("#[ignore");
            j += 1;
        }
        // An #[ignore] above #[test] counts too.
        ignored |= i > 0 && lines[i - 1].contains("#[ignore");
        let Some(name) = lines.get(j).and_then(|l| l.trim().strip_prefix("fn ")).and_then(|l| l.split('(').next())
        else {
            continue;
        };
        let end = (j + 1..lines.len())
            .find(|&k| lines[k].starts_with("#[") || lines[k].starts_with("///"))
            .unwrap_or(lines.len());
        if !ignored {
            out.push((name.to_string(), lines[j..end].join("\n")));
        }
    }
    out
}

/// The table, from [`ROWS`], the tests found and [`SYSTEMS`].
pub fn table(tests: &[TestFn]) -> Result<String, String> {
    let mut out = String::from("| | sim (`make test`) | seL4 on QEMU (`make qemu-test`) |\n|---|---|---|\n");
    for row in ROWS {
        let found: Vec<&TestFn> = row
            .sim
            .iter()
            .map(|id| tests.iter().find(|t| t.id == *id).ok_or(format!("no test {id} (row: {})", row.what)))
            .collect::<Result<_, _>>()?;
        let systems: Vec<&System> = row
            .sel4
            .iter()
            .map(|name| SYSTEMS.iter().find(|s| s.name == *name).ok_or(format!("no system {name} (row: {})", row.what)))
            .collect::<Result<_, _>>()?;
        out.push_str(&format!("| {} | {} | {} |\n", row.what, sim_cell(&found), sel4_cell(&systems, row.clients)));
    }
    Ok(out)
}

/// "yes: 3 tests (`blk.rs`), disk read back".
fn sim_cell(tests: &[&TestFn]) -> String {
    if tests.is_empty() {
        return "no".into();
    }
    let mut files: Vec<&str> = tests.iter().map(|t| t.file.as_str()).collect();
    files.dedup();
    let files: Vec<String> = files.iter().map(|f| format!("`{f}`")).collect();
    let plural = if tests.len() == 1 { "" } else { "s" };
    let disk = if tests.iter().any(|t| t.reads_disk) { ", disk read back" } else { "" };
    format!("yes: {} test{plural} ({}){disk}", tests.len(), files.join(", "))
}

/// "yes: `pci-modern`, `pci-legacy`: blk_client PASS; disk read back",
/// about `clients` (all the systems' clients if empty).
fn sel4_cell(systems: &[&System], clients: &[&str]) -> String {
    if systems.is_empty() {
        return "no".into();
    }
    let shown = |pd: &str| clients.is_empty() || clients.contains(&pd);
    let names: Vec<String> = systems.iter().map(|s| format!("`{}`", s.name)).collect();
    let mut passing: Vec<&str> =
        systems.iter().flat_map(|s| s.expect.pass.iter().copied()).filter(|pd| shown(pd)).collect();
    passing.sort();
    passing.dedup();
    let mut checks = vec![format!("{} PASS", passing.join(", "))];
    let disks = systems.iter().flat_map(|s| s.disks);
    if disks.into_iter().any(|d| matches!(d, DiskCheck::Pattern(writer) if shown(writer))) {
        checks.push("disk read back".into());
    }
    let faults: Vec<String> = systems.iter().flat_map(|s| s.expect.faults).map(|f| format!("`{f}`")).collect();
    if !faults.is_empty() {
        checks.push(format!("expects the fault {}", faults.join(", ")));
    }
    format!("yes: {}: {}", names.join(", "), checks.join("; "))
}

/// `readme` with the text between [`BEGIN`] and [`END`] replaced by
/// `table`.
pub fn splice(readme: &str, table: &str) -> Result<String, String> {
    let begin = readme.find(BEGIN).ok_or("the README has no generated-table marker")?;
    let end = readme[begin..].find(END).ok_or("the README's generated table has no end marker")? + begin;
    Ok(format!("{}{BEGIN}\n{table}{}", &readme[..begin], &readme[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn the_committed_table_is_what_the_checks_say() {
        let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
        let table = table(&tests(&workspace()).unwrap()).unwrap();
        assert!(splice(&readme, &table).unwrap() == readme, "README table is stale: run `make readme-table`");
    }

    #[test]
    fn every_e2e_test_and_every_sel4_system_is_in_a_row() {
        for t in tests(&workspace()).unwrap().iter().filter(|t| !t.id.starts_with("sim/")) {
            assert!(ROWS.iter().any(|r| r.sim.contains(&t.id.as_str())), "{} is in no row", t.id);
        }
        for s in SYSTEMS {
            assert!(ROWS.iter().any(|r| r.sel4.contains(&s.name)), "{} is in no row", s.name);
        }
    }

    #[test]
    fn test_functions_are_found_and_ignored_ones_left_out() {
        let src = "#[test]\nfn one() {\n    assert_disk_holds_the_pattern(&d);\n}\n\n\
                   /// doc\n#[test]\n#[ignore = \"bench\"]\nfn two() {}\n#[ignore]\n#[test]\nfn three() {}\n\
                   #[test]\nfn four() {}\n";
        let found = test_fns(src);
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["one", "four"]);
        assert!(found[0].1.contains("assert_disk_holds_the_pattern"));
        assert!(!found[1].1.contains("assert_disk"));
    }

    #[test]
    fn a_row_naming_a_missing_test_is_an_error() {
        assert!(table(&[]).unwrap_err().starts_with("no test sim/systems::reference_system"));
    }

    #[test]
    fn splice_replaces_only_between_the_markers() {
        let readme = format!("a\n{BEGIN}\nold\n{END}\nb\n");
        assert_eq!(splice(&readme, "new\n").unwrap(), format!("a\n{BEGIN}\nnew\n{END}\nb\n"));
        assert!(splice("no markers", "x").is_err());
    }
}
