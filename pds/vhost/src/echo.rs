//! The rpmsg device: one endpoint, `rpmsg-echo` at [`ECHO_ADDR`], which
//! it announces through the name service and which sends every message
//! back to its sender. Messages from the driver are untrusted: a length
//! past its buffer, an unknown destination or a bad announcement is
//! counted, logged and dropped.

use sevio_runtime::debug_println;
use sevio_sharedmem::SharedMemory;
use sevio_virtio::device::rpmsg::{BUFFER_SIZE, Header, MessageError, NS_ADDR, Name, NsAction, NsMessage};
use sevio_virtio::queue::{DescChain, DeviceQueue, DriverFault, DriverMemory};

/// The echo endpoint's address.
pub const ECHO_ADDR: u32 = 1024;
/// Its name.
pub const ECHO_NAME: &[u8] = b"rpmsg-echo";
/// Entries per vring.
pub const VRING_NUM: usize = 64;

/// Counters, for the log and tests.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct EchoStats {
    /// Messages sent back.
    pub echoed: u64,
    /// Announcements from the driver side.
    pub announcements: u64,
    /// Messages dropped.
    pub dropped: u64,
}

/// The echo device's state.
#[derive(Default)]
pub struct Echo {
    /// Our endpoint's announcement, while the name service is negotiated
    /// and it is not sent yet.
    announce: Option<NsMessage>,
    /// An rx chain taken and not used yet.
    spare: Option<DescChain>,
    /// Counters.
    pub stats: EchoStats,
}

fn drop_message(stats: &mut EchoStats, why: MessageError) {
    stats.dropped += 1;
    debug_println!("vhost: rpmsg: message from the driver dropped: {why:?}");
}

impl Echo {
    /// The driver set DRIVER_OK with `ns` negotiated (or not).
    pub fn start(&mut self, ns: bool) {
        let name = Name::new(ECHO_NAME).filter(|_| ns);
        self.announce = name.map(|name| NsMessage { name, addr: ECHO_ADDR, action: NsAction::Create });
        self.spare = None;
    }

    fn rx_chain(
        &mut self,
        rx: &mut DeviceQueue<VRING_NUM>,
        memory: &impl DriverMemory,
    ) -> Result<Option<DescChain>, DriverFault> {
        match self.spare.take() {
            Some(c) => Ok(Some(c)),
            None => rx.pop(memory),
        }
    }

    /// Send `payload` from `src` to `dst` in `chain` (its writable
    /// buffer); false if it does not fit (the chain stays spare).
    fn send(
        &mut self,
        rx: &mut DeviceQueue<VRING_NUM>,
        chain: DescChain,
        src: u32,
        dst: u32,
        payload: &[u8],
    ) -> Result<bool, DriverFault> {
        let mut out = [0u8; BUFFER_SIZE];
        let Some(buf) = chain.writable() else {
            self.spare = Some(chain);
            return Ok(false);
        };
        let len = match Header::emit(src, dst, payload, &mut out) {
            Ok(len) if len <= buf.mem.len() => len,
            _ => {
                self.spare = Some(chain);
                return Ok(false);
            }
        };
        if buf.mem.copy_in(0, &out[..len]).is_err() {
            self.spare = Some(chain);
            return Ok(false);
        }
        rx.push(chain.head, len as u32)?;
        Ok(true)
    }

    /// Serve both queues until one runs dry; true if anything was put in
    /// the rx queue (the driver is to be told).
    pub fn serve(
        &mut self,
        rx: &mut DeviceQueue<VRING_NUM>,
        tx: &mut DeviceQueue<VRING_NUM>,
        memory: &impl DriverMemory,
    ) -> Result<(bool, bool), DriverFault> {
        let (mut rx_used, mut tx_used) = (false, false);
        if let Some(ns) = self.announce {
            let Some(chain) = self.rx_chain(rx, memory)? else { return Ok((false, false)) };
            if self.send(rx, chain, ECHO_ADDR, NS_ADDR, &ns.emit())? {
                self.announce = None;
                rx_used = true;
            }
        }
        // An rx chain in hand before a message is taken: an echo always
        // has somewhere to go.
        while let Some(chain) = self.rx_chain(rx, memory)? {
            self.spare = Some(chain);
            let Some(msg) = tx.pop(memory)? else { break };
            let mut bytes = [0u8; BUFFER_SIZE];
            let got = read_message(msg.readable().map(|b| b.mem), &mut bytes);
            match Header::parse(&bytes[..got]) {
                Ok((h, payload)) if h.dst == NS_ADDR => match NsMessage::parse(payload) {
                    Ok(ns) => {
                        self.stats.announcements += 1;
                        debug_println!(
                            "vhost: rpmsg: the driver announced '{}' at {} ({:?})",
                            ns.name.as_str(),
                            ns.addr,
                            ns.action
                        );
                    }
                    Err(e) => drop_message(&mut self.stats, e),
                },
                Ok((h, payload)) if h.dst == ECHO_ADDR => {
                    let chain = self.spare.take();
                    if let Some(chain) = chain
                        && self.send(rx, chain, ECHO_ADDR, h.src, payload)?
                    {
                        self.stats.echoed += 1;
                        rx_used = true;
                    } else {
                        self.stats.dropped += 1;
                    }
                }
                Ok((h, _)) => {
                    self.stats.dropped += 1;
                    debug_println!("vhost: rpmsg: message to unknown address {} dropped", h.dst);
                }
                Err(e) => drop_message(&mut self.stats, e),
            }
            tx.push(msg.head, 0)?;
            tx_used = true;
        }
        Ok((rx_used, tx_used))
    }
}

/// Copy the message in `buf` (at most one buffer's worth) into `out`;
/// the bytes copied.
fn read_message(buf: Option<SharedMemory>, out: &mut [u8; BUFFER_SIZE]) -> usize {
    let Some(buf) = buf else { return 0 };
    let n = buf.len().min(BUFFER_SIZE);
    match buf.copy_out(0, &mut out[..n]) {
        Ok(()) => n,
        Err(_) => 0,
    }
}
