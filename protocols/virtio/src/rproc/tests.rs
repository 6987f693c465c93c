use super::*;
use sevio_sharedmem::HeapRegion;
use std::vec::Vec;

const RPMSG_VRINGS: &[(u32, u32, u32)] = &[(64, 4096, 1), (64, 4096, 2)];
const RNG_VRINGS: &[(u32, u32, u32)] = &[(8, 4096, 4)];
const RPMSG: VdevSpec = VdevSpec { id: 7, notifyid: 0, dfeatures: 1, config_len: 0, vrings: RPMSG_VRINGS };
const RNG: VdevSpec = VdevSpec { id: 4, notifyid: 3, dfeatures: 0, config_len: 8, vrings: RNG_VRINGS };

fn w32(mem: &SharedMemory, at: usize, v: u32) {
    mem.write::<u32>(at, v.to_le()).unwrap();
}

/// A table with the rpmsg and rng vdevs, in a page.
fn published() -> (HeapRegion, usize) {
    let page = HeapRegion::new(4096);
    let used = write_table(&page.memory(), &[RPMSG, RNG]).unwrap();
    (page, used)
}

fn problem(table: &ResourceTable, i: u16) -> EntryProblem {
    table.entry(i).expect_err("entry must be refused").problem
}

fn good_vdevs(table: &ResourceTable) -> Vec<u32> {
    table.vdevs(|_| {}).map(|v| v.id).collect()
}

