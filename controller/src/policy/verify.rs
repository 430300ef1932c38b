//! Verification of a policy bundle against pinned operator keys, a threshold, the version in force
//! and the current time. Every refusal is its own variant with a message that says which.

use std::collections::BTreeSet;

use flashmesh_core::keys::{PublicKey, Signature, decode_hex_array};
use serde::Serialize;
use thiserror::Error;

use super::bundle::{PolicyBundle, SettingsError};
use super::digest::body_digest;
use super::keys::KeyError;

/// Why a bundle was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyRefusal {
    /// No signatures at all.
    #[error("refused: bundle is unsigned")]
    Unsigned,
    /// A signature by a key the anchor does not pin.
    #[error("refused: unknown signer {key}")]
    UnknownSigner {
        /// The signer's key, hex.
        key: String,
    },
    /// A signature that does not verify over the body digest (the body or signature was changed).
    #[error("refused: tampered bundle: signature by {key} does not match the body")]
    Tampered {
        /// The signer's key, hex.
        key: String,
    },
    /// Fewer distinct pinned signers than the threshold.
    #[error("refused: below threshold: {have} valid operator signature(s), {need} required")]
    BelowThreshold {
        /// Distinct valid signers.
        have: usize,
        /// The threshold.
        need: usize,
    },
    /// Version not above the one in force.
    #[error(
        "refused: replayed bundle: version {version} is not above the current version {current}"
    )]
    Replayed {
        /// The bundle's version.
        version: u64,
        /// The version in force.
        current: u64,
    },
    /// Past its expiry.
    #[error("refused: expired bundle: expired at {expires_at}, now is {now}")]
    Expired {
        /// The bundle's expiry, unix seconds.
        expires_at: u64,
        /// The verifier's clock, unix seconds.
        now: u64,
    },
    /// A key or signature field that is not well-formed hex of the right length.
    #[error("refused: malformed signature entry: {0}")]
    Malformed(String),
    /// Settings out of range.
    #[error("refused: invalid settings: {0}")]
    Invalid(#[from] SettingsError),
}

impl PolicyRefusal {
    /// A short stable name for counters and the audit log.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unsigned => "unsigned",
            Self::UnknownSigner { .. } => "unknown_signer",
            Self::Tampered { .. } => "tampered",
            Self::BelowThreshold { .. } => "below_threshold",
            Self::Replayed { .. } => "replayed",
            Self::Expired { .. } => "expired",
            Self::Malformed(_) => "malformed",
            Self::Invalid(_) => "invalid",
        }
    }

    /// All kinds, for zero-initialised counters.
    pub const KINDS: [&'static str; 8] = [
        "unsigned",
        "unknown_signer",
        "tampered",
        "below_threshold",
        "replayed",
        "expired",
        "malformed",
        "invalid",
    ];
}

/// A bundle that passed verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedPolicy {
    /// The bundle.
    pub bundle: PolicyBundle,
    /// Its body digest, hex.
    pub digest: String,
    /// The valid pinned signers, hex.
    pub signers: Vec<String>,
}

/// The pinned operator keys and the threshold.
#[derive(Debug, Clone)]
pub struct PolicyVerifier {
    pinned: Vec<PublicKey>,
    threshold: usize,
}

impl PolicyVerifier {
    /// A verifier for `pinned` keys needing `threshold` (at least 1) distinct signers.
    pub fn new(pinned: Vec<PublicKey>, threshold: usize) -> Self {
        Self {
            pinned,
            threshold: threshold.max(1),
        }
    }

