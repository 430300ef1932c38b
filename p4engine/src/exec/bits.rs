//! Reading and writing fields of up to 128 bits at arbitrary bit offsets in byte buffers,
//! most significant bit first, as header fields sit on the wire.

use super::value::mask;

/// Reads `w` bits (1..=128) starting at bit `off` of `buf`. The caller checks the bounds.
#[inline]
pub fn read_bits(buf: &[u8], off: usize, w: u32) -> u128 {
    if w == 0 {
        return 0;
    }
    let w = w as usize;
    if off.is_multiple_of(8) && w.is_multiple_of(8) {
        let start = off / 8;
        let mut acc = 0u128;
        for &b in &buf[start..start + w / 8] {
            acc = (acc << 8) | b as u128;
        }
        return acc;
    }
    let start = off / 8;
    if off % 8 + w <= 128 && start + 16 <= buf.len() {
        let mut b = [0u8; 16];
        b.copy_from_slice(&buf[start..start + 16]);
        let x = u128::from_be_bytes(b) << (off % 8);
        return x >> (128 - w);
    }
    let end_byte = (off + w).div_ceil(8);
    let n = end_byte - start;
    if n <= 16 {
        let mut acc = 0u128;
        for &b in &buf[start..end_byte] {
            acc = (acc << 8) | b as u128;
        }
        let tail = n * 8 - (off % 8) - w;
        return (acc >> tail) & mask(w as u32);
    }
    let end = off + w;
    let mut acc = 0u128;
    let mut pos = off;
    while pos < end {
        let byte = buf[pos / 8];
        let bit_in = pos % 8;
        let take = (8 - bit_in).min(end - pos);
        let chunk = (byte >> (8 - bit_in - take)) & (((1u16 << take) - 1) as u8);
        acc = (acc << take) | chunk as u128;
        pos += take;
    }
    acc
}

/// Writes the low `w` bits of `v` at bit `off` of `buf`. The caller checks the bounds.
#[inline]
pub fn write_bits(buf: &mut [u8], off: usize, w: u32, v: u128) {
    let w = w as usize;
    let v = v & mask(w as u32);
    if off.is_multiple_of(8) && w.is_multiple_of(8) {
        let start = off / 8;
        let n = w / 8;
        for i in 0..n {
            buf[start + i] = (v >> (8 * (n - 1 - i))) as u8;
        }
        return;
    }
    let end = off + w;
    let mut pos = off;
    while pos < end {
        let bit_in = pos % 8;
        let take = (8 - bit_in).min(end - pos);
        let remaining_after = end - pos - take;
        let chunk = ((v >> remaining_after) as u8) & (((1u16 << take) - 1) as u8);
        let shift = 8 - bit_in - take;
        let m = (((1u16 << take) - 1) as u8) << shift;
        let b = &mut buf[pos / 8];
        *b = (*b & !m) | (chunk << shift);
        pos += take;
    }
}

/// Appends fields bit by bit to a byte vector (used by the deparser and by hash/checksum
/// input packing). Call [`BitWriter::finish`] at the end: the last byte is zero-padded at its
/// low end.
#[derive(Debug, Default)]
pub struct BitWriter {
    /// Pending bits (fewer than 8) in the low end.
    acc: u64,
    pending: u32,
    bytes: usize,
}

impl BitWriter {
    /// A writer appending to `buf` (which must hold whole bytes).
    pub fn at_end(buf: &[u8]) -> Self {
        BitWriter {
            acc: 0,
            pending: 0,
            bytes: buf.len(),
        }
    }

    #[inline]
    fn push_small(&mut self, buf: &mut Vec<u8>, v: u64, w: u32) {
        self.acc = (self.acc << w) | v;
        self.pending += w;
        while self.pending >= 8 {
            self.pending -= 8;
            buf.push((self.acc >> self.pending) as u8);
            self.bytes += 1;
        }
        self.acc &= (1u64 << self.pending) - 1;
    }

