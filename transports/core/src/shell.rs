//! The PD side every transport shares (feature `pd`): telling the bus
//! which drivers the transport serves and which devices it found,
//! following the binding table, and serving a driver's PPC. A transport's
//! `main.rs` keeps only what is its own: finding devices, and its IRQs.

use crate::{DriverPort, MAX_DRIVERS, Transport, VirtioDevice};
use sevio_bus_protocol::{BusReply, BusRequest, DriverId, TableReader, TransportId};
use sevio_runtime::var::{MapError, MapProblem};
use sevio_runtime::{Channel, MessageInfo, PpcMessage, debug_println};
use sevio_sharedmem::SharedMemory;
use sevio_transport_protocol::{DMA_WINDOW_SIZE, MAX_WORDS, Reply, Request, TransportDoorbell, TransportError};

/// Attempts at a consistent read of the binding table before giving up
/// until the next notification.
use sevio_bus_protocol::table::TORN_READ_ATTEMPTS as TABLE_READ_ATTEMPTS;

/// The bus, on every transport (transport end `pp="true"`).
pub const BUS: Channel = Channel::new(32);
/// Channel of driver 0 on every transport; driver k is on this + k.
pub const FIRST_DRIVER_CHANNEL: u8 = 40;

/// Who a transport PD is: the rest of its wiring is the convention above
/// and the setvars below.
pub struct Wiring {
    /// For the log: "mmio", "pci".
    pub name: &'static str,
    /// The transport's id on the bus.
    pub id: TransportId,
}

/// Bytes system.xml maps of the binding table and of each doorbell page.
const PAGE: u64 = 4096;

sevio_runtime::shared_region!(
    /// The bus's binding table (read-only in a transport).
    pub fn binding_table() = "bus_bindings_vaddr", PAGE
);

macro_rules! driver_vars {
    ($($k:literal: $doorbell:literal, $dma:literal;)*) => {
        /// Driver k's doorbell page and DMA region paddr, as system.xml
        /// gives a transport every driver it has a channel to; `None` past
        /// the drivers a transport can have. When the system has no
        /// driver k, the doorbell is unset and the paddr 0.
        pub fn driver_vars(k: usize) -> Option<(Result<SharedMemory, MapError>, u64)> {
            match k {
                $($k => {
                    sevio_runtime::shared_region!(fn doorbell() = $doorbell, PAGE);
                    sevio_runtime::setvar!(fn dma() = $dma);
                    Some((doorbell(), dma()))
                })*
                _ => None,
            }
        }
    };
}

driver_vars! {
    0: "driver0_doorbell_vaddr", "driver0_dma_paddr";
    1: "driver1_doorbell_vaddr", "driver1_dma_paddr";
    2: "driver2_doorbell_vaddr", "driver2_dma_paddr";
    3: "driver3_doorbell_vaddr", "driver3_dma_paddr";
    4: "driver4_doorbell_vaddr", "driver4_dma_paddr";
    5: "driver5_doorbell_vaddr", "driver5_dma_paddr";
    6: "driver6_doorbell_vaddr", "driver6_dma_paddr";
    7: "driver7_doorbell_vaddr", "driver7_dma_paddr";
}

/// PPC `request` to the bus; `None` for a reply that is too long or does
/// not decode.
pub fn call_bus(bus: Channel, request: &BusRequest) -> Option<BusReply> {
    let reply = BusMessage::encode(|words| request.encode(words)).ok()?.call(bus).ok()?;
    BusReply::decode(reply.label(), reply.words()).ok()
}

/// A message to or from the bus.
type BusMessage = PpcMessage<{ sevio_bus_protocol::wire::MAX_WORDS }>;
/// A message to or from a driver.
type DriverMessage = PpcMessage<MAX_WORDS>;

/// The PD state every transport has: the shared transport logic and the
/// binding table it follows.
pub struct TransportPd<D, const N: usize> {
    /// Devices, driver ports and bindings.
    pub transport: Transport<D, N>,
    wiring: Wiring,
    table: Option<TableReader>,
}

