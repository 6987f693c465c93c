//! [`Session`]: one stream from TAKE to RELEASE, driven by the driver's
//! notifications. Each step waits for the answer to the one before.

use crate::{FORMAT_S16, FRAME_BYTES, FRAMES_PER_SECOND, PERIOD_FRAMES, RATE_48000, SLOTS, tone};
use core::fmt::Write;
use sevio_queue::QueueError;
use sevio_queue::sound::{
    MAX_STREAM_COUNT, PCM_BUFFER_SIZE, SetParams, SharedState, SoundCmd, SoundCmdConsumer, SoundCmdProducer, SoundPcm,
    SoundPcmConsumer, SoundPcmProducer, SoundStatus, StreamInfo, cmd,
};
use sevio_runtime::verdict::Progress;
use sevio_sharedmem::SharedMemory;

/// What the session does with its stream.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Play `frames` frames of a `hz` tone, then [`SILENCE_TAIL`] frames
    /// of silence.
    Play {
        /// Frequency.
        hz: u32,
        /// Length.
        frames: u32,
    },
    /// Capture `frames` frames.
    Record {
        /// How many.
        frames: u32,
    },
}

/// Frames of silence after a tone. A device may count frames as played
/// once its mixer took them, and STOP drops what it still holds (QEMU's
/// does, up to one audio tick): the silence is what is dropped, never the
/// tone.
pub const SILENCE_TAIL: u32 = PERIOD_FRAMES;

impl Role {
    /// Frames the stream carries.
    fn frames(self) -> u32 {
        match self {
            Role::Play { frames, .. } => frames + SILENCE_TAIL,
            Role::Record { frames } => frames,
        }
    }

    /// sDDF direction of the stream it needs.
    fn direction(self) -> u8 {
        match self {
            Role::Play { .. } => 0,
            Role::Record { .. } => 1,
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Step {
    /// The driver has not described the streams yet.
    Streams,
    /// Waiting for the answer to this command.
    Command(u32),
    /// START answered: feeding transfers until every frame is back.
    Running,
    Done,
    Failed,
}

/// The client's queues and regions.
pub struct Queues {
    /// Commands out.
    pub cmds: SoundCmdProducer,
    /// Command answers in.
    pub cmd_answers: SoundCmdConsumer,
    /// Transfers out.
    pub pcms: SoundPcmProducer,
    /// Transfer answers in.
    pub pcm_answers: SoundPcmConsumer,
    /// The driver's description of the streams.
    pub shared: SharedMemory,
    /// Frames, [`SLOTS`] buffers of 4096 bytes.
    pub data: SharedMemory,
}

/// One stream's life.
pub struct Session {
    role: Role,
    q: Queues,
    step: Step,
    stream: u32,
    cookie: u32,
    /// Frames handed to the driver.
    queued: u32,
    /// Frames the driver confirmed (played or captured).
    done: u32,
    in_flight: u32,
    next_slot: u32,
    max_latency: u32,
    notify: bool,
    /// When START was answered, and when the last frame came back.
    started_ns: u64,
    finished_ns: u64,
}

fn name(code: u32) -> &'static str {
    match code {
        cmd::TAKE => "TAKE",
        cmd::PREPARE => "PREPARE",
        cmd::START => "START",
        cmd::STOP => "STOP",
        cmd::RELEASE => "RELEASE",
        _ => "?",
    }
}

fn status_name(s: u32) -> &'static str {
    match SoundStatus::from_u32(s) {
        Some(SoundStatus::Ok) => "OK",
        Some(SoundStatus::BadMsg) => "BAD_MSG",
        Some(SoundStatus::NotSupp) => "NOT_SUPP",
        Some(SoundStatus::IoErr) => "IO_ERR",
        Some(SoundStatus::Busy) => "BUSY",
        None => "an unknown status",
    }
}

impl Session {
    /// A session for `role` over `q`; nothing is sent before the first
    /// notification.
    pub fn new(role: Role, q: Queues) -> Session {
        Session {
            role,
            q,
            step: Step::Streams,
            stream: 0,
            cookie: 0,
            queued: 0,
            done: 0,
            in_flight: 0,
            next_slot: 0,
            max_latency: 0,
            notify: false,
            started_ns: 0,
            finished_ns: 0,
        }
    }

    /// Frames confirmed so far.
    pub fn frames_done(&self) -> u32 {
        self.done
    }

