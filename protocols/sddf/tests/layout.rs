//! The C layouts of sDDF 0.7.0 (sizes and offsets as gcc lays them out on
//! a 64-bit target), and every parse rule on hand-made bytes.

use core::mem::{offset_of, size_of};
use sevio_sddf::blk::{RawBlkConnection, RawBlkDriverConfig};
use sevio_sddf::net::{RawNetConnection, RawNetDriverConfig};
use sevio_sddf::resources::{RawDeviceRegion, RawDeviceResources, RawRegion};
use sevio_sddf::serial::{RawSerialConnection, RawSerialDriverConfig};
use sevio_sddf::timer::RawTimerClientConfig;
use sevio_sddf::*;

#[test]
fn sizes_and_offsets_are_the_c_ones() {
    assert_eq!((size_of::<RawRegion>(), offset_of!(RawRegion, size)), (16, 8));
    assert_eq!((size_of::<RawDeviceRegion>(), offset_of!(RawDeviceRegion, io_addr)), (24, 16));
    assert_eq!(size_of::<RawDeviceResources>(), 1608);
    assert_eq!(
        [
            offset_of!(RawDeviceResources, num_regions),
            offset_of!(RawDeviceResources, num_irqs),
            offset_of!(RawDeviceResources, regions),
            offset_of!(RawDeviceResources, irqs)
        ],
        [5, 6, 8, 1544]
    );
    assert_eq!(size_of::<RawBlkConnection>(), 56);
    assert_eq!(
        [
            offset_of!(RawBlkConnection, req_queue),
            offset_of!(RawBlkConnection, resp_queue),
            offset_of!(RawBlkConnection, num_buffers),
            offset_of!(RawBlkConnection, id)
        ],
        [16, 32, 48, 50]
    );
    assert_eq!((size_of::<RawBlkDriverConfig>(), offset_of!(RawBlkDriverConfig, virt)), (64, 8));
    assert_eq!(size_of::<RawNetConnection>(), 40);
    assert_eq!(
        [
            offset_of!(RawNetConnection, active_queue),
            offset_of!(RawNetConnection, num_buffers),
            offset_of!(RawNetConnection, id)
        ],
        [16, 32, 34]
    );
    assert_eq!(size_of::<RawNetDriverConfig>(), 88);
    assert_eq!([offset_of!(RawNetDriverConfig, virt_rx), offset_of!(RawNetDriverConfig, virt_tx)], [8, 48]);
    assert_eq!(size_of::<RawSerialConnection>(), 40);
    assert_eq!([offset_of!(RawSerialConnection, data), offset_of!(RawSerialConnection, id)], [16, 32]);
    assert_eq!(size_of::<RawSerialDriverConfig>(), 104);
    assert_eq!(
        [
            offset_of!(RawSerialDriverConfig, rx),
            offset_of!(RawSerialDriverConfig, tx),
            offset_of!(RawSerialDriverConfig, default_baud),
            offset_of!(RawSerialDriverConfig, rx_enabled)
        ],
        [8, 48, 88, 96]
    );
    assert_eq!((size_of::<RawTimerClientConfig>(), offset_of!(RawTimerClientConfig, driver_id)), (6, 5));
    assert_eq!(
        [BlkDriverConfig::SIZE, NetDriverConfig::SIZE, SerialDriverConfig::SIZE, TimerClientConfig::SIZE],
        [64, 88, 104, 6]
    );
    assert_eq!(DeviceResources::SIZE, 1608);
}

fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn put_region(b: &mut [u8], off: usize, vaddr: u64, size: u64) {
    put_u64(b, off, vaddr);
    put_u64(b, off + 8, size);
}

/// A blk driver config with every field distinct.
fn blk_golden() -> [u8; 64] {
    let mut b = [0u8; 64];
    b[..5].copy_from_slice(b"sDDF\x02");
    put_region(&mut b, 8, 0x2040_0000, 0x1000);
    put_region(&mut b, 24, 0x2040_1000, 0x4000);
    put_region(&mut b, 40, 0x2040_5000, 0x3000);
    b[56..58].copy_from_slice(&128u16.to_le_bytes());
    b[58] = 7;
    b
}

