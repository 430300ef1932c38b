//! The canonical encoding of a policy body and its domain-separated blake3 digest, which is what
//! operators sign. The encoding is fixed here field by field, so TOML and JSON forms of the same
//! body sign identically.

use super::bundle::PolicyBody;

/// blake3 key-derivation context that separates policy digests from every other signed thing.
pub const POLICY_DOMAIN: &str = "flashmesh 2026-11 policy bundle body v1";

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

/// Deterministic binary encoding of a body.
pub fn canonical_encoding(body: &PolicyBody) -> Vec<u8> {
    let s = &body.settings;
    let mut out = Vec::with_capacity(128);
    put_u64(&mut out, body.version);
    put_u64(&mut out, body.expires_at);
    put_bytes(&mut out, body.note.as_bytes());
    out.extend_from_slice(&(s.classes.len() as u32).to_be_bytes());
    for r in &s.classes {
        out.extend_from_slice(&[r.msg_type, r.class, r.priority]);
    }
    out.push(s.retry_allowance);
    put_u64(&mut out, s.epoch_length_ms);
    put_u64(&mut out, s.probe_interval_ms);
    out.extend_from_slice(&s.probe_miss_count.to_be_bytes());
    put_u64(&mut out, s.penalty_secs);
    put_bytes(&mut out, &s.dedup_types);
    out
}

/// The 32-byte digest operators sign.
pub fn body_digest(body: &PolicyBody) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key(POLICY_DOMAIN);
    h.update(&canonical_encoding(body));
    *h.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::bundle::{PolicyBundle, PolicySettings};

    #[test]
    fn every_field_changes_the_digest() {
        let b = PolicyBundle::new(1, 100, PolicySettings::default()).body;
        let d = body_digest(&b);
        let mut variants = Vec::new();
        let mut v = b.clone();
        v.version = 2;
        variants.push(v);
        let mut v = b.clone();
        v.expires_at = 101;
        variants.push(v);
        let mut v = b.clone();
        v.note = "x".into();
        variants.push(v);
        let mut v = b.clone();
        v.settings.classes[0].priority = 6;
        variants.push(v);
        let mut v = b.clone();
        v.settings.retry_allowance = 9;
        variants.push(v);
        let mut v = b.clone();
        v.settings.epoch_length_ms += 1;
        variants.push(v);
        let mut v = b.clone();
        v.settings.probe_interval_ms += 1;
        variants.push(v);
        let mut v = b.clone();
        v.settings.probe_miss_count += 1;
        variants.push(v);
        let mut v = b.clone();
        v.settings.penalty_secs += 1;
        variants.push(v);
        let mut v = b.clone();
        v.settings.dedup_types.push(2);
        variants.push(v);
        for v in variants {
            assert_ne!(body_digest(&v), d, "{v:?}");
        }
        assert_eq!(body_digest(&b.clone()), d);
    }

    #[test]
    fn digest_is_domain_separated() {
        let b = PolicyBundle::new(1, 100, PolicySettings::default()).body;
        let plain = blake3::hash(&canonical_encoding(&b));
        assert_ne!(plain.as_bytes(), &body_digest(&b));
    }
}