    /// Whether the driver should be notified (cleared by the call).
    pub fn take_notify(&mut self) -> bool {
        core::mem::take(&mut self.notify)
    }

    fn fail(&mut self, log: &mut impl Write, why: &'static str) -> Progress {
        let _ = writeln!(log, "{why}");
        self.step = Step::Failed;
        Progress::Failed(why)
    }

    fn queue_error(&mut self, log: &mut impl Write, e: QueueError) -> Progress {
        let _ = writeln!(log, "queue: {e:?}");
        self.fail(log, "a sound queue is unusable")
    }

    fn send(&mut self, code: u32, params: SetParams) -> Result<(), QueueError> {
        self.cookie += 1;
        self.q.cmds.enqueue(SoundCmd::request(code, self.cookie, self.stream, params))?;
        self.step = Step::Command(code);
        self.notify = true;
        Ok(())
    }

    /// The driver notified: read what it answered and take the next step.
    pub fn notified(&mut self, log: &mut impl Write) -> Progress {
        match self.advance(log) {
            Ok(p) => p,
            Err(e) => self.queue_error(log, e),
        }
    }

    fn advance(&mut self, log: &mut impl Write) -> Result<Progress, QueueError> {
        if self.step == Step::Streams {
            let mut infos = [StreamInfo::default(); MAX_STREAM_COUNT];
            let Some(n) = SharedState::read(&self.q.shared, &mut infos)? else { return Ok(Progress::Waiting) };
            let wanted = |s: &StreamInfo| {
                s.direction == self.role.direction()
                    && s.formats & (1 << FORMAT_S16) != 0
                    && s.rates & (1 << RATE_48000) != 0
                    && s.channels_min == 1
            };
            let Some(stream) = infos[..n].iter().position(wanted) else {
                let _ = writeln!(log, "{n} streams, none for this role with mono S16 at 48000 Hz");
                return Ok(self.fail(log, "no suitable stream"));
            };
            self.stream = stream as u32;
            let _ = writeln!(
                log,
                "stream {stream} of {n} ({}), mono S16 at {FRAMES_PER_SECOND} Hz",
                if self.role.direction() == 0 { "playback" } else { "capture" }
            );
            let params = SetParams { channels: 1, format: FORMAT_S16, rate: RATE_48000 };
            self.send(cmd::TAKE, params)?;
            return Ok(Progress::Waiting);
        }
        while let Some(answer) = self.q.cmd_answers.dequeue()? {
            let Step::Command(code) = self.step else {
                return Ok(self.fail(log, "an answer to no command"));
            };
            if answer.cookie != self.cookie || answer.code != code {
                return Ok(self.fail(log, "an answer to another command"));
            }
            if answer.status() != SoundStatus::Ok as u32 {
                let _ = writeln!(log, "{} answered {}", name(code), status_name(answer.status()));
                return Ok(self.fail(log, "a command was refused"));
            }
            match code {
                cmd::TAKE => self.send(cmd::PREPARE, SetParams::default())?,
                cmd::PREPARE => {
                    self.feed()?;
                    self.send(cmd::START, SetParams::default())?;
                }
                cmd::START => {
                    self.started_ns = sevio_runtime::time::now_ns();
                    self.step = Step::Running;
                }
                cmd::STOP => self.send(cmd::RELEASE, SetParams::default())?,
                _ => {
                    self.summary(log);
                    if self.done != self.role.frames() {
                        return Ok(self.fail(log, "the driver confirmed a different number of frames"));
                    }
                    self.step = Step::Done;
                    return Ok(Progress::Passed);
                }
            }
        }
        while let Some(answer) = self.q.pcm_answers.dequeue()? {
            if self.in_flight == 0 || answer.stream_id != self.stream {
                return Ok(self.fail(log, "a transfer answer for no transfer"));
            }
            self.in_flight -= 1;
            if answer.status != SoundStatus::Ok as u32 {
                let _ = writeln!(log, "transfer {} answered {}", answer.cookie, status_name(answer.status));
                return Ok(self.fail(log, "a transfer failed"));
            }
            if answer.len % FRAME_BYTES != 0 || answer.len > PCM_BUFFER_SIZE {
                return Ok(self.fail(log, "a transfer answer of a length never asked"));
            }
            self.done += answer.len / FRAME_BYTES;
            self.max_latency = self.max_latency.max(answer.latency_bytes);
        }
        if matches!(self.step, Step::Running | Step::Command(cmd::START)) {
            self.feed()?;
        }
        if self.step == Step::Running && self.in_flight == 0 && self.queued == self.role.frames() {
            self.finished_ns = sevio_runtime::time::now_ns();
            self.send(cmd::STOP, SetParams::default())?;
        }
        Ok(Progress::Waiting)
    }

