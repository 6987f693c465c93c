//! Client paths: checked once when a request is taken, then walked.
//!
//! A path is `/`-separated names below the export's root: at most
//! [`PATH_MAX`] bytes and [`MAX_WALK`] names, none empty, `.` or `..`,
//! none containing NUL. One leading `/` is allowed; `""` and `"/"` are
//! the root. The driver never lets a client name something above the
//! root: 9P servers resolve `..` themselves, so it is refused here.

use crate::wire::MAX_WALK;
use sevio_queue::fs::PATH_MAX;

/// A checked path, copied out of the client's region.
#[derive(Copy, Clone, Debug)]
pub struct Path {
    bytes: [u8; PATH_MAX],
    len: usize,
    names: usize,
}

/// Why a path was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PathError {
    /// Longer than [`PATH_MAX`].
    TooLong,
    /// More than [`MAX_WALK`] names.
    TooDeep,
    /// An empty name, `.`, `..` or a NUL byte.
    BadName,
}

impl Path {
    /// Check `raw`.
    pub fn parse(raw: &[u8]) -> Result<Path, PathError> {
        let raw = raw.strip_prefix(b"/").unwrap_or(raw);
        if raw.len() > PATH_MAX {
            return Err(PathError::TooLong);
        }
        let mut bytes = [0u8; PATH_MAX];
        bytes[..raw.len()].copy_from_slice(raw);
        let path =
            Path { bytes, len: raw.len(), names: if raw.is_empty() { 0 } else { raw.split(|&b| b == b'/').count() } };
        if path.names > MAX_WALK {
            return Err(PathError::TooDeep);
        }
        if path.names().any(|n| n.is_empty() || n == b"." || n == b".." || n.contains(&0)) {
            return Err(PathError::BadName);
        }
        Ok(path)
    }

    /// The names, in order.
    pub fn names(&self) -> impl Iterator<Item = &[u8]> {
        let bytes = &self.bytes[..self.len];
        bytes.split(|&b| b == b'/').take(self.names)
    }

    /// How many names.
    pub fn depth(&self) -> usize {
        self.names
    }

    /// The last name (none for the root).
    pub fn leaf(&self) -> Option<&[u8]> {
        self.names().last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    #[test]
    fn names_split_and_the_root_is_empty() {
        let p = Path::parse(b"/a/bc/d.txt").unwrap();
        assert_eq!(p.names().collect::<Vec<_>>(), [&b"a"[..], b"bc", b"d.txt"]);
        assert_eq!((p.depth(), p.leaf()), (3, Some(&b"d.txt"[..])));
        for root in [&b""[..], b"/"] {
            let r = Path::parse(root).unwrap();
            assert_eq!((r.depth(), r.leaf()), (0, None));
        }
    }

    #[test]
    fn escapes_and_malformed_paths_are_refused() {
        for bad in [&b"a/../b"[..], b"..", b"a/./b", b"a//b", b"a/", b"a\0b"] {
            assert_eq!(Path::parse(bad).err(), Some(PathError::BadName), "{bad:?}");
        }
        assert_eq!(Path::parse(&[b'x'; 256]).err(), Some(PathError::TooLong));
        let deep: Vec<u8> = b"a/".repeat(16).into_iter().chain(*b"z").collect();
        assert_eq!(Path::parse(&deep).err(), Some(PathError::TooDeep));
    }
}
