//! The v1model hash algorithms with BMv2's exact results: CRC-16/ARC, zlib CRC-32, the Internet
//! checksum, XOR of 16-bit words and identity (the first 8 bytes), over a field list packed
//! MSB-first and zero-padded at the end to whole bytes.

use super::bits::BitWriter;
use super::value::mask;

static CRC16: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_ARC);
static CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// A v1model `HashAlgorithm` that the engine computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlgo {
    /// CRC-16/ARC (reflected 0x8005, init 0, no final xor).
    Crc16,
    /// zlib's CRC-32.
    Crc32,
    /// The Internet checksum (ones' complement of the ones' complement sum of 16-bit words).
    Csum16,
    /// XOR of the 16-bit words.
    Xor16,
    /// The first 8 bytes, big-endian.
    Identity,
}

impl HashAlgo {
    /// The algorithm for a v1model `HashAlgorithm` member name, if supported.
    pub fn from_name(name: &str) -> Option<HashAlgo> {
        Some(match name {
            "crc16" => HashAlgo::Crc16,
            "crc32" => HashAlgo::Crc32,
            "csum16" => HashAlgo::Csum16,
            "xor16" => HashAlgo::Xor16,
            "identity" => HashAlgo::Identity,
            _ => return None,
        })
    }

    /// Hashes whole bytes.
    pub fn compute(self, data: &[u8]) -> u64 {
        match self {
            HashAlgo::Crc16 => CRC16.checksum(data) as u64,
            HashAlgo::Crc32 => CRC32.checksum(data) as u64,
            HashAlgo::Csum16 => csum16(data) as u64,
            HashAlgo::Xor16 => xor16(data) as u64,
            HashAlgo::Identity => {
                let mut acc = 0u64;
                for &b in data.iter().take(8) {
                    acc = (acc << 8) | b as u64;
                }
                acc
            }
        }
    }
}

/// The Internet checksum of `data`, an odd trailing byte padded with 0x00.
pub fn csum16(data: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u16::from_be_bytes([c[0], c[1]]) as u64;
    }
    if let [last] = chunks.remainder() {
        sum += (*last as u64) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// XOR of the 16-bit words of `data`, an odd trailing byte padded with 0x00.
pub fn xor16(data: &[u8]) -> u16 {
    let mut acc = 0u16;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc ^= u16::from_be_bytes([c[0], c[1]]);
    }
    if let [last] = chunks.remainder() {
        acc ^= (*last as u16) << 8;
    }
    acc
}

/// Packs `(value, width)` fields MSB-first into `out` (cleared first), zero-padded at the end.
pub fn pack_fields(fields: impl IntoIterator<Item = (u128, u32)>, out: &mut Vec<u8>) {
    out.clear();
    let mut w = BitWriter::default();
    for (v, width) in fields {
        w.push(out, v, width);
    }
    w.finish(out);
}

/// v1model `hash()`: `base + (H mod max)` truncated to `out_width`, or `base` when `max` is 0.
pub fn hash_result(h: u64, base: u128, max: u128, out_width: u32) -> u128 {
    let v = if max == 0 {
        base
    } else if let Ok(m) = u64::try_from(max) {
        base.wrapping_add((h % m) as u128)
    } else {
        base.wrapping_add(h as u128)
    };
    v & mask(out_width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values() {
        assert_eq!(HashAlgo::Crc16.compute(b"123456789"), 0xBB3D);
        assert_eq!(HashAlgo::Crc32.compute(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn internet_checksum() {
        // A classic IPv4 header whose checksum is 0xb861.
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(csum16(&hdr), 0xb861);
        assert_eq!(csum16(&[0x01]), !0x0100);
    }

    #[test]
    fn xor_and_identity() {
        assert_eq!(
            xor16(&[0x12, 0x34, 0xff, 0x00, 0x01]),
            0x1234 ^ 0xff00 ^ 0x0100
        );
        assert_eq!(HashAlgo::Identity.compute(&[1, 2, 3]), 0x010203);
        assert_eq!(
            HashAlgo::Identity.compute(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
            0x0102_0304_0506_0708
        );
    }

    #[test]
    fn packing_pads_at_the_end() {
        let mut out = Vec::new();
        pack_fields([(0x1ff, 9), (0x1, 13)], &mut out);
        assert_eq!(out, vec![0xff, 0x80, 0x04]);
    }

    #[test]
    fn base_and_max() {
        assert_eq!(hash_result(0xBB3D, 0x1234, 0, 16), 0x1234);
        assert_eq!(hash_result(0xBB3D, 5, 1, 16), 5);
        assert_eq!(
            hash_result(0xBB3D, 0xFFF0, 100, 16),
            (0xFFF0 + 0xBB3D % 100) & 0xffff
        );
        assert_eq!(hash_result(0xCBF4_3926, 0, 1 << 32, 32), 0xCBF4_3926);
        assert_eq!(hash_result(0xBB3D, 0, 65536, 8), 0x3D);
    }
}