#[test]
fn blk_golden_bytes_parse_field_by_field() {
    let c = BlkDriverConfig::parse(&blk_golden()).unwrap();
    assert_eq!(c.virt.storage_info, Region { vaddr: 0x2040_0000, size: 0x1000 });
    assert_eq!(c.virt.req_queue, Region { vaddr: 0x2040_1000, size: 0x4000 });
    assert_eq!(c.virt.resp_queue, Region { vaddr: 0x2040_5000, size: 0x3000 });
    assert_eq!((c.virt.num_buffers, c.virt.id), (128, 7));
}

#[test]
fn bad_magic_is_refused_with_what_was_found() {
    let mut b = blk_golden();
    b[4] = 5; // a net magic
    assert_eq!(BlkDriverConfig::parse(&b), Err(ConfigError::BadMagic { expected: Magic::Blk, found: *b"sDDF\x05" }));
    // A section objcopy never filled is all zero.
    assert_eq!(NetDriverConfig::parse(&[0; 88]), Err(ConfigError::BadMagic { expected: Magic::Net, found: [0; 5] }));
}

#[test]
fn short_bytes_are_refused() {
    assert_eq!(BlkDriverConfig::parse(&blk_golden()[..63]), Err(ConfigError::TooShort { needed: 64, len: 63 }));
    assert_eq!(TimerClientConfig::parse(b"sDDF"), Err(ConfigError::TooShort { needed: 6, len: 4 }));
}

#[test]
fn empty_region_names_the_field() {
    let mut b = blk_golden();
    put_u64(&mut b, 32, 0); // req_queue.size
    let e = BlkDriverConfig::parse(&b).unwrap_err();
    assert_eq!(e, ConfigError::EmptyRegion { field: Field::named("virt.req_queue") });
    assert_eq!(e.to_string(), "virt.req_queue has size 0");
}

#[test]
fn overflowing_region_names_the_field() {
    let mut b = blk_golden();
    put_region(&mut b, 40, u64::MAX - 0xfff, 0x1000); // resp_queue ends at 2^64
    assert_eq!(
        BlkDriverConfig::parse(&b),
        Err(ConfigError::RegionOverflow {
            field: Field::named("virt.resp_queue"),
            start: u64::MAX - 0xfff,
            size: 0x1000
        })
    );
}

fn net_golden() -> [u8; 88] {
    let mut b = [0u8; 88];
    b[..5].copy_from_slice(b"sDDF\x05");
    put_region(&mut b, 8, 0x2001_1000, 0x3000);
    put_region(&mut b, 24, 0x2001_4000, 0x3000);
    b[40..42].copy_from_slice(&512u16.to_le_bytes());
    b[42] = 1;
    put_region(&mut b, 48, 0x2001_7000, 0x5000);
    put_region(&mut b, 64, 0x2001_c000, 0x5000);
    b[80..82].copy_from_slice(&1024u16.to_le_bytes());
    b[82] = 2;
    b
}

#[test]
fn net_golden_bytes_parse_and_name_each_direction() {
    let c = NetDriverConfig::parse(&net_golden()).unwrap();
    assert_eq!(c.virt_rx.free_queue, Region { vaddr: 0x2001_1000, size: 0x3000 });
    assert_eq!(c.virt_rx.active_queue, Region { vaddr: 0x2001_4000, size: 0x3000 });
    assert_eq!((c.virt_rx.num_buffers, c.virt_rx.id), (512, 1));
    assert_eq!(c.virt_tx.free_queue, Region { vaddr: 0x2001_7000, size: 0x5000 });
    assert_eq!(c.virt_tx.active_queue, Region { vaddr: 0x2001_c000, size: 0x5000 });
    assert_eq!((c.virt_tx.num_buffers, c.virt_tx.id), (1024, 2));
    let mut b = net_golden();
    put_u64(&mut b, 72, 0); // virt_tx.active_queue.size
    assert_eq!(
        NetDriverConfig::parse(&b),
        Err(ConfigError::EmptyRegion { field: Field::named("virt_tx.active_queue") })
    );
}

