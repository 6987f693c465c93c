use super::*;
extern crate std;
use std::vec;
use std::vec::Vec;

/// A reply: header with the size filled in, then `body`.
fn reply(kind: u8, tag: u16, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&((HEADER + body.len()) as u32).to_le_bytes());
    m.push(kind);
    m.extend_from_slice(&tag.to_le_bytes());
    m.extend_from_slice(body);
    m
}

#[test]
fn twalk_is_laid_out_as_9p_says() {
    let mut buf = [0u8; 64];
    let mut r = Request::new(&mut buf, op::TWALK, 3);
    r.u32(0).u32(5).u16(2).str(b"a").str(b"bc");
    let n = r.finish().unwrap();
    let golden = [
        24, 0, 0, 0, 110, 3, 0, // size, Twalk, tag 3
        0, 0, 0, 0, 5, 0, 0, 0, // fid 0, newfid 5
        2, 0, 1, 0, b'a', 2, 0, b'b', b'c', // nwname 2, "a", "bc"
    ];
    assert_eq!(&buf[..n], &golden[..]);
}

#[test]
fn a_message_that_does_not_fit_is_refused_not_truncated() {
    let mut buf = [0u8; 10];
    let mut r = Request::new(&mut buf, op::TCLUNK, 1);
    r.u32(1).u32(2);
    assert_eq!(r.finish(), None);
}

#[test]
fn a_reply_with_a_wrong_tag_is_refused() {
    let m = reply(op::TCLUNK + 1, 9, &[]);
    assert_eq!(Reply::parse(&m, 8, op::TCLUNK).err(), Some(WireError::WrongTag { sent: 8, got: 9 }));
    assert!(Reply::parse(&m, 9, op::TCLUNK).is_ok());
}

#[test]
fn a_reply_of_another_type_is_refused_and_rlerror_is_an_errno() {
    let m = reply(op::TREAD + 1, 1, &0u32.to_le_bytes());
    assert_eq!(Reply::parse(&m, 1, op::TWRITE).err(), Some(WireError::WrongType { expected: 119, got: 117 }));
    let e = reply(op::RLERROR, 1, &2u32.to_le_bytes());
    assert_eq!(Reply::parse(&e, 1, op::TWRITE).err(), Some(WireError::Lerror(2)));
    assert!(WireError::Lerror(2).is_errno() && !WireError::Truncated.is_errno());
}

#[test]
fn a_size_past_what_the_device_wrote_or_below_the_header_is_refused() {
    let mut m = reply(op::TCLUNK + 1, 1, &[]);
    m[0] = 8;
    assert_eq!(Reply::parse(&m, 1, op::TCLUNK).err(), Some(WireError::BadSize { size: 8, written: 7 }));
    m[0] = 6;
    assert!(matches!(Reply::parse(&m, 1, op::TCLUNK), Err(WireError::BadSize { .. })));
    assert!(matches!(Reply::parse(&m[..3], 1, op::TCLUNK), Err(WireError::Truncated)));
}

#[test]
fn bytes_after_the_size_are_not_part_of_the_message() {
    // Rread claims 4 data bytes; the size field ends the message before
    // them, although the device wrote them.
    let mut m = reply(op::TREAD + 1, 1, &4u32.to_le_bytes());
    m.extend_from_slice(b"abcd");
    assert_eq!(Reply::parse(&m, 1, op::TREAD).unwrap().rread(4).err(), Some(WireError::Truncated));
}

#[test]
fn a_string_past_the_message_is_refused() {
    let mut body = 4096u32.to_le_bytes().to_vec();
    body.extend_from_slice(&[8, 0]);
    body.extend_from_slice(b"9P2000"); // 6 of the 8 bytes the length says
    let m = reply(op::TVERSION + 1, NOTAG, &body);
    assert_eq!(Reply::parse(&m, NOTAG, op::TVERSION).unwrap().rversion(8192).err(), Some(WireError::Truncated));
}

