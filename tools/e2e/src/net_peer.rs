//! The far end of `make bench-qemu`'s net workloads: a host on the
//! machine running QEMU, reached through QEMU's `dgram` netdev (one
//! Ethernet frame per UDP datagram on loopback), so the seL4 system and
//! the Linux guest send to the same peer through the same netdev.
//!
//! The peer is net-echo's host (`sevio_client_net::Stack` as
//! `Mode::Responder` configures it: 10.0.2.15 at 52:54:00:12:34:56,
//! answering ARP, ping and UDP echo on port 1234), run on a thread over a
//! UDP socket: every frame QEMU sends is handled, every reply goes back
//! to the address the frame came from. What the stack refuses (other
//! addresses, bad checksums) is counted, not answered.

use sevio_client_net::pd::Mode;
use sevio_client_net::stack::{Stack, StackStats};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the peer's thread looks at its stop flag when idle.
const POLL: Duration = Duration::from_millis(100);
/// The largest frame QEMU sends without offloads (1514 bytes), rounded up.
const FRAME_MAX: usize = 2048;

/// A running peer; [`EchoPeer::stop`] ends it and returns its counters.
pub struct EchoPeer {
    port: u16,
    qemu_port: u16,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<StackStats>,
}

impl EchoPeer {
    /// Start a peer on a free loopback port, for a QEMU whose netdev is
    /// bound to another free loopback port ([`EchoPeer::netdev`]).
    pub fn start() -> Result<EchoPeer, String> {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("echo peer: cannot bind: {e}"))?;
        socket.set_read_timeout(Some(POLL)).map_err(|e| format!("echo peer: {e}"))?;
        let port = socket.local_addr().map_err(|e| format!("echo peer: {e}"))?.port();
        // QEMU binds its end itself: take a free port now and give it up.
        let qemu_port = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|s| s.local_addr())
            .map_err(|e| format!("echo peer: no free port for QEMU: {e}"))?
            .port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || serve(&socket, &flag));
        Ok(EchoPeer { port, qemu_port, stop, thread })
    }

    /// The peer's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port on 127.0.0.1 QEMU's end is to bind.
    pub fn qemu_port(&self) -> u16 {
        self.qemu_port
    }

    /// The `-netdev` value that connects a NIC named `id` to this peer.
    pub fn netdev(&self, id: &str) -> String {
        format!(
            "dgram,id={id},local.type=inet,local.host=127.0.0.1,local.port={},remote.type=inet,remote.host=127.0.0.1,remote.port={}",
            self.qemu_port, self.port
        )
    }

    /// Stop the peer; what it did.
    pub fn stop(self) -> StackStats {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

fn serve(socket: &UdpSocket, stop: &AtomicBool) -> StackStats {
    let mut stack = Stack::new(Mode::Responder.config());
    let mut frame = [0u8; FRAME_MAX];
    let mut reply = [0u8; FRAME_MAX];
    while !stop.load(Ordering::Relaxed) {
        let (len, from): (usize, SocketAddr) = match socket.recv_from(&mut frame) {
            Ok(got) => got,
            // Timed out (nothing to do) or a passing error: look at the flag.
            Err(_) => continue,
        };
        if let Some(n) = stack.handle(&frame[..len], &mut reply).reply {
            // A reply lost here is one the sender retransmits.
            let _ = socket.send_to(&reply[..n], from);
        }
    }
    stack.stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use sevio_client_net::stack::{Config, Event, Flood, Retransmit, Target, Traffic};

    /// A net-bench host on the other end of the socket, as QEMU's NIC
    /// would carry it: ARP resolves, every flood datagram comes back.
    #[test]
    fn a_bench_host_resolves_the_peer_and_gets_every_echo() {
        let peer = EchoPeer::start().unwrap();
        let nic = UdpSocket::bind((Ipv4Addr::LOCALHOST, peer.qemu_port)).unwrap();
        nic.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        nic.connect((Ipv4Addr::LOCALHOST, peer.port)).unwrap();
        let flood = Flood { count: 50, depth: 4, size: 100, port: 1234 };
        let mut host = Stack::new(Config {
            mac: [0x52, 0x54, 0, 0x12, 0x34, 0x57],
            ip: [10, 0, 2, 16],
            echo_port: 1234,
            target: Some(Target { ip: [10, 0, 2, 15], traffic: Traffic::Flood(flood) }),
        });
        let (mut out, mut frame) = ([0u8; FRAME_MAX], [0u8; FRAME_MAX]);
        // First a frame for another MAC: ignored, not answered (loopback
        // keeps the order, so it is handled before anything after it).
        let n = host.poll_send(&mut out).expect("an ARP request first");
        out[..6].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
        nic.send(&out[..n]).unwrap();
        assert_eq!(host.retransmit_due(), Retransmit::Resent(1), "the request is sent again, to everyone");
        let (mut replies, mut done) = (0, None);
        while done.is_none() {
            while let Some(n) = host.poll_send(&mut out) {
                nic.send(&out[..n]).unwrap();
            }
            let len = nic.recv(&mut frame).expect("the peer answers");
            match host.handle(&frame[..len], &mut out).event {
                Some(Event::FloodReply(_)) => replies += 1,
                Some(Event::FloodDone { bad }) => done = Some(bad),
                _ => {}
            }
        }
        assert_eq!(done, Some(0));
        assert!(replies >= 49, "{replies} echoes before the last");
        let stats = peer.stop();
        assert_eq!(stats.arp_replies, 1);
        assert_eq!(stats.udp_echoed, 50);
        assert_eq!(stats.ignored, 1);
    }

    #[test]
    fn the_netdev_names_both_ports() {
        let peer = EchoPeer::start().unwrap();
        let arg = peer.netdev("n0");
        assert!(arg.starts_with("dgram,id=n0,"));
        assert!(arg.contains(&format!("remote.port={}", peer.port)), "{arg}");
        assert!(arg.contains(&format!("local.port={}", peer.qemu_port)), "{arg}");
        peer.stop();
    }
}
