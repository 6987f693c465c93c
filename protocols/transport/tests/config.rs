//! The consistent config read helper against a mock transport.

use sevio_transport_protocol::config::chunk_width;
use sevio_transport_protocol::*;

/// A transport whose config generation bumps after `change_after` reads.
struct Mock {
    config: [u8; 32],
    generation: u32,
    reads: u32,
    change_after: Option<u32>,
    log: Vec<Request>,
}

impl Mock {
    fn call(&mut self, r: Request) -> Result<Reply, ()> {
        self.log.push(r);
        Ok(match r {
            Request::ConfigRead { offset, width } => {
                let o = offset as usize;
                let Some(bytes) = self.config.get(o..o + width.bytes()) else {
                    return Ok(Reply::Error(TransportError::ConfigOutOfRange));
                };
                let mut v = [0u8; 8];
                v[..bytes.len()].copy_from_slice(bytes);
                let g = self.generation;
                self.reads += 1;
                if self.change_after == Some(self.reads) {
                    self.generation += 1;
                    self.config[o] ^= 0xff;
                }
                Reply::ConfigValue { value: u64::from_le_bytes(v), generation: g }
            }
            Request::ConfigGeneration => Reply::Generation(self.generation),
            _ => Reply::Error(TransportError::Unsupported),
        })
    }
}

fn mock(change_after: Option<u32>) -> Mock {
    let mut config = [0u8; 32];
    for (i, b) in config.iter_mut().enumerate() {
        *b = i as u8 + 1;
    }
    Mock { config, generation: 5, reads: 0, change_after, log: vec![] }
}

#[test]
fn chunks_are_aligned_and_widest() {
    assert_eq!(chunk_width(0, 12), Width::W8);
    assert_eq!(chunk_width(8, 4), Width::W4);
    assert_eq!(chunk_width(2, 12), Width::W2);
    assert_eq!(chunk_width(1, 12), Width::W1);
    assert_eq!(chunk_width(4, 3), Width::W2);
}

#[test]
fn reads_bytes_in_aligned_chunks() {
    let mut m = mock(None);
    let mut out = [0u8; 11];
    let g = read_config(&mut |r| m.call(r), 1, &mut out, 3).unwrap();
    assert_eq!(g, 5);
    assert_eq!(out, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    let widths: Vec<_> = m
        .log
        .iter()
        .filter_map(|r| match r {
            Request::ConfigRead { offset, width } => Some((*offset, width.bytes())),
            _ => None,
        })
        .collect();
    assert_eq!(widths, vec![(1, 1), (2, 2), (4, 4), (8, 4)]);
    assert_eq!(m.log.last(), Some(&Request::ConfigGeneration));
}

#[test]
fn retries_when_the_generation_changes_mid_read() {
    let mut m = mock(Some(1));
    let mut out = [0u8; 8];
    let g = read_config(&mut |r| m.call(r), 4, &mut out, 3).unwrap();
    assert_eq!(g, 6, "second attempt saw the new generation");
    assert_eq!(out[0], 5 ^ 0xff, "and the new bytes");
    assert_eq!(m.log.iter().filter(|r| matches!(r, Request::ConfigGeneration)).count(), 2);
}

#[test]
fn gives_up_when_never_stable() {
    struct Flaky(u32);
    let mut f = Flaky(0);
    let mut call = |r: Request| -> Result<Reply, ()> {
        f.0 += 1;
        Ok(match r {
            Request::ConfigRead { .. } => Reply::ConfigValue { value: 0, generation: f.0 },
            _ => Reply::Generation(f.0),
        })
    };
    let mut out = [0u8; 4];
    assert_eq!(read_config(&mut call, 0, &mut out, 4), Err(ConfigReadError::Unstable { attempts: 4 }));
}

#[test]
fn passes_errors_through() {
    let mut m = mock(None);
    let mut out = [0u8; 8];
    assert_eq!(
        read_config(&mut |r| m.call(r), 30, &mut out, 3),
        Err(ConfigReadError::Transport(TransportError::ConfigOutOfRange))
    );
    let mut wrong = |_r: Request| -> Result<Reply, ()> { Ok(Reply::Ok) };
    assert_eq!(read_config(&mut wrong, 0, &mut out, 3), Err(ConfigReadError::UnexpectedReply(Reply::Ok)));
    let mut ipc = |_r: Request| -> Result<Reply, &'static str> { Err("ipc") };
    assert_eq!(read_config(&mut ipc, 0, &mut out, 3), Err(ConfigReadError::Call("ipc")));
}