#[test]
fn rversion_must_name_9p2000l_and_no_larger_msize() {
    let ok = |msize: u32, v: &[u8]| {
        let mut body = msize.to_le_bytes().to_vec();
        body.extend_from_slice(&(v.len() as u16).to_le_bytes());
        body.extend_from_slice(v);
        let m = reply(op::TVERSION + 1, NOTAG, &body);
        Reply::parse(&m, NOTAG, op::TVERSION).unwrap().rversion(8192)
    };
    assert_eq!(ok(8192, b"9P2000.L"), Ok(8192));
    assert_eq!(ok(4096, b"9P2000.L"), Ok(4096));
    assert_eq!(ok(8193, b"9P2000.L"), Err(WireError::BadVersion));
    assert_eq!(ok(8192, b"unknown"), Err(WireError::BadVersion));
}

#[test]
fn a_read_count_larger_than_asked_is_refused() {
    let mut body = 100u32.to_le_bytes().to_vec();
    body.extend_from_slice(&[7u8; 100]);
    let m = reply(op::TREAD + 1, 4, &body);
    assert_eq!(
        Reply::parse(&m, 4, op::TREAD).unwrap().rread(64).err(),
        Some(WireError::CountTooLarge { asked: 64, got: 100 })
    );
    assert_eq!(Reply::parse(&m, 4, op::TREAD).unwrap().rread(100).unwrap(), &[7u8; 100][..]);
    let w = reply(op::TWRITE + 1, 4, &65u32.to_le_bytes());
    assert_eq!(
        Reply::parse(&w, 4, op::TWRITE).unwrap().rwrite(64).err(),
        Some(WireError::CountTooLarge { asked: 64, got: 65 })
    );
}

#[test]
fn rwalk_with_fewer_qids_means_not_found_and_more_is_a_fault() {
    let qid = [0x80u8, 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0];
    let mut body = 1u16.to_le_bytes().to_vec();
    body.extend_from_slice(&qid);
    let m = reply(op::TWALK + 1, 2, &body);
    assert_eq!(Reply::parse(&m, 2, op::TWALK).unwrap().rwalk(2), Ok(None));
    assert_eq!(Reply::parse(&m, 2, op::TWALK).unwrap().rwalk(1), Ok(Some(Qid { kind: 0x80, version: 1, path: 9 })));
    assert_eq!(Reply::parse(&m, 2, op::TWALK).unwrap().rwalk(0), Err(WireError::BadWalk));
}

#[test]
fn rgetattr_must_hold_every_field() {
    let mut body = vec![0u8; 8 + QID + 4 + 8 + 16];
    body.extend_from_slice(&1234u64.to_le_bytes());
    body.extend_from_slice(&[0u8; 88]);
    let m = reply(op::TGETATTR + 1, 1, &body);
    assert_eq!(Reply::parse(&m, 1, op::TGETATTR).unwrap().rgetattr().unwrap().size, 1234);
    let short = reply(op::TGETATTR + 1, 1, &body[..body.len() - 1]);
    assert_eq!(Reply::parse(&short, 1, op::TGETATTR).unwrap().rgetattr().err(), Some(WireError::Truncated));
}

fn entry(name: &[u8], offset: u64) -> Vec<u8> {
    let mut e = vec![0u8; QID];
    e.extend_from_slice(&offset.to_le_bytes());
    e.push(8);
    e.extend_from_slice(&(name.len() as u16).to_le_bytes());
    e.extend_from_slice(name);
    e
}

#[test]
fn directory_entries_are_checked_one_by_one() {
    let mut data = entry(b"a.txt", 1);
    data.extend(entry(b"sub", 2));
    let names: Vec<_> = DirEntries::new(&data).map(|e| e.unwrap().name.to_vec()).collect();
    assert_eq!(names, [b"a.txt".to_vec(), b"sub".to_vec()]);
    let mut bad = entry(b"x/y", 1);
    bad.extend(entry(b"ok", 2));
    let got: Vec<_> = DirEntries::new(&bad).collect();
    assert_eq!(got, [Err(WireError::BadName)], "nothing after a bad entry");
    let cut = entry(b"long-name", 1);
    let got: Vec<_> = DirEntries::new(&cut[..cut.len() - 2]).collect();
    assert_eq!(got, [Err(WireError::Truncated)], "a name past the data");
}
