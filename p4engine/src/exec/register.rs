//! Register arrays stored in the narrowest machine word that holds the element width, so a
//! 4096-cell `register<bit<1>>` takes 4 KiB rather than 64 KiB per switch instance.

/// The cells of one register, all starting at zero.
#[derive(Debug, Clone)]
pub enum RegisterArray {
    W8(Vec<u8>),
    W16(Vec<u16>),
    W32(Vec<u32>),
    W64(Vec<u64>),
    W128(Vec<u128>),
}

impl RegisterArray {
    /// `size` zero cells of `width` bits.
    pub fn new(width: u32, size: usize) -> Self {
        match width {
            0..=8 => RegisterArray::W8(vec![0; size]),
            9..=16 => RegisterArray::W16(vec![0; size]),
            17..=32 => RegisterArray::W32(vec![0; size]),
            33..=64 => RegisterArray::W64(vec![0; size]),
            _ => RegisterArray::W128(vec![0; size]),
        }
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        match self {
            RegisterArray::W8(v) => v.len(),
            RegisterArray::W16(v) => v.len(),
            RegisterArray::W32(v) => v.len(),
            RegisterArray::W64(v) => v.len(),
            RegisterArray::W128(v) => v.len(),
        }
    }

    /// True when the register has no cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes used.
    pub fn heap_bytes(&self) -> usize {
        match self {
            RegisterArray::W8(v) => v.capacity(),
            RegisterArray::W16(v) => v.capacity() * 2,
            RegisterArray::W32(v) => v.capacity() * 4,
            RegisterArray::W64(v) => v.capacity() * 8,
            RegisterArray::W128(v) => v.capacity() * 16,
        }
    }

    /// The cell at `i`, `None` when out of range.
    #[inline]
    pub fn get(&self, i: usize) -> Option<u128> {
        match self {
            RegisterArray::W8(v) => v.get(i).map(|x| *x as u128),
            RegisterArray::W16(v) => v.get(i).map(|x| *x as u128),
            RegisterArray::W32(v) => v.get(i).map(|x| *x as u128),
            RegisterArray::W64(v) => v.get(i).map(|x| *x as u128),
            RegisterArray::W128(v) => v.get(i).copied(),
        }
    }

    /// Sets the cell at `i` (the value is already masked to the width); false when out of range.
    #[inline]
    pub fn set(&mut self, i: usize, x: u128) -> bool {
        match self {
            RegisterArray::W8(v) => v.get_mut(i).map(|c| *c = x as u8).is_some(),
            RegisterArray::W16(v) => v.get_mut(i).map(|c| *c = x as u16).is_some(),
            RegisterArray::W32(v) => v.get_mut(i).map(|c| *c = x as u32).is_some(),
            RegisterArray::W64(v) => v.get_mut(i).map(|c| *c = x as u64).is_some(),
            RegisterArray::W128(v) => v.get_mut(i).map(|c| *c = x).is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_and_bounds() {
        for (w, max) in [
            (1u32, 1u128),
            (16, 0xffff),
            (19, 0x7ffff),
            (48, (1 << 48) - 1),
            (128, u128::MAX),
        ] {
            let mut r = RegisterArray::new(w, 4);
            assert_eq!(r.get(3), Some(0));
            assert!(r.set(3, max));
            assert_eq!(r.get(3), Some(max));
            assert!(!r.set(4, 1));
            assert_eq!(r.get(4), None);
            assert_eq!(r.len(), 4);
        }
        assert_eq!(RegisterArray::new(1, 4096).heap_bytes(), 4096);
    }
}