#[test]
fn the_written_table_is_linux_layout_byte_for_byte() {
    let (page, used) = published();
    let mut bytes = std::vec![0u8; used];
    page.memory().copy_out(0, &mut bytes).unwrap();
    let words: Vec<u32> = bytes.chunks(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
    // Header: ver 1, num 2, reserved, offsets 24 and 24 + 28 + 2 * 20.
    assert_eq!(&words[..6], &[1, 2, 0, 0, 24, 92]);
    // rpmsg vdev: type 3, id 7, notifyid 0, dfeatures 1 (NS), gfeatures 0,
    // config_len 0, status 0 / num_of_vrings 2, then two vrings of
    // {da ANY, align 4096, num 64, notifyid, pa ANY}.
    assert_eq!(&words[6..13], &[3, 7, 0, 1, 0, 0, 2 << 8]);
    assert_eq!(&words[13..18], &[ADDR_ANY, 4096, 64, 1, ADDR_ANY]);
    assert_eq!(&words[18..23], &[ADDR_ANY, 4096, 64, 2, ADDR_ANY]);
    // rng vdev at 92: one vring, 8 bytes of config after it.
    assert_eq!(&words[23..30], &[3, 4, 3, 0, 0, 8, 1 << 8]);
    assert_eq!(&words[30..35], &[ADDR_ANY, 4096, 8, 4, ADDR_ANY]);
    assert_eq!(used, 92 + 28 + 20 + 8);
}

#[test]
fn a_good_table_parses_and_its_fields_are_where_linux_has_them() {
    let (page, _) = published();
    let table = ResourceTable::open(page.memory()).unwrap();
    assert_eq!(table.len(), 2);
    let Ok(Resource::Vdev(rpmsg)) = table.entry(0) else { panic!("{:?}", table.entry(0)) };
    assert_eq!((rpmsg.id, rpmsg.dfeatures, rpmsg.num_vrings, rpmsg.offset), (7, 1, 2, 24));
    assert_eq!(rpmsg.vring(1), Some(VringInfo { da: ADDR_ANY, align: 4096, num: 64, notifyid: 2 }));
    assert_eq!(rpmsg.vring(2), None);
    assert_eq!((rpmsg.gfeatures_at(), rpmsg.status_at(), rpmsg.vring_da_at(1)), (40, 48, Some(72)));
    table.set_gfeatures(&rpmsg, 1).unwrap();
    table.set_status(&rpmsg, 0x0f).unwrap();
    table.set_vring_addr(&rpmsg, 1, 0x4884_0000).unwrap();
    assert_eq!(page.memory().read::<u32>(40), Some(1));
    assert_eq!(page.memory().read::<u8>(48), Some(0x0f));
    assert_eq!(table.vring_da(&rpmsg, 1), Some(0x4884_0000));
    assert_eq!(page.memory().read::<u32>(72 + 16), Some(0x4884_0000), "pa too");
    assert_eq!(good_vdevs(&table), [7, 4]);
}

#[test]
fn config_space_is_bounded_by_config_len() {
    let (page, _) = published();
    let table = ResourceTable::open(page.memory()).unwrap();
    let Ok(Resource::Vdev(rng)) = table.entry(1) else { panic!() };
    table.write_config(&rng, 4, &[1, 2, 3, 4]).unwrap();
    let mut out = [0u8; 8];
    table.read_config(&rng, 0, &mut out).unwrap();
    assert_eq!(out, [0, 0, 0, 0, 1, 2, 3, 4]);
    assert_eq!(table.read_config(&rng, 5, &mut [0u8; 4]), Err(OutOfBounds));
    assert_eq!(table.write_config(&rng, 8, &[1]), Err(OutOfBounds));
    assert_eq!(table.read_config(&rng, usize::MAX, &mut [0u8; 2]), Err(OutOfBounds));
}

#[test]
fn a_bad_header_refuses_the_table() {
    let (page, _) = published();
    let mem = page.memory();
    w32(&mem, 0, 2);
    assert_eq!(ResourceTable::open(mem).err(), Some(TableError::BadVersion(2)));
    w32(&mem, 0, 1);
    w32(&mem, 4, 17);
    assert_eq!(ResourceTable::open(mem).err(), Some(TableError::TooManyEntries { num: 17 }));
    let tiny = mem.slice(0, 20).unwrap();
    w32(&mem, 4, 2);
    assert_eq!(ResourceTable::open(tiny).err(), Some(TableError::TooManyEntries { num: 2 }));
    assert_eq!(ResourceTable::open(mem.slice(0, 6).unwrap()).err(), Some(TableError::TooSmall { len: 6 }));
}

/// Each malformed entry is refused with its own problem, naming entry 0,
/// and the rng vdev in entry 1 still parses.
#[test]
fn each_malformed_entry_is_named_and_the_rest_still_works() {
    type Breakage = fn(&SharedMemory);
    let cases: [(&str, Breakage, EntryProblem); 7] = [
        ("offset out of the region", |m| w32(m, 16, 5000), EntryProblem::OutOfTable { offset: 5000 }),
        ("offset misaligned", |m| w32(m, 16, 26), EntryProblem::Misaligned { offset: 26 }),
        ("offset inside the header", |m| w32(m, 16, 20), EntryProblem::InsideHeader { offset: 20 }),
        // Entry 0 starts 20 bytes before entry 1: its fixed part runs in.
        (
            "fixed part overlapping the next entry",
            |m| {
                w32(m, 16, 72);
                w32(m, 72, RSC_VDEV);
            },
            EntryProblem::Overlaps { other: 1 },
        ),
        (
            "num_of_vrings larger than the entry",
            |m| w32(m, 24 + 24, 3 << 8),
            EntryProblem::VringsPastEntry { num_of_vrings: 3, room: 40 },
        ),
        ("config_len past the end", |m| w32(m, 24 + 20, 1), EntryProblem::ConfigPastEnd { config_len: 1, room: 0 }),
        ("a vring of size 48", |m| w32(m, 24 + 28 + 8, 48), EntryProblem::BadVring { vring: 0, num: 48, align: 4096 }),
    ];
    for (what, breakage, expected) in cases {
        let (page, _) = published();
        let mem = page.memory();
        breakage(&mem);
        let table = ResourceTable::open(mem).unwrap();
        assert_eq!(table.entry(0), Err(EntryError { entry: 0, problem: expected }), "{what}");
        let mut reported = Vec::new();
        assert_eq!(table.vdevs(|e| reported.push(e)).map(|v| v.id).collect::<Vec<_>>(), [4], "{what}");
        assert_eq!(reported.len(), 1, "{what}: one error, for entry 0");
        let text = std::format!("{}", reported[0]);
        assert!(text.starts_with("resource table entry 0: "), "{text}");
    }
}

#[test]
fn two_entries_at_one_offset_the_first_keeps_it() {
    let (page, _) = published();
    let mem = page.memory();
    w32(&mem, 20, 24);
    let table = ResourceTable::open(mem).unwrap();
    assert_eq!(table.entry(1), Err(EntryError { entry: 1, problem: EntryProblem::Overlaps { other: 0 } }));
    assert_eq!(good_vdevs(&table), [7]);
}

#[test]
fn the_last_entry_may_not_run_past_the_table() {
    let (page, used) = published();
    let table = ResourceTable::open(page.memory().slice(0, used - 1).unwrap()).unwrap();
    assert_eq!(problem(&table, 1), EntryProblem::ConfigPastEnd { config_len: 8, room: 7 });
    let table = ResourceTable::open(page.memory().slice(0, 100).unwrap()).unwrap();
    assert_eq!(problem(&table, 1), EntryProblem::Truncated { need: VDEV_SIZE, room: 8 });
    assert_eq!(good_vdevs(&table), [7]);
}

#[test]
fn notify_ids_are_bounded_and_distinct_within_a_vdev() {
    let (page, _) = published();
    let mem = page.memory();
    // rpmsg vring 1 with vring 0's notify id.
    w32(&mem, 24 + 28 + 20 + 12, 1);
    let table = ResourceTable::open(mem).unwrap();
    assert_eq!(problem(&table, 0), EntryProblem::BadNotifyId { notifyid: 1 });
    w32(&mem, 24 + 28 + 20 + 12, 32);
    assert_eq!(problem(&table, 0), EntryProblem::BadNotifyId { notifyid: 32 });
}

#[test]
fn a_notify_id_shared_between_vdevs_refuses_the_later_one() {
    let (page, _) = published();
    let mem = page.memory();
    // The rng vdev's own notify id becomes 2, one of rpmsg's vrings.
    w32(&mem, 92 + 8, 2);
    let table = ResourceTable::open(mem).unwrap();
    assert!(table.entry(1).is_ok(), "fine on its own");
    let mut reported = Vec::new();
    assert_eq!(table.vdevs(|e| reported.push(e)).map(|v| v.id).collect::<Vec<_>>(), [7]);
    assert_eq!(reported, [EntryError { entry: 1, problem: EntryProblem::BadNotifyId { notifyid: 2 } }]);
}

#[test]
fn unknown_and_other_entries_are_skipped_but_checked() {
    let page = HeapRegion::new(4096);
    let mem = page.memory();
    write_table(&mem, &[RNG]).unwrap();
    // Turn the rng vdev into a trace entry (48 bytes: fits its 56) and
    // then into type 9.
    w32(&mem, 20, RSC_TRACE);
    let table = ResourceTable::open(mem).unwrap();
    assert_eq!(table.entry(0), Ok(Resource::Other { kind: RSC_TRACE }));
    w32(&mem, 20, 9);
    assert_eq!(table.entry(0), Ok(Resource::Unknown { kind: 9 }));
    w32(&mem, 20, RSC_CARVEOUT);
    let short = ResourceTable::open(mem.slice(0, 60).unwrap()).unwrap();
    assert_eq!(problem(&short, 0), EntryProblem::Truncated { need: CARVEOUT_SIZE, room: 40 });
}

#[test]
fn mailbox_words_are_taken_once() {
    let page = HeapRegion::new(4096);
    let mb = Mailbox::new(page.memory()).unwrap();
    mb.ring(Direction::ToDevice, 2);
    mb.ring(Direction::ToDriver, 31);
    mb.ring(Direction::ToDriver, 32); // no such word: ignored
    assert!(!mb.take(Direction::ToDriver, 2), "directions are separate");
    assert!(mb.take(Direction::ToDevice, 2));
    assert!(!mb.take(Direction::ToDevice, 2), "taken");
    assert!(mb.take(Direction::ToDriver, 31));
    assert!(!mb.take(Direction::ToDriver, 32));
    assert!(Mailbox::new(page.memory().slice(0, 100).unwrap()).is_none());
}

#[test]
fn fuzz_body_survives_random_tables() {
    let mut rng = crate::fuzzing::Xorshift(0x2545_f491_4f6c_dd1du64);
    let mut next = || rng.next_u64();
    let (good, used) = published();
    let mut base = std::vec![0u8; used];
    good.memory().copy_out(0, &mut base).unwrap();
    for i in 0..4000 {
        // Half random bytes, half the good table with a few words broken.
        let mut input = if i % 2 == 0 {
            (0..(next() % 300) as usize).map(|_| next() as u8).collect::<Vec<u8>>()
        } else {
            base.clone()
        };
        for _ in 0..(next() % 4) {
            if input.len() >= 4 {
                let at = (next() as usize % (input.len() / 4)) * 4;
                let v = match next() % 4 {
                    0 => next() as u32,
                    1 => (next() % 256) as u32,
                    2 => (next() % 8) as u32 * 4 + 16,
                    _ => ADDR_ANY,
                };
                input[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
        }
        if i % 2 == 0 && input.len() >= 8 {
            input[..4].copy_from_slice(&1u32.to_le_bytes());
            input[4] %= 4;
        }
        crate::fuzzing::fuzz_resource_table(&input);
    }
}
