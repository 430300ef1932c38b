//! The canonical body encoding: hand-written, big-endian, fixed-width, length-checked.
//!
//! Rules: integers are big-endian of their fixed width; keys, tags, digests and signatures are
//! their raw bytes; a boolean is one byte 0 or 1; an optional value is one byte 0 (absent) or 1
//! (present) followed by the value; a list is a count (its width given per list) followed by the
//! items; a string is a u16 byte length followed by UTF-8. Decoding rejects anything else
//! (other boolean or option bytes, invalid UTF-8, counts over the limit, missing or trailing
//! bytes), so every value has exactly one encoding and decode→encode gives back the same bytes.

use crate::digest::Digest;
use crate::keys::{PUBLIC_KEY_LEN, PublicKey, SIGNATURE_LEN, Signature, TAG_LEN, Tag};

/// Why bytes could not be decoded. Never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated: needed {needed} bytes, {available} available")]
    Truncated { needed: usize, available: usize },
    #[error("oversized: {len} bytes, at most {max} allowed")]
    Oversized { len: usize, max: usize },
    #[error("unsupported FMH version {0}")]
    BadVersion(u8),
    #[error("unknown message type {0}")]
    UnknownMsgType(u8),
    #[error("reserved header bytes are not zero")]
    ReservedNotZero,
    #[error("header body_len is {declared} but {actual} body bytes follow")]
    BodyLengthMismatch { declared: usize, actual: usize },
    #[error("{0} trailing bytes after the body")]
    TrailingBytes(usize),
    #[error("invalid field: {0}")]
    InvalidField(&'static str),
    #[error("header field {0} does not match the signed body")]
    HeaderMismatch(&'static str),
}

/// A value with a canonical encoding.
pub trait Encode {
    /// Appends the encoding to `out`.
    fn encode_to(&self, out: &mut Vec<u8>);
    /// Exact length of the encoding.
    fn encoded_len(&self) -> usize;
    /// The encoding as a new vector.
    fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.encode_to(&mut v);
        v
    }
}

/// A value that decodes from its canonical encoding.
pub trait Decode: Sized {
    /// Reads one value from the reader.
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
    /// Decodes exactly `bytes` (trailing bytes are an error).
    fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let v = Self::decode_from(&mut r)?;
        r.finish()?;
        Ok(v)
    }
}

/// A bounds-checked cursor over input bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }
    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    /// The whole underlying buffer.
    pub fn buffer(&self) -> &'a [u8] {
        self.buf
    }
    /// Takes `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                needed: n,
                available: self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    /// Takes a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    /// A boolean: exactly 0 or 1.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::InvalidField("boolean must be 0 or 1")),
        }
    }
    /// An option marker: exactly 0 (absent) or 1 (present).
    pub fn option_marker(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::InvalidField("option marker must be 0 or 1")),
        }
    }
    /// A u16-length-prefixed UTF-8 string of at most `max` bytes.
    pub fn string(&mut self, max: usize) -> Result<String, DecodeError> {
        let n = self.u16()? as usize;
        if n > max {
            return Err(DecodeError::InvalidField("string too long"));
        }
        let b = self.take(n)?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| DecodeError::InvalidField("string is not UTF-8"))
    }
    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

/// Big-endian writers on a byte vector.
pub trait Writer {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put_bool(&mut self, v: bool);
    fn put_bytes(&mut self, v: &[u8]);
    /// u16 length then the bytes; the caller guarantees the length fits (see [`Reader::string`]).
    fn put_str(&mut self, v: &str);
}

impl Writer for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_bool(&mut self, v: bool) {
        self.push(u8::from(v));
    }
    fn put_bytes(&mut self, v: &[u8]) {
        self.extend_from_slice(v);
    }
    fn put_str(&mut self, v: &str) {
        let n = v.len().min(u16::MAX as usize);
        self.put_u16(n as u16);
        self.extend_from_slice(&v.as_bytes()[..n]);
    }
}

impl Encode for PublicKey {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_bytes(&self.0);
    }
    fn encoded_len(&self) -> usize {
        PUBLIC_KEY_LEN
    }
}
impl Decode for PublicKey {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(PublicKey(r.array()?))
    }
}
impl Encode for Tag {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_bytes(&self.0);
    }
    fn encoded_len(&self) -> usize {
        TAG_LEN
    }
}
impl Decode for Tag {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Tag(r.array()?))
    }
}
impl Encode for Digest {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_bytes(&self.0);
    }
    fn encoded_len(&self) -> usize {
        32
    }
}
impl Decode for Digest {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Digest(r.array()?))
    }
}
impl Encode for Signature {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.put_bytes(&self.0);
    }
    fn encoded_len(&self) -> usize {
        SIGNATURE_LEN
    }
}
impl Decode for Signature {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Signature(r.array()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_big_endian() {
        let mut v = Vec::new();
        v.put_u16(0x0102);
        v.put_u32(0x03040506);
        v.put_u64(0x0708090a0b0c0d0e);
        v.put_bool(true);
        assert_eq!(v, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 1]);
        let mut r = Reader::new(&v);
        assert_eq!(r.u16().unwrap(), 0x0102);
        assert_eq!(r.u32().unwrap(), 0x03040506);
        assert_eq!(r.u64().unwrap(), 0x0708090a0b0c0d0e);
        assert!(r.bool().unwrap());
        r.finish().unwrap();
    }

    #[test]
    fn reader_rejects_truncation_bad_bool_and_trailing() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(
            r.u32(),
            Err(DecodeError::Truncated {
                needed: 4,
                available: 3
            })
        );
        let mut r = Reader::new(&[2]);
        assert!(matches!(r.bool(), Err(DecodeError::InvalidField(_))));
        let r = Reader::new(&[0]);
        assert_eq!(r.finish(), Err(DecodeError::TrailingBytes(1)));
    }

    #[test]
    fn strings_roundtrip_and_are_checked() {
        let mut v = Vec::new();
        v.put_str("héllo");
        let mut r = Reader::new(&v);
        assert_eq!(r.string(64).unwrap(), "héllo");
        let mut r = Reader::new(&v);
        assert!(r.string(2).is_err());
        let bad = [0u8, 2, 0xff, 0xfe];
        assert!(Reader::new(&bad).string(64).is_err());
    }
}
