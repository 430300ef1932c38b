//! Operator keys: core's ed25519 [`Keypair`] held by operators, signing policy bodies; the
//! public keys an anchor pins are core's [`PublicKey`].

pub use flashmesh_core::keys::KeyError;
use flashmesh_core::keys::{Keypair, PublicKey};

use super::bundle::{OperatorSignature, PolicyBundle};
use super::digest::body_digest;

/// An operator's signing key (a core [`Keypair`]).
pub struct OperatorKey(Keypair);

impl std::fmt::Debug for OperatorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OperatorKey({})", self.public_hex())
    }
}

impl From<Keypair> for OperatorKey {
    fn from(k: Keypair) -> Self {
        Self(k)
    }
}

impl OperatorKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, KeyError> {
        Keypair::generate().map(Self)
    }

    /// The key from its 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(Keypair::from_seed(&seed))
    }

    /// The key from a hex seed.
    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        Keypair::from_hex(s).map(Self)
    }

    /// The seed as hex (secret).
    pub fn seed_hex(&self) -> String {
        self.0.to_hex()
    }

    /// The key pair.
    pub fn keypair(&self) -> &Keypair {
        &self.0
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        self.0.public()
    }

    /// The public key as hex.
    pub fn public_hex(&self) -> String {
        self.public().to_hex()
    }

    /// Signs a bundle's body, replacing an earlier signature by the same key.
    pub fn sign(&self, bundle: &mut PolicyBundle) {
        let sig = self.0.sign_digest(&body_digest(&bundle.body));
        let key = self.public_hex();
        bundle.signatures.retain(|s| s.key != key);
        bundle.signatures.push(OperatorSignature {
            key,
            signature: sig.to_hex(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_hex() {
        let k = OperatorKey::generate().unwrap();
        let k2 = OperatorKey::from_hex(&k.seed_hex()).unwrap();
        assert_eq!(k.public(), k2.public());
        assert_eq!(PublicKey::from_hex(&k.public_hex()).unwrap(), k.public());
        assert!(OperatorKey::from_hex("zz").is_err());
        assert!(PublicKey::from_hex("00").is_err());
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