    /// Appends the low `w` bits of `v`.
    #[inline(always)]
    pub fn push(&mut self, buf: &mut Vec<u8>, v: u128, w: u32) {
        if self.pending == 0 && w.is_multiple_of(8) {
            let n = (w / 8) as usize;
            // fixed-size copies compile to plain stores
            match n {
                1 => buf.push(v as u8),
                2 => buf.extend_from_slice(&(v as u16).to_be_bytes()),
                4 => buf.extend_from_slice(&(v as u32).to_be_bytes()),
                6 => buf.extend_from_slice(&(v as u64).to_be_bytes()[2..]),
                8 => buf.extend_from_slice(&(v as u64).to_be_bytes()),
                16 => buf.extend_from_slice(&v.to_be_bytes()),
                _ => buf.extend_from_slice(&v.to_be_bytes()[16 - n..]),
            }
            self.bytes += n;
            return;
        }
        if w <= 56 {
            self.push_small(buf, (v & mask(w)) as u64, w);
            return;
        }
        let mut rem = w;
        while rem > 0 {
            let take = rem.min(56);
            let part = ((v >> (rem - take)) & mask(take)) as u64;
            self.push_small(buf, part, take);
            rem -= take;
        }
    }

    /// Writes the pending bits, zero-padded to a whole byte.
    #[inline]
    pub fn finish(&mut self, buf: &mut Vec<u8>) {
        if self.pending > 0 {
            buf.push((self.acc << (8 - self.pending)) as u8);
            self.bytes += 1;
            self.pending = 0;
            self.acc = 0;
        }
    }

    /// Bits written so far (including the starting bytes).
    pub fn bit_len(&self) -> usize {
        self.bytes * 8 + self.pending as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_and_unaligned_reads() {
        let buf = [0x12, 0x34, 0x56, 0x78, 0x9a];
        assert_eq!(read_bits(&buf, 0, 16), 0x1234);
        assert_eq!(read_bits(&buf, 4, 8), 0x23);
        assert_eq!(read_bits(&buf, 0, 9), 0x1234 >> 7);
        assert_eq!(read_bits(&buf, 9, 7), 0x34);
        assert_eq!(read_bits(&buf, 3, 1), 1);
        assert_eq!(read_bits(&buf, 0, 40), 0x12_3456_789a);
    }

    #[test]
    fn round_trip_every_offset_and_width() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for w in 1..=128u32 {
            for off in 0..16usize {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let v = (((seed as u128) << 64) | seed.rotate_left(11) as u128) & mask(w);
                let mut buf = vec![0xA5u8; 20];
                let before = buf.clone();
                write_bits(&mut buf, off, w, v);
                assert_eq!(read_bits(&buf, off, w), v, "w={w} off={off}");
                // bits outside the field are untouched
                if off > 0 {
                    assert_eq!(
                        read_bits(&buf, 0, off as u32),
                        read_bits(&before, 0, off as u32)
                    );
                }
                let after = off + w as usize;
                let rest = (160 - after) as u32;
                assert_eq!(
                    read_bits(&buf, after, rest),
                    read_bits(&before, after, rest)
                );
            }
        }
    }

    #[test]
    fn writer_packs_msb_first() {
        let mut v = Vec::new();
        let mut w = BitWriter::default();
        w.push(&mut v, 0x1ff, 9);
        w.push(&mut v, 0x7f, 7);
        w.push(&mut v, 0xabcd, 16);
        w.push(&mut v, 0x0123_4567_89ab_cdef_0011_2233_4455_6677, 128);
        w.finish(&mut v);
        assert_eq!(&v[..4], &[0xff, 0xff, 0xab, 0xcd]);
        assert_eq!(
            v[4..].to_vec(),
            0x0123_4567_89ab_cdef_0011_2233_4455_6677u128
                .to_be_bytes()
                .to_vec()
        );
        let mut v = Vec::new();
        let mut w = BitWriter::default();
        w.push(&mut v, 1, 1);
        w.push(&mut v, 1, 2);
        assert_eq!(w.bit_len(), 3);
        w.finish(&mut v);
        assert_eq!(v, vec![0b1010_0000]);
    }
}