fn serial_golden(rx_enabled: u8) -> [u8; 104] {
    let mut b = [0u8; 104];
    b[..5].copy_from_slice(b"sDDF\x03");
    if rx_enabled == 1 {
        put_region(&mut b, 8, 0x2000_1000, 0x1000);
        put_region(&mut b, 24, 0x2000_2000, 0x1_0000);
        b[40] = 1;
    }
    put_region(&mut b, 48, 0x2001_2000, 0x1000);
    put_region(&mut b, 64, 0x2001_3000, 0x2_0000);
    b[80] = 2;
    put_u64(&mut b, 88, 115_200);
    b[96] = rx_enabled;
    b
}

#[test]
fn serial_rx_is_there_only_when_enabled() {
    let c = SerialDriverConfig::parse(&serial_golden(1)).unwrap();
    let rx = c.rx.unwrap();
    assert_eq!((rx.queue.vaddr, rx.data.size, rx.id), (0x2000_1000, 0x1_0000, 1));
    assert_eq!((c.tx.queue.vaddr, c.tx.data, c.tx.id), (0x2001_2000, Region { vaddr: 0x2001_3000, size: 0x2_0000 }, 2));
    assert_eq!(c.default_baud, 115_200);
    // sdfgen leaves rx all zero without an rx virtualiser: not an error.
    assert_eq!(SerialDriverConfig::parse(&serial_golden(0)).unwrap().rx, None);
    // Enabled but empty is.
    let mut b = serial_golden(0);
    b[96] = 1;
    assert_eq!(SerialDriverConfig::parse(&b), Err(ConfigError::EmptyRegion { field: Field::named("rx.queue") }));
    assert_eq!(
        SerialDriverConfig::parse(&serial_golden(2)),
        Err(ConfigError::BadBool { field: Field::named("rx_enabled"), value: 2 })
    );
}

#[test]
fn timer_client_config() {
    assert_eq!(TimerClientConfig::parse(b"sDDF\x06\x05").unwrap().driver_id, 5);
    assert!(matches!(TimerClientConfig::parse(b"sDDF\x02\x05"), Err(ConfigError::BadMagic { .. })));
}

fn device_golden() -> Vec<u8> {
    let mut b = vec![0u8; 1608];
    b[..5].copy_from_slice(b"sDDF\x01");
    b[5] = 2;
    b[6] = 1;
    put_region(&mut b, 8, 0x2000_0000, 0x1000);
    put_u64(&mut b, 24, 0xa00_0000);
    put_region(&mut b, 32, 0x2000_1000, 0x1_0000);
    put_u64(&mut b, 48, 0x5fff_0000);
    b[1544] = 9;
    b
}

#[test]
fn device_resources_parse_counted_entries_only() {
    let d = DeviceResources::parse(&device_golden()).unwrap();
    assert_eq!(
        d.regions(),
        &[
            DeviceRegion { region: Region { vaddr: 0x2000_0000, size: 0x1000 }, io_addr: 0xa00_0000 },
            DeviceRegion { region: Region { vaddr: 0x2000_1000, size: 0x1_0000 }, io_addr: 0x5fff_0000 },
        ]
    );
    assert_eq!(d.irqs(), &[9]);
}