    /// Queue transfers while a slot is free and frames remain.
    fn feed(&mut self) -> Result<(), QueueError> {
        while self.in_flight < SLOTS && self.queued < self.role.frames() {
            let frames = (self.role.frames() - self.queued).min(PERIOD_FRAMES);
            let offset = (self.next_slot % SLOTS) as usize * PCM_BUFFER_SIZE as usize;
            if let Role::Play { hz, frames: tone_frames } = self.role {
                for i in 0..frames {
                    let frame = self.queued + i;
                    let s = if frame < tone_frames { tone::sample(frame, hz, FRAMES_PER_SECOND) } else { 0 };
                    let at = offset + (i * FRAME_BYTES) as usize;
                    self.q.data.write::<u16>(at, (s as u16).to_le()).map_err(|_| QueueError::OutOfBounds)?;
                }
            }
            self.cookie += 1;
            self.q.pcms.enqueue(SoundPcm {
                cookie: self.cookie,
                stream_id: self.stream,
                io_or_offset: offset as u64,
                len: frames * FRAME_BYTES,
                ..Default::default()
            })?;
            self.queued += frames;
            self.in_flight += 1;
            self.next_slot += 1;
            self.notify = true;
        }
        Ok(())
    }

    fn summary(&self, log: &mut impl Write) {
        let ms = u64::from(self.done) * 1000 / u64::from(FRAMES_PER_SECOND);
        let _ = match self.role {
            Role::Play { hz, frames } => {
                let tone_ms = u64::from(frames) * 1000 / u64::from(FRAMES_PER_SECOND);
                writeln!(
                    log,
                    "played {} frames of {} ({ms} ms): {frames} of {hz} Hz ({tone_ms} ms), then silence; latency at most {} bytes",
                    self.done,
                    self.role.frames(),
                    self.max_latency
                )
            }
            Role::Record { frames } => writeln!(log, "captured {} frames of {frames} asked ({ms} ms)", self.done),
        };
        // Frames' worth of time over the time from START answered to the
        // last frame back: about 1 when the stream kept pace with the
        // device (it is the device that sets the pace), less if the
        // driver or client made it wait. Frames queued before START
        // count, so it can be a little over 1.
        let wall_ns = self.finished_ns.saturating_sub(self.started_ns);
        if wall_ns > 0 {
            let audio_ns = u64::from(self.done) * 1_000_000_000 / u64::from(FRAMES_PER_SECOND);
            let milli = audio_ns * 1000 / wall_ns;
            let what = if self.role.direction() == 0 { "playback" } else { "capture" };
            let _ =
                writeln!(log, "BENCH sound_{what}_realtime {}.{:03} audio s per wall s", milli / 1000, milli % 1000);
        }
    }

