//! Keys and identities: ed25519 key pairs, public keys, 8-byte tags and signatures.
//!
//! An account (and an authority) *is* its ed25519 public key. Its tag is the first 8 bytes of
//! `blake3(public key)`; the tag is what travels in the FMH header's `sender` field and what the
//! switch filters on. Keys serialise as lowercase hex for key and config files (the files
//! themselves are written by other crates).

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::digest::Digest;

/// Length of an encoded public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an encoded secret key seed.
pub const SECRET_KEY_LEN: usize = 32;
/// Length of an encoded signature.
pub const SIGNATURE_LEN: usize = 64;
/// Length of a tag.
pub const TAG_LEN: usize = 8;

/// Errors from parsing or validating keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("invalid hex: {0}")]
    Hex(String),
    #[error("wrong length: expected {expected} bytes, got {got}")]
    Length { expected: usize, got: usize },
    #[error("bytes are not a valid ed25519 public key")]
    InvalidPublicKey,
    #[error("signature does not verify")]
    BadSignature,
    #[error("operating system random source failed: {0}")]
    Random(String),
}

/// Decodes exactly `N` bytes of hex (surrounding whitespace trimmed), without any other check.
pub fn decode_hex_array<const N: usize>(s: &str) -> Result<[u8; N], KeyError> {
    let s = s.trim();
    let bytes = hex::decode(s).map_err(|e| KeyError::Hex(e.to_string()))?;
    bytes.as_slice().try_into().map_err(|_| KeyError::Length {
        expected: N,
        got: bytes.len(),
    })
}

/// An 8-byte identifier: the first 8 bytes of `blake3(public key)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Tag(pub [u8; TAG_LEN]);

/// Tag of an account (the FMH `sender` of orders, certificates and queries).
pub type AccountTag = Tag;
/// Tag of an authority (the FMH `sender` of votes, receipts, query replies and errors).
pub type AuthorityTag = Tag;
/// Whatever sent a datagram: the FMH header's `sender` field.
pub type SenderTag = Tag;

impl Tag {
    /// The tag of a public key: first 8 bytes of its blake3 hash.
    pub fn of(key: &PublicKey) -> Tag {
        let h = blake3::hash(&key.0);
        let mut t = [0u8; TAG_LEN];
        t.copy_from_slice(&h.as_bytes()[..TAG_LEN]);
        Tag(t)
    }
    /// A tag derived from a name under a domain: the first 8 bytes of
    /// `Digest::of(domain, bytes)` (a controller's probe sender tag is
    /// `Tag::derive(DOMAIN_CONTROLLER_TAG, name)`).
    pub fn derive(domain: &'static str, bytes: &[u8]) -> Tag {
        let d = Digest::of(domain, bytes);
        let mut t = [0u8; TAG_LEN];
        t.copy_from_slice(&d.0[..TAG_LEN]);
        Tag(t)
    }
    /// The tag as a big-endian integer (as a P4 table would see it).
    pub fn to_u64(self) -> u64 {
        u64::from_be_bytes(self.0)
    }
    /// The tag from a big-endian integer.
    pub fn from_u64(v: u64) -> Tag {
        Tag(v.to_be_bytes())
    }
    /// Lowercase hex, 16 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// Parses 16 hex characters.
    pub fn from_hex(s: &str) -> Result<Tag, KeyError> {
        decode_hex_array(s).map(Tag)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({})", self.to_hex())
    }
}
impl FromStr for Tag {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        Tag::from_hex(s)
    }
}

/// An ed25519 public key as its 32 encoded bytes; an account or authority identity.
///
/// The bytes are kept as received (so equality, hashing and digests never depend on a
/// re-encoding); [`PublicKey::verifying_key`] decompresses and validates the point on demand.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; PUBLIC_KEY_LEN]);

impl PublicKey {
    /// Wraps raw bytes (not validated; see [`PublicKey::validate`]).
    pub const fn from_bytes(bytes: [u8; PUBLIC_KEY_LEN]) -> PublicKey {
        PublicKey(bytes)
    }
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.0
    }
    /// The tag: first 8 bytes of blake3 of the key.
    pub fn tag(&self) -> Tag {
        Tag::of(self)
    }
    /// Decompresses the point; fails if the bytes are not a valid ed25519 public key.
    /// Decompressed keys are cached per thread (see the `key_cache` module).
    pub fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        crate::key_cache::verifying_key(&self.0, VerifyingKey::from_bytes)
            .map_err(|_| KeyError::InvalidPublicKey)
    }
    /// Checks that the bytes are a valid, non-weak public key.
    pub fn validate(&self) -> Result<(), KeyError> {
        let vk = self.verifying_key()?;
        if vk.is_weak() {
            return Err(KeyError::InvalidPublicKey);
        }
        Ok(())
    }
    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// Parses 64 hex characters and validates the point.
    pub fn from_hex(s: &str) -> Result<PublicKey, KeyError> {
        let pk = PublicKey(decode_hex_array(s)?);
        pk.validate()?;
        Ok(pk)
    }
    /// Verifies `signature` over a domain-separated `digest` with this key (strict ed25519).
    pub fn verify_digest(&self, digest: &Digest, signature: &Signature) -> Result<(), KeyError> {
        let vk = self.verifying_key()?;
        vk.verify_strict(&digest.0, &signature.to_dalek())
            .map_err(|_| KeyError::BadSignature)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}
impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        PublicKey::from_hex(s)
    }
}
impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}
impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PublicKey::from_hex(&s).map_err(serde::de::Error::custom)
    }
}
impl Serialize for Tag {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}
impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Tag::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// An ed25519 signature (64 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; SIGNATURE_LEN]);

impl Signature {
    /// The dalek signature type (a cheap copy).
    pub fn to_dalek(&self) -> ed25519_dalek::Signature {
        ed25519_dalek::Signature::from_bytes(&self.0)
    }
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// Parses 128 hex characters (not checked further: verification does that).
    pub fn from_hex(s: &str) -> Result<Signature, KeyError> {
        decode_hex_array(s).map(Signature)
    }
}
impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

/// An ed25519 signing key with its public key and tag precomputed.
#[derive(Clone)]
pub struct Keypair {
    signing: SigningKey,
    public: PublicKey,
    tag: Tag,
}

impl Keypair {
    /// Deterministic key pair from a 32-byte seed (the ed25519 secret key).
    pub fn from_seed(seed: &[u8; SECRET_KEY_LEN]) -> Keypair {
        let signing = SigningKey::from_bytes(seed);
        let public = PublicKey(signing.verifying_key().to_bytes());
        let tag = public.tag();
        Keypair {
            signing,
            public,
            tag,
        }
    }
    /// A fresh key pair from the operating system's random source.
    pub fn generate() -> Result<Keypair, KeyError> {
        let mut seed = [0u8; SECRET_KEY_LEN];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Keypair::from_seed(&seed))
    }
    /// The 32-byte secret seed (for key files).
    pub fn secret_bytes(&self) -> [u8; SECRET_KEY_LEN] {
        self.signing.to_bytes()
    }
    /// The secret seed as lowercase hex (the key file format).
    pub fn to_hex(&self) -> String {
        hex::encode(self.secret_bytes())
    }
    /// Parses a key file's content: 64 hex characters of secret seed (whitespace trimmed).
    pub fn from_hex(s: &str) -> Result<Keypair, KeyError> {
        Ok(Keypair::from_seed(&decode_hex_array(s)?))
    }
    /// The public key.
    pub fn public(&self) -> PublicKey {
        self.public
    }
    /// The tag of the public key.
    pub fn tag(&self) -> Tag {
        self.tag
    }
    /// Signs a domain-separated digest.
    pub fn sign_digest(&self, digest: &Digest) -> Signature {
        Signature(self.signing.sign(&digest.0).to_bytes())
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({})", self.public.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_is_deterministic_and_roundtrips_hex() {
        let a = Keypair::from_seed(&[7u8; 32]);
        let b = Keypair::from_hex(&a.to_hex()).unwrap();
        assert_eq!(a.public(), b.public());
        assert_eq!(a.tag(), b.tag());
        let pk = PublicKey::from_hex(&a.public().to_hex()).unwrap();
        assert_eq!(pk, a.public());
        assert_eq!(Tag::from_hex(&a.tag().to_hex()).unwrap(), a.tag());
        assert_eq!(Tag::from_u64(a.tag().to_u64()), a.tag());
    }

    #[test]
    fn tag_is_blake3_prefix() {
        let k = Keypair::from_seed(&[1u8; 32]);
        let h = blake3::hash(k.public().as_bytes());
        assert_eq!(&k.tag().0[..], &h.as_bytes()[..8]);
    }

    #[test]
    fn sign_and_verify() {
        let k = Keypair::from_seed(&[3u8; 32]);
        let d = Digest([9u8; 32]);
        let s = k.sign_digest(&d);
        assert!(k.public().verify_digest(&d, &s).is_ok());
        assert!(k.public().verify_digest(&Digest([8u8; 32]), &s).is_err());
        let other = Keypair::from_seed(&[4u8; 32]);
        assert!(other.public().verify_digest(&d, &s).is_err());
    }

    #[test]
    fn tag_derivation_and_signature_hex() {
        let t = Tag::derive(crate::digest::DOMAIN_CONTROLLER_TAG, b"m1");
        let d = Digest::of(crate::digest::DOMAIN_CONTROLLER_TAG, b"m1");
        assert_eq!(&t.0[..], &d.0[..8]);
        assert_ne!(t, Tag::derive(crate::digest::DOMAIN_CONTROLLER_TAG, b"m2"));
        let k = Keypair::from_seed(&[5u8; 32]);
        let s = k.sign_digest(&d);
        assert_eq!(Signature::from_hex(&s.to_hex()).unwrap(), s);
        assert!(Signature::from_hex("00").is_err());
        assert_eq!(decode_hex_array::<2>(" 0a0B\n"), Ok([0x0a, 0x0b]));
    }

    #[test]
    fn bad_hex_is_an_error() {
        assert!(matches!(PublicKey::from_hex("zz"), Err(KeyError::Hex(_))));
        assert!(matches!(
            Tag::from_hex("0011"),
            Err(KeyError::Length {
                expected: 8,
                got: 2
            })
        ));
        assert!(Keypair::from_hex("00").is_err());
        let generated = Keypair::generate().unwrap();
        assert_ne!(generated.public(), Keypair::from_seed(&[0; 32]).public());
    }
}
