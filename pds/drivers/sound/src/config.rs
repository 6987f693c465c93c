//! The sound driver's channels and variables (see the crate README and
//! systems/sound.xml). One image serves every sound device: each
//! instance is its own PD with its own regions under the same names.
use sevio_bus_protocol::DriverId;
use sevio_driver_core::{DmaSetvars, DriverPdConfig, PdSetvars, RegionSetvars, VirtioDriver, setvars::PAGE_SIZE};
use sevio_driver_sound::{SoundDriver, SoundSetvars};
use sevio_queue::sound::{CMD_QUEUE_CAPACITY, PCM_QUEUE_CAPACITY, SoundPcm};
use sevio_runtime::Channel;

/// The bus PD (PPC: RegisterDriver; notifications: the binding table changed).
pub const BUS: Channel = Channel::new(0);
/// The transport PD (PPC: driver requests; notifications: kicks one way,
/// the device interrupted the other).
pub const TRANSPORT: Channel = Channel::new(1);
/// The client (notifications both ways).
pub const CLIENT: Channel = Channel::new(2);

/// The fallback id if registration fails (the bus answers the real one,
/// derived from the channel).
pub const DRIVER_ID: DriverId = DriverId(4);

/// Bytes of a PCM queue: the header and 256 entries (three pages).
const PCM_QUEUE_BYTES: u64 = (8 + PCM_QUEUE_CAPACITY as usize * <SoundPcm as sevio_queue::ring::Entry>::SIZE)
    .next_multiple_of(PAGE_SIZE as usize) as u64;

/// The PD shell's view: name, device, fallback id, channels.
pub const PD: DriverPdConfig = DriverPdConfig {
    name: "sound",
    device: SoundDriver::DEVICE,
    fallback_id: DRIVER_ID,
    bus: BUS,
    transport: TRANSPORT,
    client: Some(CLIENT),
    timer: None,
};

/// Every region system.xml gives the PD, as its setvars describe them.
pub fn setvars() -> PdSetvars<SoundSetvars> {
    let page = |region, vaddr| RegionSetvars { region, vaddr, size: PAGE_SIZE };
    let pcm = |region, vaddr| RegionSetvars { region, vaddr, size: PCM_QUEUE_BYTES };
    PdSetvars {
        bindings: page("bus_bindings", bus_bindings_vaddr()),
        doorbell: page("sound_doorbell", doorbell_vaddr()),
        dma: DmaSetvars { region: "sound_dma", vaddr: dma_vaddr(), size: dma_size(), paddr: dma_paddr() },
        driver: SoundSetvars {
            cmd_requests: page("sound_cmd_req", cmd_req_vaddr()),
            cmd_responses: page("sound_cmd_res", cmd_res_vaddr()),
            pcm_requests: pcm("sound_pcm_req", pcm_req_vaddr()),
            pcm_responses: pcm("sound_pcm_res", pcm_res_vaddr()),
            shared_state: page("sound_shared_state", shared_state_vaddr()),
            data: RegionSetvars { region: "sound_client_data", vaddr: data_vaddr(), size: data_size() },
            data_paddr: data_paddr(),
            cmd_capacity: CMD_QUEUE_CAPACITY,
            pcm_capacity: PCM_QUEUE_CAPACITY,
        },
    }
}

sevio_runtime::setvar!(
    /// vaddr of the binding table page (`bus_bindings`).
    pub fn bus_bindings_vaddr() = "bus_bindings_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the doorbell page.
    pub fn doorbell_vaddr() = "sound_doorbell_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the DMA region.
    pub fn dma_vaddr() = "sound_dma_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the DMA region.
    pub fn dma_size() = "sound_dma_size"
);
sevio_runtime::setvar!(
    /// paddr of the DMA region.
    pub fn dma_paddr() = "sound_dma_paddr"
);
sevio_runtime::setvar!(
    /// vaddr of the command request queue.
    pub fn cmd_req_vaddr() = "sound_cmd_req_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the command response queue.
    pub fn cmd_res_vaddr() = "sound_cmd_res_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the PCM request queue.
    pub fn pcm_req_vaddr() = "sound_pcm_req_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the PCM response queue.
    pub fn pcm_res_vaddr() = "sound_pcm_res_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the shared-state page.
    pub fn shared_state_vaddr() = "sound_shared_state_vaddr"
);
sevio_runtime::setvar!(
    /// vaddr of the client's data region.
    pub fn data_vaddr() = "sound_client_data_vaddr"
);
sevio_runtime::setvar!(
    /// Size of the client's data region: it bounds every transfer.
    pub fn data_size() = "sound_client_data_size"
);
sevio_runtime::setvar!(
    /// paddr of the client's data region: where the device reads and
    /// writes frames.
    pub fn data_paddr() = "sound_client_data_paddr"
);