    /// Whether every frame asked for was confirmed (checked at the end).
    pub fn complete(&self) -> bool {
        self.step == Step::Done && self.done == self.role.frames()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_sharedmem::HeapRegion;
    use std::string::String;
    use std::vec::Vec;

    /// The driver's ends of the queues, answering as told.
    struct FakeDriver {
        cmds: SoundCmdConsumer,
        cmd_answers: SoundCmdProducer,
        pcms: SoundPcmConsumer,
        pcm_answers: SoundPcmProducer,
        seen: Vec<u32>,
        transfers: Vec<SoundPcm>,
    }

    fn rig(streams: &[StreamInfo]) -> (Vec<HeapRegion>, Queues, FakeDriver) {
        let regions: Vec<HeapRegion> = [0x1000, 0x1000, 0x3000, 0x3000, 0x1000, 0x8000].map(HeapRegion::new).into();
        let m: Vec<SharedMemory> = regions.iter().map(|r| r.memory()).collect();
        SharedState::publish(&m[4], streams).unwrap();
        let q = Queues {
            cmds: SoundCmdProducer::new(m[0], 64).unwrap(),
            cmd_answers: SoundCmdConsumer::new(m[1], 64).unwrap(),
            pcms: SoundPcmProducer::new(m[2], 256).unwrap(),
            pcm_answers: SoundPcmConsumer::new(m[3], 256).unwrap(),
            shared: m[4],
            data: m[5],
        };
        let d = FakeDriver {
            cmds: SoundCmdConsumer::new(m[0], 64).unwrap(),
            cmd_answers: SoundCmdProducer::new(m[1], 64).unwrap(),
            pcms: SoundPcmConsumer::new(m[2], 256).unwrap(),
            pcm_answers: SoundPcmProducer::new(m[3], 256).unwrap(),
            seen: Vec::new(),
            transfers: Vec::new(),
        };
        (regions, q, d)
    }

    impl FakeDriver {
        /// Answer everything: commands with `cmd_status(code)`,
        /// transfers OK with their whole length; a playback's first
        /// buffer must hold the tone.
        fn serve(&mut self, data: &SharedMemory, playback: bool, cmd_status: impl Fn(u32) -> SoundStatus) {
            while let Some(c) = self.cmds.dequeue().unwrap() {
                self.seen.push(c.code);
                self.cmd_answers.enqueue(c.answer(cmd_status(c.code))).unwrap();
            }
            while let Some(p) = self.pcms.dequeue().unwrap() {
                if playback && self.transfers.is_empty() {
                    let first = data.read::<u16>(p.io_or_offset as usize + 2).unwrap();
                    assert_eq!(first as i16, tone::sample(1, 440, 48_000), "the tone is in the buffer");
                }
                self.transfers.push(p);
                self.pcm_answers.enqueue(SoundPcm { status: 0, latency_bytes: 256, ..p }).unwrap();
            }
        }
    }

    const OUT: StreamInfo =
        StreamInfo { formats: 1 << 5, rates: 1 << 7, direction: 0, channels_min: 1, channels_max: 2 };
    const IN: StreamInfo = StreamInfo { direction: 1, ..OUT };

    fn run(
        role: Role,
        streams: &[StreamInfo],
        cmd_status: impl Fn(u32) -> SoundStatus,
    ) -> (Progress, FakeDriver, String) {
        let (_regions, q, mut d) = rig(streams);
        let data = q.data;
        let mut s = Session::new(role, q);
        let mut log = String::new();
        for _ in 0..200 {
            match s.notified(&mut log) {
                Progress::Waiting => d.serve(&data, matches!(role, Role::Play { .. }), &cmd_status),
                done => return (done, d, log),
            }
        }
        (Progress::Waiting, d, log)
    }

    #[test]
    fn a_tone_goes_take_prepare_start_stop_release_in_whole_periods() {
        let (p, d, log) = run(Role::Play { hz: 440, frames: 48_000 }, &[IN, OUT], |_| SoundStatus::Ok);
        assert_eq!(p, Progress::Passed, "{log}");
        assert_eq!(d.seen, [cmd::TAKE, cmd::PREPARE, cmd::START, cmd::STOP, cmd::RELEASE]);
        assert!(d.transfers.iter().all(|t| t.stream_id == 1), "the playback stream");
        let lens: u32 = d.transfers.iter().map(|t| t.len).sum();
        assert_eq!(lens, 2 * (48_000 + SILENCE_TAIL));
        assert_eq!(d.transfers.len(), 25, "24 whole periods and the rest");
        assert!(
            log.contains("played 50048 frames of 50048 (1042 ms): 48000 of 440 Hz (1000 ms), then silence; latency at most 256 bytes"),
            "{log}"
        );
    }

    #[test]
    fn a_recording_counts_the_frames_that_came_back() {
        let (p, d, log) = run(Role::Record { frames: 4 * 2048 }, &[OUT, IN], |_| SoundStatus::Ok);
        assert_eq!(p, Progress::Passed, "{log}");
        assert_eq!(d.transfers.len(), 4);
        assert!(log.contains("captured 8192 frames of 8192 asked"), "{log}");
    }

    #[test]
    fn a_refused_command_or_missing_stream_fails_by_name() {
        let (p, _, log) = run(Role::Play { hz: 440, frames: 100 }, &[OUT], |c| {
            if c == cmd::PREPARE { SoundStatus::IoErr } else { SoundStatus::Ok }
        });
        assert_eq!(p, Progress::Failed("a command was refused"));
        assert!(log.contains("PREPARE answered IO_ERR"), "{log}");
        let (p, _, _) = run(Role::Record { frames: 100 }, &[OUT], |_| SoundStatus::Ok);
        assert_eq!(p, Progress::Failed("no suitable stream"));
    }
}
