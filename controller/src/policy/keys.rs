//! Operator keys: ed25519 signing keys held by operators and the public keys an anchor pins.

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use thiserror::Error;

use super::bundle::{OperatorSignature, PolicyBundle};
use super::digest::body_digest;

/// A key that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// Not hex or wrong length.
    #[error("key is not {expected} bytes of hex")]
    Format {
        /// Expected byte length.
        expected: usize,
    },
    /// Not a valid curve point.
    #[error("public key is not a valid ed25519 point")]
    Point,
    /// The OS random source failed.
    #[error("no randomness available: {0}")]
    Random(String),
}

/// An operator's signing key.
pub struct OperatorKey(SigningKey);

impl std::fmt::Debug for OperatorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OperatorKey({})", self.public_hex())
    }
}

/// Decodes exactly `N` bytes of hex.
pub fn hex_array<const N: usize>(s: &str) -> Result<[u8; N], KeyError> {
    let v = hex::decode(s.trim()).map_err(|_| KeyError::Format { expected: N })?;
    v.try_into().map_err(|_| KeyError::Format { expected: N })
}

impl OperatorKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// The key from its 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// The key from a hex seed.
    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        Ok(Self::from_seed(hex_array::<32>(s)?))
    }

    /// The seed as hex (secret).
    pub fn seed_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    /// The public key.
    pub fn public(&self) -> VerifyingKey {
        self.0.verifying_key()
    }

    /// The public key as hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.public().to_bytes())
    }

    /// Signs a bundle's body, replacing an earlier signature by the same key.
    pub fn sign(&self, bundle: &mut PolicyBundle) {
        let digest = body_digest(&bundle.body);
        let sig = self.0.sign(&digest);
        let key = self.public_hex();
        bundle.signatures.retain(|s| s.key != key);
        bundle.signatures.push(OperatorSignature {
            key,
            signature: hex::encode(sig.to_bytes()),
        });
    }
}

/// Parses a pinned public key from hex.
pub fn public_from_hex(s: &str) -> Result<VerifyingKey, KeyError> {
    VerifyingKey::from_bytes(&hex_array::<32>(s)?).map_err(|_| KeyError::Point)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_hex() {
        let k = OperatorKey::generate().unwrap();
        let k2 = OperatorKey::from_hex(&k.seed_hex()).unwrap();
        assert_eq!(k.public(), k2.public());
        assert_eq!(public_from_hex(&k.public_hex()).unwrap(), k.public());
        assert!(OperatorKey::from_hex("zz").is_err());
        assert!(public_from_hex("00").is_err());
    }

    #[test]
    fn signing_twice_keeps_one_signature() {
        let k = OperatorKey::from_seed([7; 32]);
        let mut b = PolicyBundle::new(1, 10, Default::default());
        k.sign(&mut b);
        k.sign(&mut b);
        assert_eq!(b.signatures.len(), 1);
    }
}