#[test]
fn device_resources_counts_over_the_arrays_are_refused() {
    let mut b = device_golden();
    b[5] = 65;
    assert_eq!(
        DeviceResources::parse(&b),
        Err(ConfigError::CountOverArray { field: Field::named("num_regions"), count: 65, max: 64 })
    );
    let mut b = device_golden();
    b[6] = 200;
    assert_eq!(
        DeviceResources::parse(&b),
        Err(ConfigError::CountOverArray { field: Field::named("num_irqs"), count: 200, max: 64 })
    );
    // 64 is the array's length: allowed (every entry is then checked).
    let mut b = device_golden();
    b[5] = 64;
    assert_eq!(
        DeviceResources::parse(&b),
        Err(ConfigError::EmptyRegion { field: Field::indexed("regions[].region", 2) })
    );
}

#[test]
fn device_region_errors_name_the_element() {
    let mut b = device_golden();
    put_u64(&mut b, 48, u64::MAX - 0x10); // regions[1].io_addr
    let e = DeviceResources::parse(&b).unwrap_err();
    assert_eq!(
        e,
        ConfigError::RegionOverflow {
            field: Field::indexed("regions[].io_addr", 1),
            start: u64::MAX - 0x10,
            size: 0x1_0000
        }
    );
    assert!(e.to_string().starts_with("regions[1].io_addr: "), "{e}");
    let mut b = device_golden();
    put_u64(&mut b, 40, 0); // regions[1].region.size
    assert_eq!(
        DeviceResources::parse(&b),
        Err(ConfigError::EmptyRegion { field: Field::indexed("regions[].region", 1) })
    );
}

#[test]
fn io_ranges_must_lie_in_one_region() {
    let regions = [
        DeviceRegion { region: Region { vaddr: 0, size: 0x1000 }, io_addr: 0x5000_0000 },
        DeviceRegion { region: Region { vaddr: 0, size: 0x2000 }, io_addr: 0x5000_1000 },
        DeviceRegion { region: Region { vaddr: 0, size: 0x1000 }, io_addr: u64::MAX - 0x1fff },
    ];
    assert_eq!(find_io_range(&regions, 0x5000_0000, 0x1000), Some(IoTarget { index: 0, offset: 0 }));
    assert_eq!(find_io_range(&regions, 0x5000_1800, 0x800), Some(IoTarget { index: 1, offset: 0x800 }));
    // One byte past the end of the last region.
    assert_eq!(find_io_range(&regions, 0x5000_2800, 0x801), None);
    // Adjacent regions are still two regions.
    assert_eq!(find_io_range(&regions, 0x5000_0800, 0x1000), None);
    // Below every region, empty, and near or wrapping past 2^64.
    assert_eq!(find_io_range(&regions, 0x4fff_ffff, 2), None);
    assert_eq!(find_io_range(&regions, 0x5000_0000, 0), None);
    assert_eq!(find_io_range(&regions, u64::MAX - 0x1fff, 0x1000), Some(IoTarget { index: 2, offset: 0 }));
    assert_eq!(find_io_range(&regions, u64::MAX - 0x1fff, 0x1001), None);
    assert_eq!(find_io_range(&regions, u64::MAX - 0x1000, u64::MAX), None);
}

#[test]
fn an_unmapped_region_list_parses_back_as_written() {
    use sevio_sddf::resources::RawDeviceResources;
    use zerocopy::IntoBytes;
    let regions = [(0x5fef_0000, 0x10_0000), (0x5fdf_0000, 0x10_0000)];
    let raw = RawDeviceResources::unmapped(&regions).unwrap();
    let parsed = sevio_sddf::DeviceResources::parse(raw.as_bytes()).unwrap();
    let back: Vec<(u64, u64)> = parsed.regions().iter().map(|r| (r.io_addr, r.region.size)).collect();
    assert_eq!(back, regions);
    assert!(parsed.regions().iter().all(|r| r.region.vaddr == 0) && parsed.irqs().is_empty());
    assert!(RawDeviceResources::unmapped(&[(0x1000, 0x1000); 65]).is_none(), "a device_resources_t holds 64");
    assert!(RawDeviceResources::unmapped(&[(0x1000, 0x1000); 64]).is_some());
}
