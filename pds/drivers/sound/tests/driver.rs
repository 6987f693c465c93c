//! The sound driver PD against the real transport core and a mock
//! virtio-sound (`sevio_driver_core::harness`): the test plays QEMU's
//! part of the controlq, txq and rxq. One test per rule the driver
//! enforces on its client and on its device.

use sevio_driver_core::harness::{DMA_PADDR, Harness};
use sevio_driver_core::{DriverError, DriverStatus};
use sevio_driver_sound::check::AnswerFault;
use sevio_driver_sound::{SoundDriver, SoundError, SoundSetvars};
use sevio_queue::sound::{
    MAX_STREAM_COUNT, SetParams, SharedState, SoundCmd, SoundCmdConsumer, SoundCmdProducer, SoundPcm, SoundPcmConsumer,
    SoundPcmProducer, SoundStatus, StreamInfo, cmd,
};
use sevio_sharedmem::SharedMemory;
use sevio_transport_core::mock::{Chain, MockDevice};
use sevio_virtio::device::sound::{SoundFault, code};

const DATA_SIZE: usize = 0x10000;
const DATA_PADDR: u64 = 0x5200_0000;
const CMD_CAPACITY: u32 = 16;
const PCM_CAPACITY: u32 = 64;
const F_VERSION_1: u64 = 1 << 32;
const MONO_S16_48K: SetParams = SetParams { channels: 1, format: 5, rate: 7 };

struct Rig {
    h: Harness<SoundDriver>,
    cmds: SoundCmdProducer,
    cmd_answers: SoundCmdConsumer,
    pcms: SoundPcmProducer,
    pcm_answers: SoundPcmConsumer,
    shared: SharedMemory,
    data: SharedMemory,
    cookie: u32,
}

fn sound() -> MockDevice {
    let device = MockDevice::new(25, 2, F_VERSION_1, 4, 64);
    // jacks 0, streams 2, chmaps 0.
    device.state().config = [0u32, 2, 0].iter().flat_map(|w| w.to_le_bytes()).collect();
    device
}

/// A `virtio_snd_pcm_info` (§5.14.6.6.2): S16 and S32, 44.1 and 48 kHz, 1..=2 channels.
fn info(direction: u8) -> Vec<u8> {
    let mut b = vec![0u8; 32];
    b[8..16].copy_from_slice(&((1u64 << 5) | (1 << 17)).to_le_bytes());
    b[16..24].copy_from_slice(&((1u64 << 6) | (1 << 7)).to_le_bytes());
    b[24..27].copy_from_slice(&[direction, 1, 2]);
    b
}

