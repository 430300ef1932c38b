//! Reading and writing fields of up to 128 bits at arbitrary bit offsets in byte buffers,
//! most significant bit first, as header fields sit on the wire.

use super::value::mask;

/// Reads `w` bits (1..=128) starting at bit `off` of `buf`. The caller checks the bounds.
#[inline]
pub fn read_bits(buf: &[u8], off: usize, w: u32) -> u128 {
    let w = w as usize;
    if off.is_multiple_of(8) && w.is_multiple_of(8) {
        let start = off / 8;
        let mut acc = 0u128;
        for &b in &buf[start..start + w / 8] {
            acc = (acc << 8) | b as u128;
        }
        return acc;
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
/// input packing). The last byte is zero-padded at its low end.
#[derive(Debug, Default)]
pub struct BitWriter {
    bits: usize,
}

impl BitWriter {
    /// A writer positioned at the end of `buf` (which must hold whole bytes).
    pub fn at_end(buf: &[u8]) -> Self {
        BitWriter {
            bits: buf.len() * 8,
        }
    }

    /// Appends the low `w` bits of `v`.
    #[inline]
    pub fn push(&mut self, buf: &mut Vec<u8>, v: u128, w: u32) {
        let need = (self.bits + w as usize).div_ceil(8);
        if buf.len() < need {
            buf.resize(need, 0);
        }
        write_bits(buf, self.bits, w, v);
        self.bits += w as usize;
    }

    /// Bits written so far (including the starting bytes).
    pub fn bit_len(&self) -> usize {
        self.bits
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
        assert_eq!(v, vec![0xff, 0xff, 0xab, 0xcd]);
        let mut v = Vec::new();
        let mut w = BitWriter::default();
        w.push(&mut v, 1, 1);
        w.push(&mut v, 1, 2);
        assert_eq!(v, vec![0b1010_0000]);
        assert_eq!(w.bit_len(), 3);
    }
}