impl<D: VirtioDevice, const N: usize> TransportPd<D, N> {
    /// Attach the driver ports system.xml wires, tell the bus which
    /// drivers this transport serves and every device it found, open the
    /// binding table and apply it. Call once, at the end of `init`.
    pub fn start(mut transport: Transport<D, N>, wiring: Wiring) -> Self {
        let mut served = 0u64;
        for k in 0..MAX_DRIVERS {
            let (page, dma_paddr) = match driver_vars(k) {
                Some((Ok(page), dma_paddr)) => (page, dma_paddr),
                // No driver k in this system.
                None | Some((Err(MapError { problem: MapProblem::Unset, .. }), _)) => continue,
                Some((Err(e), _)) => {
                    debug_println!("{}: {e}", wiring.name);
                    continue;
                }
            };
            match TransportDoorbell::init(page) {
                Ok(doorbell) => {
                    transport.attach_driver(k, DriverPort { doorbell, dma_window: (dma_paddr, DMA_WINDOW_SIZE) });
                    served |= 1 << k;
                }
                Err(e) => debug_println!("{}: driver {k}'s doorbell page is unusable: {e:?}", wiring.name),
            }
        }
        // Only drivers this transport has channels to may be bound to its
        // devices: system.xml decides, and only the transport sees it.
        let reply = call_bus(BUS, &BusRequest::ServesDrivers { transport: wiring.id, drivers: served });
        if reply != Some(BusReply::Ok) {
            debug_println!("{}: the bus refused the driver list {served:#b}: {reply:?}", wiring.name);
        }
        let mut found = 0;
        for (_, location, device) in transport.devices() {
            found += 1;
            let request = BusRequest::DeviceFound {
                transport: wiring.id,
                location,
                device_id: device.device_id(),
                vendor_id: device.vendor_id(),
            };
            let reply = call_bus(BUS, &request);
            if reply != Some(BusReply::Ok) {
                debug_println!("{}: the bus refused {location:?}: {reply:?}", wiring.name);
            }
        }
        debug_println!("{}: {found} virtio device(s)", wiring.name);
        let table = binding_table().ok().and_then(|m| TableReader::open(m).ok());
        if table.is_none() {
            debug_println!("{}: no binding table: no driver will be served", wiring.name);
        }
        let mut pd = TransportPd { transport, wiring, table };
        pd.refresh_bindings();
        pd
    }

    /// Re-read which driver is bound to which device (the bus notified).
    pub fn refresh_bindings(&mut self) {
        let Some(table) = self.table else { return };
        for k in 0..MAX_DRIVERS {
            let location = match table.binding_of_driver(DriverId(k as u8), TABLE_READ_ATTEMPTS) {
                Ok(Some(b)) if b.transport == self.wiring.id => Some(b.location),
                Ok(_) => None,
                Err(e) => {
                    debug_println!("{}: binding table unreadable ({e:?}); keeping the old bindings", self.wiring.name);
                    return;
                }
            };
            let old = self.transport.binding(k);
            if old == location {
                continue;
            }
            if !self.transport.set_binding(k, location) {
                debug_println!(
                    "{}: the bus bound driver {k} to {location:?}, which this transport cannot serve",
                    self.wiring.name
                );
            } else if let (Some(old), None) = (old, location) {
                debug_println!("{}: driver {k} unbound; device at {old:?} reset", self.wiring.name);
            }
        }
    }

    /// The driver on `channel`, if it is a driver channel.
    pub fn driver_index(&self, channel: Channel) -> Option<usize> {
        let k = channel.index().checked_sub(FIRST_DRIVER_CHANNEL)? as usize;
        (k < MAX_DRIVERS).then_some(k)
    }

    /// The channel of driver `k`.
    pub fn driver_channel(&self, k: usize) -> Option<Channel> {
        Channel::try_new(FIRST_DRIVER_CHANNEL as u64 + k as u64)
    }

    /// Notify every driver in `drivers` (bit k = driver k).
    pub fn notify_drivers(&self, drivers: u32) {
        for k in 0..MAX_DRIVERS {
            if drivers & (1 << k) != 0
                && let Some(ch) = self.driver_channel(k)
            {
                ch.notify();
            }
        }
    }

    /// A notification on a channel that is not an IRQ: the bus (the
    /// binding table changed) or a driver (it rang its doorbell).
    pub fn notified_channel(&mut self, channel: Channel) {
        if channel == BUS {
            self.refresh_bindings();
        } else if let Some(k) = self.driver_index(channel) {
            self.transport.kick(k);
        }
    }

    /// Serve a PPC: a driver's request, decoded strictly; anything else
    /// is refused.
    pub fn protected(&mut self, channel: Channel, info: MessageInfo) -> MessageInfo {
        let reply = match (self.driver_index(channel), DriverMessage::receive(info)) {
            (None, _) => Reply::Error(TransportError::NotBound),
            (Some(k), Ok(message)) => match Request::decode(message.label(), message.words()) {
                Ok(request) => self.transport.handle(k, request),
                Err(_) => Reply::Error(TransportError::Malformed),
            },
            (Some(_), Err(_)) => Reply::Error(TransportError::Malformed),
        };
        send_reply(&reply)
    }
}

/// Refuse a PPC as [`TransportError::NotBound`]: for a transport that is
/// not serving yet (nothing is bound before it reports its devices).
pub fn refuse_not_bound() -> MessageInfo {
    send_reply(&Reply::Error(TransportError::NotBound))
}

/// Put `reply` in the message registers. Every reply of the transport
/// protocol fits its [`MAX_WORDS`]; one that did not would be a bug here,
/// answered as a malformed exchange rather than cut short.
fn send_reply(reply: &Reply) -> MessageInfo {
    match DriverMessage::encode(|words| reply.encode(words)) {
        Ok(message) => message.send(),
        Err(_) => send_reply(&Reply::Error(TransportError::Malformed)),
    }
}
