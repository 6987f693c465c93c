//! The client against a hand-driven driver side of the two queues.

use super::*;
use sevio_sharedmem::HeapRegion;
use std::string::String;
use std::vec::Vec;

struct Rig {
    _mem: Vec<HeapRegion>,
    client: ConsoleClient,
    /// The driver's end of rx (it produces input).
    input: SerialProducer,
    /// The driver's end of tx (it consumes output).
    output: SerialConsumer,
    tx_header: SharedMemory,
    log: String,
    /// Output the "device" has consumed, in order.
    sent: Vec<u8>,
}

fn regions(mem: &mut Vec<HeapRegion>, cap: usize) -> QueueRegions {
    let header = HeapRegion::new(4096);
    let data = HeapRegion::new(cap);
    let r = QueueRegions { header: header.memory(), data: data.memory() };
    mem.push(header);
    mem.push(data);
    r
}

impl Rig {
    fn new(mode: Mode, rx_cap: usize, tx_cap: usize) -> Rig {
        let mut mem = Vec::new();
        let rx = regions(&mut mem, rx_cap);
        let tx = regions(&mut mem, tx_cap);
        Rig {
            client: ConsoleClient::new(rx, tx, mode).unwrap(),
            input: SerialProducer::new(rx.header, rx.data, rx_cap as u32).unwrap(),
            output: SerialConsumer::new(tx.header, tx.data, tx_cap as u32).unwrap(),
            tx_header: tx.header,
            _mem: mem,
            log: String::new(),
            sent: Vec::new(),
        }
    }

    fn start(&mut self) -> Progress {
        self.client.start(&mut self.log)
    }

    fn notify(&mut self) -> Progress {
        self.client.notified(&mut self.log)
    }

    /// The driver types `bytes` (as many as fit); returns how many.
    fn type_in(&mut self, bytes: &[u8]) -> usize {
        self.input.write(bytes).unwrap()
    }

    /// The device consumes all output; returns whether the client asked
    /// to be told (as the driver's `require_signal` decides).
    fn consume(&mut self) -> bool {
        let mut buf = [0u8; 256];
        loop {
            let n = self.output.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            self.sent.extend_from_slice(&buf[..n]);
        }
        self.output.require_signal().unwrap()
    }

    fn tx_flag(&self) -> u32 {
        self.tx_header.load_u32(PRODUCER_SIGNALLED_OFFSET, Ordering::Relaxed).unwrap()
    }
}

#[test]
fn passes_once_the_device_has_consumed_the_banner() {
    let mut rig = Rig::new(Mode::Standalone, 4096, 4096);
    assert_eq!(rig.start(), Progress::Waiting);
    assert_eq!(rig.client.take_notify(), Notify { rx: false, tx: true }, "the tx peer is told about the banner");
    assert_eq!(rig.tx_flag(), 0, "the client asked to hear when the head moves");
    assert_eq!(rig.notify(), Progress::Waiting, "nothing consumed yet");
    assert!(rig.consume(), "the driver must notify: the flag was clear");
    assert_eq!(rig.sent, BANNER.as_bytes());
    assert_eq!(rig.notify(), Progress::Passed);
    assert!(rig.log.contains("consumed the banner"), "{}", rig.log);
    assert_eq!(rig.tx_flag(), 1, "no more notifications wanted");
    assert_eq!(rig.notify(), Progress::Waiting, "passes once");
}

#[test]
fn answers_lines_upper_cased_and_never_takes_more_than_it_can_answer() {
    let mut rig = Rig::new(Mode::Standalone, 256, 128);
    assert_eq!(rig.start(), Progress::Waiting);
    rig.consume();
    rig.notify();
    // A 300-character line through a 128-character tx queue.
    let line: Vec<u8> = (0..300).map(|i| b"abcdefghij"[i % 10]).chain([b'\n']).collect();
    let mut typed = 0;
    for _ in 0..100 {
        typed += rig.type_in(&line[typed..]);
        assert_eq!(rig.notify(), Progress::Waiting);
        // Every character it took from rx is answered in tx (none taken
        // without room for its answer).
        let unread = 256 - rig.input.free().unwrap() as usize;
        assert_eq!((typed - unread) as u64, rig.client.totals().bytes, "read ahead of its answers");
        assert!(unread > 0 || typed == line.len());
        rig.consume();
        if rig.sent.len() == BANNER.len() + line.len() {
            break;
        }
    }
    assert_eq!(typed, line.len());
    let want: Vec<u8> = line.iter().map(u8::to_ascii_uppercase).collect();
    assert_eq!(&rig.sent[BANNER.len()..], &want[..]);
    assert_eq!(rig.client.totals(), Totals { lines: 1, bytes: 301 });
}

