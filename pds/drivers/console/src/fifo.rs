//! A fixed-capacity first-in first-out list of buffer slot numbers (no
//! heap): the order in which RX buffers were filled, or TX buffers taken.

/// Up to `N` slot numbers, oldest first.
#[derive(Clone, Debug)]
pub struct SlotFifo<const N: usize> {
    items: [u8; N],
    head: usize,
    len: usize,
}

impl<const N: usize> Default for SlotFifo<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> SlotFifo<N> {
    /// An empty list.
    pub const fn new() -> Self {
        SlotFifo { items: [0; N], head: 0, len: 0 }
    }

    /// Entries in the list.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append `slot`; false (and nothing changes) if the list is full.
    pub fn push(&mut self, slot: u8) -> bool {
        if self.len == N {
            return false;
        }
        self.items[(self.head + self.len) % N] = slot;
        self.len += 1;
        true
    }

    /// The oldest entry.
    pub fn front(&self) -> Option<u8> {
        (self.len > 0).then(|| self.items[self.head])
    }

    /// Remove and return the oldest entry.
    pub fn pop(&mut self) -> Option<u8> {
        let front = self.front()?;
        self.head = (self.head + 1) % N;
        self.len -= 1;
        Some(front)
    }

    /// The entries, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        (0..self.len).map(move |i| self.items[(self.head + i) % N])
    }
}

#[cfg(test)]
mod tests {
    use super::SlotFifo;

    #[test]
    fn keeps_order_across_wrap_and_refuses_when_full() {
        let mut f = SlotFifo::<3>::new();
        assert_eq!(f.pop(), None);
        assert!(f.push(1) && f.push(2) && f.push(3));
        assert!(!f.push(4), "full");
        assert_eq!(f.pop(), Some(1));
        assert!(f.push(4));
        assert_eq!(f.iter().collect::<std::vec::Vec<_>>(), [2, 3, 4]);
        assert_eq!((f.pop(), f.pop(), f.front(), f.len()), (Some(2), Some(3), Some(4), 1));
        assert_eq!(f.pop(), Some(4));
        assert!(f.is_empty());
    }
}
