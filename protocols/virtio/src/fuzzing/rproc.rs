//! The body of the `resource_table` fuzz target.

use sevio_sharedmem::HeapRegion;
use std::vec::Vec;

/// Arbitrary bytes as a resource table (the body of the `resource_table`
/// fuzz target): opening it and checking every entry never panics, and
/// every vdev that checks out lies inside the table, its vrings and config
/// space do not reach into any other entry, and every accessor stays in
/// bounds.
pub fn fuzz_resource_table(data: &[u8]) {
    use crate::rproc::{Resource, ResourceTable};
    let len = data.len().max(1);
    let heap = HeapRegion::new(len);
    let mem = heap.memory();
    mem.copy_in(0, data).expect("fits");
    let Ok(table) = ResourceTable::open(mem) else { return };
    let offsets: Vec<usize> = (0..table.len())
        .map(|i| mem.read::<u32>(crate::rproc::HEADER_SIZE + 4 * i as usize).expect("checked") as usize)
        .collect();
    for i in 0..table.len() {
        let Ok(Resource::Vdev(v)) = table.entry(i) else { continue };
        let end = v.config_at() + v.config_len as usize;
        assert!(end <= mem.len(), "vdev {i} runs past the table");
        for (j, &o) in offsets.iter().enumerate() {
            if j != i as usize {
                assert!(!(v.offset <= o && o < end) || (o == v.offset && j > i as usize), "vdev {i} covers entry {j}");
            }
        }
        let mut buf = [0u8; 16];
        let n = (v.config_len as usize).min(16);
        table.read_config(&v, 0, &mut buf[..n]).expect("inside config_len");
        assert!(table.read_config(&v, v.config_len as usize, &mut buf[..1]).is_err());
        for q in 0..crate::rproc::MAX_VRINGS {
            let _ = table.vring_da(&v, q);
            assert_eq!(table.set_vring_addr(&v, q, 0x1000).is_ok(), q < v.num_vrings as usize);
        }
        table.set_status(&v, 1).expect("inside");
        table.set_gfeatures(&v, 1).expect("inside");
    }
    let _ = table.vdevs(|_| {}).count();
}