#[test]
fn a_full_tx_queue_stops_reading_and_asks_for_room() {
    let mut rig = Rig::new(Mode::Standalone, 1024, 128);
    rig.start();
    rig.consume();
    rig.notify();
    assert_eq!(rig.type_in(&[b'x'; 500]), 500);
    rig.notify();
    assert_eq!(rig.client.tx.free().unwrap(), 0, "tx full");
    assert_eq!(rig.input.free().unwrap(), 1024 - (500 - 128), "only what fits was read");
    assert_eq!(rig.tx_flag(), 0, "the client waits for room");
    assert!(rig.consume(), "the driver notifies when it frees room");
    rig.notify();
    rig.consume();
    rig.notify();
    rig.consume();
    rig.notify();
    rig.consume();
    assert_eq!(rig.sent.len(), BANNER.len() + 500);
    assert!(rig.sent[BANNER.len()..].iter().all(|&c| c == b'X'));
}

#[test]
fn session_mode_passes_after_the_answer_to_bye_is_consumed() {
    let mut rig = Rig::new(Mode::Session, 4096, 4096);
    assert_eq!(rig.start(), Progress::Waiting);
    rig.consume();
    assert_eq!(rig.notify(), Progress::Waiting, "the banner is not enough in a session");
    rig.type_in(b"hello\r\nbyebye\nbye\n");
    assert_eq!(rig.notify(), Progress::Waiting, "answered, not consumed yet");
    assert!(rig.log.contains("bye after 3 lines, 18 bytes answered"), "{}", rig.log);
    rig.type_in(b"after\n");
    rig.notify();
    assert!(rig.consume());
    assert_eq!(rig.notify(), Progress::Passed);
    assert_eq!(&rig.sent[BANNER.len()..], b"HELLO\r\nBYEBYE\nBYE\nAFTER\n");
}

#[test]
fn impossible_indices_and_small_queues_fail() {
    let mut mem = Vec::new();
    let rx = regions(&mut mem, 64);
    let tx = regions(&mut mem, 4096);
    let mut bad = ConsoleClient::new(rx, tx, Mode::Standalone).unwrap();
    // The driver claims 100 characters in a 64-character rx queue.
    rx.header.store_u32(0, 100, Ordering::Relaxed).unwrap();
    let mut log = String::new();
    assert!(matches!(bad.start(&mut log), Progress::Failed(_)));
    assert_eq!(bad.notified(&mut log), Progress::Waiting, "a failed client does nothing more");

    let rx = regions(&mut mem, 64);
    let tx = regions(&mut mem, 32);
    let mut small = ConsoleClient::new(rx, tx, Mode::Standalone).unwrap();
    assert_eq!(small.start(&mut log), Progress::Failed("the tx queue cannot hold the banner"));
}

#[test]
fn the_rx_producer_hears_of_room_only_when_it_asked() {
    let mut rig = Rig::new(Mode::Standalone, 64, 4096);
    rig.start();
    rig.client.take_notify();
    // The driver fills rx and, finding it full, asks to be told of room.
    assert_eq!(rig.type_in(&[b'a'; 100]), 64);
    assert!(!rig.input.request_signal().unwrap(), "full: the producer waits");
    rig.notify();
    assert_eq!(rig.client.take_notify(), Notify { rx: true, tx: true }, "room in rx, answers in tx");
    // Not asked: room freed silently.
    rig.type_in(b"bc");
    rig.notify();
    assert_eq!(rig.client.take_notify(), Notify { rx: false, tx: true });
}
