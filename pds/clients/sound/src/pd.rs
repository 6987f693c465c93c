//! The PD shell: channel, setvars, the runtime [`Handler`].
//!
//! system.xml gives a sound client channel 0 to its sound driver
//! ([`DRIVER`], notifications both ways), the four queues
//! (`sound_cmd_req_vaddr`, `sound_cmd_res_vaddr`: a page each;
//! `sound_pcm_req_vaddr`, `sound_pcm_res_vaddr`: three pages each), the
//! shared-state page (`sound_shared_state_vaddr`, read-only) and the data
//! region (`sound_client_data_vaddr` + `_size`, at least
//! [`crate::DATA_NEEDED`] bytes).

use crate::session::{Queues, Role, Session};
use sevio_queue::sound::{
    CMD_QUEUE_CAPACITY, PCM_QUEUE_CAPACITY, SoundCmdConsumer, SoundCmdProducer, SoundPcmConsumer, SoundPcmProducer,
};
use sevio_runtime::print::DebugWriter;
use sevio_runtime::{Channel, ChannelSet, DeferredAction, Handler, debug_println, verdict};

/// The sound driver.
pub const DRIVER: Channel = Channel::new(0);
const PAGE: u64 = 0x1000;
const PCM_QUEUE: u64 = 3 * PAGE;

sevio_runtime::shared_region!(
    /// Commands out.
    pub fn cmd_req() = "sound_cmd_req_vaddr", PAGE
);
sevio_runtime::shared_region!(
    /// Command answers in.
    pub fn cmd_res() = "sound_cmd_res_vaddr", PAGE
);
sevio_runtime::shared_region!(
    /// Transfers out.
    pub fn pcm_req() = "sound_pcm_req_vaddr", PCM_QUEUE
);
sevio_runtime::shared_region!(
    /// Transfer answers in.
    pub fn pcm_res() = "sound_pcm_res_vaddr", PCM_QUEUE
);
sevio_runtime::shared_region!(
    /// The streams, as the driver describes them.
    pub fn shared_state() = "sound_shared_state_vaddr", PAGE
);
sevio_runtime::setvar!(
    /// Size of the data region.
    pub fn data_size() = "sound_client_data_size"
);
sevio_runtime::shared_region!(
    /// The frames.
    pub fn data() = "sound_client_data_vaddr", data_size()
);

fn queues() -> Option<Queues> {
    Some(Queues {
        cmds: SoundCmdProducer::new(cmd_req().ok()?, CMD_QUEUE_CAPACITY).ok()?,
        cmd_answers: SoundCmdConsumer::new(cmd_res().ok()?, CMD_QUEUE_CAPACITY).ok()?,
        pcms: SoundPcmProducer::new(pcm_req().ok()?, PCM_QUEUE_CAPACITY).ok()?,
        pcm_answers: SoundPcmConsumer::new(pcm_res().ok()?, PCM_QUEUE_CAPACITY).ok()?,
        shared: shared_state().ok()?,
        data: data().ok().filter(|d| d.len() as u64 >= crate::DATA_NEEDED)?,
    })
}

/// The PD: `None` once it cannot go on.
pub struct ClientPd(Option<Session>);

impl ClientPd {
    /// Open the regions; the session starts at the driver's first
    /// notification (the streams described), or now if they already are.
    pub fn start(role: Role) -> ClientPd {
        let Some(q) = queues() else {
            debug_println!("sound queues, shared state or data region missing or unusable");
            verdict::fail("bad configuration");
            return ClientPd(None);
        };
        let mut session = Session::new(role, q);
        session.notified(&mut DebugWriter::for_this_pd()).report();
        ClientPd(Some(session))
    }
}

impl Handler for ClientPd {
    fn notified(&mut self, channels: ChannelSet) {
        let Some(session) = &mut self.0 else { return };
        if channels.contains(DRIVER) {
            session.notified(&mut DebugWriter::for_this_pd()).report();
        }
    }

    fn take_deferred_action(&mut self) -> Option<DeferredAction> {
        let session = self.0.as_mut()?;
        session.take_notify().then_some(DeferredAction::Notify(DRIVER))
    }
}