fn word(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

impl Rig {
    fn new(device: MockDevice) -> Rig {
        let h = Harness::<SoundDriver>::new("sound", device, |mem| SoundSetvars {
            cmd_requests: mem.region("sound_cmd_req", 4096, 0),
            cmd_responses: mem.region("sound_cmd_res", 4096, 0),
            pcm_requests: mem.region("sound_pcm_req", 4096, 0),
            pcm_responses: mem.region("sound_pcm_res", 4096, 0),
            shared_state: mem.region("sound_shared_state", 4096, 0),
            data: mem.device_region("sound_client_data", DATA_SIZE, 0, DATA_PADDR),
            data_paddr: DATA_PADDR,
            cmd_capacity: CMD_CAPACITY,
            pcm_capacity: PCM_CAPACITY,
        });
        let v = h.vars;
        Rig {
            cmds: SoundCmdProducer::new(h.memory(v.cmd_requests), CMD_CAPACITY).unwrap(),
            cmd_answers: SoundCmdConsumer::new(h.memory(v.cmd_responses), CMD_CAPACITY).unwrap(),
            pcms: SoundPcmProducer::new(h.memory(v.pcm_requests), PCM_CAPACITY).unwrap(),
            pcm_answers: SoundPcmConsumer::new(h.memory(v.pcm_responses), PCM_CAPACITY).unwrap(),
            shared: h.memory(v.shared_state),
            data: h.memory(v.data),
            h,
            cookie: 1,
        }
    }

    /// Bound, PCM_INFO answered: stream 0 plays, stream 1 captures.
    fn ready() -> Rig {
        let mut rig = Rig::new(sound());
        rig.h.bind();
        assert_eq!(rig.h.status(), DriverStatus::Ready);
        let query = rig.pop(0).expect("PCM_INFO asked at bind");
        let mut answer = code::S_OK.to_le_bytes().to_vec();
        answer.extend(info(0));
        answer.extend(info(1));
        rig.answer(0, &query, &answer);
        rig
    }

    fn pop(&mut self, q: u16) -> Option<(Chain, Vec<u8>)> {
        let chain = self.h.device.pop_avail(q)?;
        let first = chain.readable().next().copied().expect("a request");
        let mut bytes = vec![0u8; first.len as usize];
        self.h.device.read(first.addr, &mut bytes);
        Some((chain, bytes))
    }

    /// Write `bytes` into the chain's writable part from its start and
    /// complete it claiming that many bytes.
    fn answer(&mut self, q: u16, (chain, _): &(Chain, Vec<u8>), bytes: &[u8]) {
        self.answer_claiming(q, chain, bytes, bytes.len() as u32);
    }

    fn answer_claiming(&mut self, q: u16, chain: &Chain, bytes: &[u8], len: u32) {
        let mut rest = bytes;
        for b in chain.writable() {
            let n = rest.len().min(b.len as usize);
            self.h.device.write(b.addr, &rest[..n]);
            rest = &rest[n..];
        }
        self.h.device.push_used(q, chain.head as u32, len);
        self.h.interrupt(q);
    }

    fn command(&mut self, code: u32, stream: u32, params: SetParams) -> u32 {
        self.cookie += 1;
        self.cmds.enqueue(SoundCmd::request(code, self.cookie, stream, params)).unwrap();
        self.h.client_notifies();
        self.cookie
    }

    fn transfer(&mut self, stream: u32, offset: u64, len: u32) -> u32 {
        self.cookie += 1;
        let pcm = SoundPcm { cookie: self.cookie, stream_id: stream, io_or_offset: offset, len, ..Default::default() };
        self.pcms.enqueue(pcm).unwrap();
        self.h.client_notifies();
        self.cookie
    }

    fn cmd_answers(&mut self) -> Vec<(u32, u32)> {
        std::iter::from_fn(|| self.cmd_answers.dequeue().unwrap()).map(|c| (c.cookie, c.status())).collect()
    }

    fn pcm_answers(&mut self) -> Vec<SoundPcm> {
        std::iter::from_fn(|| self.pcm_answers.dequeue().unwrap()).collect()
    }

    /// TAKE `stream` and let the device accept it.
    fn take(&mut self, stream: u32) {
        let cookie = self.command(cmd::TAKE, stream, MONO_S16_48K);
        let req = self.pop(0).expect("SET_PARAMS");
        self.answer(0, &req, &code::S_OK.to_le_bytes());
        assert_eq!(self.cmd_answers(), [(cookie, SoundStatus::Ok as u32)]);
    }

    fn nothing_reached_the_device(&mut self) {
        for q in 0..4 {
            if q != 1 {
                assert!(self.h.device.pop_avail(q).is_none(), "queue {q} got a request");
            }
        }
    }
}

#[test]
fn streams_are_described_then_playback_and_capture_reach_the_device_exactly() {
    let mut rig = Rig::new(sound());
    let mut streams = [StreamInfo::default(); MAX_STREAM_COUNT];
    assert_eq!(SharedState::read(&rig.shared, &mut streams), Ok(None), "not ready before the device is");
    rig.h.bind();
    let query = rig.pop(0).expect("PCM_INFO");
    assert_eq!(query.1, [0, 1, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 32, 0, 0, 0], "PCM_INFO, start 0, count 2, size 32");
    assert_eq!(query.0.writable_len(), 4 + 64);
    let mut answer = code::S_OK.to_le_bytes().to_vec();
    answer.extend(info(0));
    answer.extend(info(1));
    rig.answer(0, &query, &answer);
    assert_eq!(SharedState::read(&rig.shared, &mut streams), Ok(Some(2)));
    assert_eq!((streams[0].direction, streams[1].direction, streams[1].channels_max), (0, 1, 2));
    assert_eq!(streams[0].rates, (1 << 6) | (1 << 7));
    let events: Vec<u32> = std::iter::from_fn(|| rig.h.device.pop_avail(1)).map(|c| c.writable_len() as u32).collect();
    assert_eq!(events, [8, 8, 8, 8], "event buffers posted, device-writable");

    // TAKE becomes PCM_SET_PARAMS with sDDF's period.
    let cookie = rig.command(cmd::TAKE, 0, MONO_S16_48K);
    let req = rig.pop(0).expect("SET_PARAMS");
    assert_eq!(word(&req.1, 0), code::PCM_SET_PARAMS);
    assert_eq!((word(&req.1, 4), word(&req.1, 8), word(&req.1, 12)), (0, 4 * 4096, 4096), "stream, buffer, period");
    assert_eq!(&req.1[20..24], &[1, 5, 7, 0], "channels, format, rate");
    rig.answer(0, &req, &code::S_OK.to_le_bytes());
    assert_eq!(rig.cmd_answers(), [(cookie, 0)]);

    // Playback: xfer header, the client's frames in place, the status.
    rig.data.fill(0x1000, 4096, 0x5a).unwrap();
    let cookie = rig.transfer(0, 0x1000, 4096);
    let (chain, xfer) = rig.pop(2).expect("on the txq");
    assert_eq!(xfer, [0, 0, 0, 0], "stream 0");
    let parts: Vec<(u64, u32, bool)> = chain.bufs.iter().map(|b| (b.addr, b.len, b.writable)).collect();
    assert_eq!(parts[1], (DATA_PADDR + 0x1000, 4096, false), "the frames where they lie");
    assert_eq!((parts[2].1, parts[2].2), (8, true), "the status");
    assert!(parts[0].0 >= DMA_PADDR && parts[0].0 < DATA_PADDR && parts.len() == 3);
    let mut status = code::S_OK.to_le_bytes().to_vec();
    status.extend(123u32.to_le_bytes());
    rig.answer_claiming(2, &chain, &status, 8);
    let played = rig.pcm_answers();
    assert_eq!(
        played.iter().map(|p| (p.cookie, p.status, p.len, p.latency_bytes)).collect::<Vec<_>>(),
        [(cookie, 0, 4096, 123)]
    );

    // Capture: the device writes the frames, then the status.
    rig.take(1);
    let cookie = rig.transfer(1, 0x3000, 4096);
    let (chain, xfer) = rig.pop(3).expect("on the rxq");
    assert_eq!(xfer, [1, 0, 0, 0]);
    assert_eq!((chain.bufs[1].addr, chain.bufs[1].len, chain.bufs[1].writable), (DATA_PADDR + 0x3000, 4096, true));
    let mut frames: Vec<u8> = (0..4096u32).map(|i| i as u8).collect();
    frames.extend(code::S_OK.to_le_bytes());
    frames.extend(0u32.to_le_bytes());
    rig.answer(3, &(chain, vec![]), &frames);
    let captured = rig.pcm_answers();
    assert_eq!(captured.iter().map(|p| (p.cookie, p.status, p.len)).collect::<Vec<_>>(), [(cookie, 0, 4096)]);
    let mut got = vec![0u8; 4096];
    rig.data.copy_out(0x3000, &mut got).unwrap();
    assert_eq!(got, frames[..4096]);
    let stats = rig.h.driver().stats();
    assert_eq!((stats.played, stats.captured, stats.commands), (4096, 4096, 2));
}

#[test]
fn a_capture_cut_short_has_its_status_where_the_writing_ended() {
    let mut rig = Rig::ready();
    rig.take(1);
    let cookie = rig.transfer(1, 0, 4096);
    let (chain, _) = rig.pop(3).unwrap();
    // 100 bytes of frames, then the status right after them (as QEMU
    // returns a buffer when the stream stops).
    let mut bytes = vec![7u8; 100];
    bytes.extend(code::S_OK.to_le_bytes());
    bytes.extend(64u32.to_le_bytes());
    rig.answer_claiming(3, &chain, &bytes, 108);
    let a = rig.pcm_answers();
    assert_eq!(
        a.iter().map(|p| (p.cookie, p.status, p.len, p.latency_bytes)).collect::<Vec<_>>(),
        [(cookie, 0, 100, 64)]
    );
}

#[test]
fn a_short_status_is_an_io_error_and_fails_the_device() {
    let mut rig = Rig::ready();
    rig.take(0);
    let cookie = rig.transfer(0, 0, 4096);
    let (chain, _) = rig.pop(2).unwrap();
    rig.answer_claiming(2, &chain, &[0, 0x80, 0, 0, 0, 0, 0], 7);
    let a = rig.pcm_answers();
    assert_eq!(
        a.iter().map(|p| (p.cookie, p.status, p.len)).collect::<Vec<_>>(),
        [(cookie, SoundStatus::IoErr as u32, 0)]
    );
    assert_eq!(
        rig.h.last_error(),
        Some(SoundError::Answer(AnswerFault::Short(SoundFault::ShortStatus { written: 7 })))
    );
    assert_eq!(rig.h.status(), DriverStatus::Failed);
    // Everything after is answered IoErr at once.
    let later = rig.command(cmd::START, 0, SetParams::default());
    assert_eq!(rig.cmd_answers(), [(later, SoundStatus::IoErr as u32)]);
}

#[test]
fn a_status_code_vritio_does_not_define_fails_the_device() {
    let mut rig = Rig::ready();
    let cookie = rig.command(cmd::PREPARE, 0, SetParams::default());
    let req = rig.pop(0).unwrap();
    assert_eq!(&req.1, &[2, 1, 0, 0, 0, 0, 0, 0], "PCM_PREPARE, stream 0");
    rig.answer(0, &req, &0x9000u32.to_le_bytes());
    assert_eq!(rig.cmd_answers(), [(cookie, SoundStatus::IoErr as u32)]);
    assert_eq!(rig.h.last_error(), Some(SoundError::Answer(AnswerFault::UnknownStatus(0x9000))));
}

#[test]
fn device_errors_reach_the_client_and_keep_the_device() {
    let mut rig = Rig::ready();
    let cookie = rig.command(cmd::TAKE, 0, MONO_S16_48K);
    let req = rig.pop(0).unwrap();
    rig.answer(0, &req, &code::S_NOT_SUPP.to_le_bytes());
    assert_eq!(rig.cmd_answers(), [(cookie, SoundStatus::NotSupp as u32)]);
    rig.take(0);
    let cookie = rig.transfer(0, 0, 512);
    let (chain, _) = rig.pop(2).unwrap();
    let mut status = code::S_IO_ERR.to_le_bytes().to_vec();
    status.extend(0u32.to_le_bytes());
    rig.answer_claiming(2, &chain, &status, 8);
    let a = rig.pcm_answers();
    assert_eq!(a.iter().map(|p| (p.cookie, p.status)).collect::<Vec<_>>(), [(cookie, SoundStatus::IoErr as u32)]);
    assert_eq!(rig.h.status(), DriverStatus::Ready);
    assert_eq!(rig.h.driver().stats().device_refused, 2);
}

#[test]
fn bad_commands_never_reach_the_device() {
    let mut rig = Rig::ready();
    let no_stream = rig.command(cmd::TAKE, 2, MONO_S16_48K);
    let format_not_offered = rig.command(cmd::TAKE, 0, SetParams { format: 3, ..MONO_S16_48K });
    let rate_not_offered = rig.command(cmd::TAKE, 0, SetParams { rate: 1, ..MONO_S16_48K });
    let too_many_channels = rig.command(cmd::TAKE, 0, SetParams { channels: 3, ..MONO_S16_48K });
    let format_past_64 = rig.command(cmd::TAKE, 0, SetParams { format: 200, ..MONO_S16_48K });
    let unknown_code = rig.command(9, 0, SetParams::default());
    let (bad, nosupp) = (SoundStatus::BadMsg as u32, SoundStatus::NotSupp as u32);
    assert_eq!(
        rig.cmd_answers(),
        [
            (no_stream, bad),
            (format_not_offered, nosupp),
            (rate_not_offered, nosupp),
            (too_many_channels, nosupp),
            (format_past_64, nosupp),
            (unknown_code, bad)
        ]
    );
    rig.nothing_reached_the_device();
    assert_eq!(rig.h.driver().stats().refused, 6);
}

#[test]
fn bad_transfers_never_reach_the_device() {
    let mut rig = Rig::ready();
    let before_take = rig.transfer(0, 0, 4096);
    rig.take(0);
    let cookies = [
        rig.transfer(0, 0, 0),
        rig.transfer(0, 0, 4097),
        rig.transfer(0, DATA_SIZE as u64 - 100, 200),
        rig.transfer(0, u64::MAX - 10, 100),
        rig.transfer(5, 0, 100),
    ];
    let answers = rig.pcm_answers();
    let mut expected = vec![before_take];
    expected.extend(cookies);
    assert_eq!(answers.iter().map(|p| p.cookie).collect::<Vec<_>>(), expected);
    assert!(answers.iter().all(|p| p.status == SoundStatus::BadMsg as u32 && p.len == 0));
    rig.nothing_reached_the_device();
    // After RELEASE the stream takes no transfers again.
    let release = rig.command(cmd::RELEASE, 0, SetParams::default());
    let req = rig.pop(0).unwrap();
    rig.answer(0, &req, &code::S_OK.to_le_bytes());
    assert_eq!(rig.cmd_answers(), [(release, 0)]);
    let after = rig.transfer(0, 0, 100);
    assert_eq!(rig.pcm_answers().iter().map(|p| (p.cookie, p.status)).collect::<Vec<_>>(), [(after, 1)]);
}

#[test]
fn a_stream_description_cut_short_fails_the_device() {
    let mut rig = Rig::new(sound());
    rig.h.bind();
    let query = rig.pop(0).unwrap();
    let mut answer = code::S_OK.to_le_bytes().to_vec();
    answer.extend(info(0));
    answer.extend(&info(1)[..20]);
    rig.answer(0, &query, &answer);
    assert!(matches!(rig.h.last_error(), Some(SoundError::Answer(AnswerFault::Short(_)))));
    let mut streams = [StreamInfo::default(); MAX_STREAM_COUNT];
    assert_eq!(SharedState::read(&rig.shared, &mut streams), Ok(None), "never ready");
    let _ = DriverError::Queue;
}

#[test]
fn requests_wait_for_the_device_and_are_answered_when_it_goes() {
    let mut rig = Rig::new(sound());
    let waiting = rig.command(cmd::TAKE, 0, MONO_S16_48K);
    assert!(rig.cmd_answers().is_empty(), "no device yet: the request waits");
    rig.h.bind();
    let query = rig.pop(0).unwrap();
    let mut answer = code::S_OK.to_le_bytes().to_vec();
    answer.extend(info(0));
    answer.extend(info(1));
    rig.answer(0, &query, &answer);
    let req = rig.pop(0).expect("the waiting TAKE went once the streams were known");
    assert_eq!(word(&req.1, 0), code::PCM_SET_PARAMS);
    rig.h.unbind();
    assert_eq!(rig.cmd_answers(), [(waiting, SoundStatus::IoErr as u32)], "in flight on a device that went");
}

#[test]
fn transfers_past_what_a_queue_holds_wait_in_order_and_none_is_lost() {
    let mut rig = Rig::ready();
    rig.take(0);
    let cookies: Vec<u32> = (0..20).map(|i| rig.transfer(0, (i % 8) * 4096, 4096)).collect();
    let mut chains: Vec<Chain> = std::iter::from_fn(|| rig.pop(2).map(|(c, _)| c)).collect();
    assert_eq!(chains.len(), 16, "16 in flight on the txq, the rest wait in the client's queue");
    let mut answered = Vec::new();
    let mut status = code::S_OK.to_le_bytes().to_vec();
    status.extend(0u32.to_le_bytes());
    while let Some(chain) = chains.first().cloned() {
        chains.remove(0);
        rig.answer_claiming(2, &chain, &status, 8);
        answered.extend(rig.pcm_answers().iter().map(|p| p.cookie));
        chains.extend(std::iter::from_fn(|| rig.pop(2).map(|(c, _)| c)));
    }
    assert_eq!(answered, cookies, "every transfer answered once, in order");
    assert_eq!(rig.h.driver().stats().played, 20 * 4096);
}
