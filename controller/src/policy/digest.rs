//! The canonical encoding of a policy body, whose [`DOMAIN_POLICY`] digest (core's
//! [`Digest::of`]) is what operators sign. The encoding is fixed here field by field, so TOML
//! and JSON forms of the same body sign identically: big-endian integers of fixed width, the
//! note and the duplicate-filter types as a u32 length then the bytes, the class rules as a u32
//! count then three bytes each (`controller/tests/policy_freeze.rs` freezes the bytes).

use flashmesh_core::codec::Writer;
use flashmesh_core::digest::{DOMAIN_POLICY, Digest};

use super::bundle::PolicyBody;

/// A u32 length then the bytes.
fn put_len_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.put_u32(b.len() as u32);
    out.put_bytes(b);
}

/// Deterministic binary encoding of a body.
pub fn canonical_encoding(body: &PolicyBody) -> Vec<u8> {
    let s = &body.settings;
    let mut out = Vec::with_capacity(128);
    out.put_u64(body.version);
    out.put_u64(body.expires_at);
    put_len_bytes(&mut out, body.note.as_bytes());
    out.put_u32(s.classes.len() as u32);
    for r in &s.classes {
        out.put_u8(r.msg_type);
        out.put_u8(r.class);
        out.put_u8(r.priority);
    }
    out.put_u8(s.retry_allowance);
    out.put_u64(s.epoch_length_ms);
    out.put_u64(s.probe_interval_ms);
    out.put_u32(s.probe_miss_count);
    out.put_u64(s.penalty_secs);
    put_len_bytes(&mut out, &s.dedup_types);
    out
}

/// The digest operators sign: `Digest::of(DOMAIN_POLICY, canonical_encoding(body))`.
pub fn body_digest(body: &PolicyBody) -> Digest {
    Digest::of(DOMAIN_POLICY, &canonical_encoding(body))
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
        assert_ne!(plain.as_bytes(), &body_digest(&b).0);
    }
}