    /// A verifier from hex public keys.
    pub fn from_hex(pinned: &[String], threshold: usize) -> Result<Self, KeyError> {
        let keys = pinned
            .iter()
            .map(|k| PublicKey::from_hex(k))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(keys, threshold))
    }

    /// The threshold.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// Checks `bundle` against the pinned keys, `current_version` (None when no policy is in
    /// force yet) and `now` (unix seconds).
    pub fn verify(
        &self,
        bundle: &PolicyBundle,
        current_version: Option<u64>,
        now: u64,
    ) -> Result<VerifiedPolicy, PolicyRefusal> {
        if bundle.signatures.is_empty() {
            return Err(PolicyRefusal::Unsigned);
        }
        let digest = body_digest(&bundle.body);
        let mut signers = BTreeSet::new();
        for s in &bundle.signatures {
            let key_bytes = decode_hex_array::<32>(&s.key)
                .map_err(|_| PolicyRefusal::Malformed(format!("key {:?}", s.key)))?;
            let key = self
                .pinned
                .iter()
                .find(|k| *k.as_bytes() == key_bytes)
                .ok_or_else(|| PolicyRefusal::UnknownSigner {
                    key: s.key.to_lowercase(),
                })?;
            let sig = Signature::from_hex(&s.signature)
                .map_err(|_| PolicyRefusal::Malformed(format!("signature by {}", s.key)))?;
            key.verify_digest(&digest, &sig)
                .map_err(|_| PolicyRefusal::Tampered {
                    key: s.key.to_lowercase(),
                })?;
            signers.insert(hex::encode(key_bytes));
        }
        if signers.len() < self.threshold {
            return Err(PolicyRefusal::BelowThreshold {
                have: signers.len(),
                need: self.threshold,
            });
        }
        if now >= bundle.body.expires_at {
            return Err(PolicyRefusal::Expired {
                expires_at: bundle.body.expires_at,
                now,
            });
        }
        if let Some(current) = current_version
            && bundle.body.version <= current
        {
            return Err(PolicyRefusal::Replayed {
                version: bundle.body.version,
                current,
            });
        }
        bundle.body.settings.validate()?;
        Ok(VerifiedPolicy {
            bundle: bundle.clone(),
            digest: digest.to_hex(),
            signers: signers.into_iter().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::bundle::{OperatorSignature, PolicySettings};
    use crate::policy::keys::OperatorKey;

    const NOW: u64 = 1_800_000_000;

    struct Fixture {
        ops: Vec<OperatorKey>,
        verifier: PolicyVerifier,
    }

    fn fixture() -> Fixture {
        let ops: Vec<OperatorKey> = (1..=3).map(|i| OperatorKey::from_seed([i; 32])).collect();
        let verifier = PolicyVerifier::new(ops.iter().map(|k| k.public()).collect(), 2);
        Fixture { ops, verifier }
    }

    fn bundle(version: u64) -> PolicyBundle {
        PolicyBundle::new(version, NOW + 3600, PolicySettings::default())
    }

    #[test]
    fn two_of_three_is_accepted() {
        let f = fixture();
        let mut b = bundle(5);
        f.ops[0].sign(&mut b);
        f.ops[2].sign(&mut b);
        let v = f.verifier.verify(&b, Some(4), NOW).unwrap();
        assert_eq!(v.signers.len(), 2);
        // survives a trip through TOML and JSON
        let t = PolicyBundle::from_toml(&b.to_toml()).unwrap();
        assert!(f.verifier.verify(&t, None, NOW).is_ok());
        let j = PolicyBundle::from_json(&b.to_json()).unwrap();
        assert!(f.verifier.verify(&j, None, NOW).is_ok());
    }

    #[test]
    fn refusal_matrix() {
        let f = fixture();
        let stranger = OperatorKey::from_seed([9; 32]);

        let b = bundle(5);
        let r = f.verifier.verify(&b, None, NOW).unwrap_err();
        assert_eq!(r, PolicyRefusal::Unsigned);
        assert!(r.to_string().contains("unsigned"));

        let mut b = bundle(5);
        f.ops[0].sign(&mut b);
        let r = f.verifier.verify(&b, None, NOW).unwrap_err();
        assert_eq!(r, PolicyRefusal::BelowThreshold { have: 1, need: 2 });
        assert!(r.to_string().contains("below threshold"));

        // the same operator twice still counts once
        let mut b2 = b.clone();
        b2.signatures.push(b.signatures[0].clone());
        assert_eq!(
            f.verifier.verify(&b2, None, NOW).unwrap_err().kind(),
            "below_threshold"
        );

        let mut b = bundle(5);
        f.ops[0].sign(&mut b);
        stranger.sign(&mut b);
        let r = f.verifier.verify(&b, None, NOW).unwrap_err();
        assert_eq!(r.kind(), "unknown_signer");
        assert!(r.to_string().contains(&stranger.public_hex()));

        let mut b = bundle(5);
        f.ops[0].sign(&mut b);
        f.ops[1].sign(&mut b);
        b.body.settings.retry_allowance = 50; // changed after signing
        let r = f.verifier.verify(&b, None, NOW).unwrap_err();
        assert_eq!(r.kind(), "tampered");
        assert!(r.to_string().contains("tampered"));

        let mut b = bundle(5);
        f.ops[0].sign(&mut b);
        f.ops[1].sign(&mut b);
        let r = f.verifier.verify(&b, Some(5), NOW).unwrap_err();
        assert_eq!(
            r,
            PolicyRefusal::Replayed {
                version: 5,
                current: 5
            }
        );
        assert!(r.to_string().contains("replayed"));
        assert_eq!(
            f.verifier.verify(&b, Some(7), NOW).unwrap_err().kind(),
            "replayed"
        );

        let r = f.verifier.verify(&b, Some(4), NOW + 3600).unwrap_err();
        assert_eq!(r.kind(), "expired");
        assert!(r.to_string().contains("expired"));

        let mut b = bundle(5);
        f.ops[0].sign(&mut b);
        b.signatures.push(OperatorSignature {
            key: "nothex".into(),
            signature: "00".into(),
        });
        assert_eq!(
            f.verifier.verify(&b, None, NOW).unwrap_err().kind(),
            "malformed"
        );

        let mut b = bundle(5);
        b.body.settings.epoch_length_ms = 0;
        f.ops[0].sign(&mut b);
        f.ops[1].sign(&mut b);
        assert_eq!(
            f.verifier.verify(&b, None, NOW).unwrap_err().kind(),
            "invalid"
        );
    }

    #[test]
    fn a_signature_moved_to_another_key_is_tampered() {
        let f = fixture();
        let mut b = bundle(5);
        f.ops[0].sign(&mut b);
        f.ops[1].sign(&mut b);
        b.signatures[1].signature = b.signatures[0].signature.clone();
        assert_eq!(
            f.verifier.verify(&b, None, NOW).unwrap_err().kind(),
            "tampered"
        );
    }
}
