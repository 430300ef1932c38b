//! A per-thread cache of decompressed public keys.
//!
//! Checking an order decompresses its sender's and recipient's keys (a square root in the
//! field each, about a quarter of a signature check), and the same few accounts pay again and
//! again. The cache is direct-mapped: a key's first bytes pick its slot and a newer key evicts
//! the older, so it is bounded (`SLOTS` entries per thread that checks signatures) and needs no
//! lock. Only valid keys are kept; an invalid one is decompressed (and refused) each time.

use std::cell::RefCell;

use ed25519_dalek::VerifyingKey;

use crate::keys::PUBLIC_KEY_LEN;

/// Slots per thread (a power of two).
const SLOTS: usize = 8192;

type Slot = Option<([u8; PUBLIC_KEY_LEN], VerifyingKey)>;

thread_local! {
    static CACHE: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}

fn slot_of(bytes: &[u8; PUBLIC_KEY_LEN]) -> usize {
    usize::from(u16::from_le_bytes([bytes[0], bytes[1]])) & (SLOTS - 1)
}

/// The decompressed key for `bytes`, from the cache or by `decompress` (then kept if valid).
pub(crate) fn verifying_key<E>(
    bytes: &[u8; PUBLIC_KEY_LEN],
    decompress: impl FnOnce(&[u8; PUBLIC_KEY_LEN]) -> Result<VerifyingKey, E>,
) -> Result<VerifyingKey, E> {
    let i = slot_of(bytes);
    let hit = CACHE.with(|c| {
        c.borrow()
            .get(i)
            .and_then(|s| s.as_ref())
            .filter(|(k, _)| k == bytes)
            .map(|(_, vk)| *vk)
    });
    if let Some(vk) = hit {
        return Ok(vk);
    }
    let vk = decompress(bytes)?;
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_empty() {
            c.resize(SLOTS, None);
        }
        c[i] = Some((*bytes, vk));
    });
    Ok(vk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;

    #[test]
    fn a_cached_key_is_the_same_key() {
        let kp = Keypair::generate().unwrap();
        let bytes = *kp.public().as_bytes();
        let mut calls = 0;
        let mut get = || {
            verifying_key(&bytes, |b| {
                calls += 1;
                VerifyingKey::from_bytes(b)
            })
            .unwrap()
        };
        let (a, b) = (get(), get());
        assert_eq!(a, b);
        assert_eq!(a.to_bytes(), bytes);
        assert_eq!(calls, 1, "the second lookup is a hit");
    }

    #[test]
    fn a_colliding_key_evicts_and_is_never_confused() {
        let a = *Keypair::generate().unwrap().public().as_bytes();
        // the negated point: the same bytes but the sign bit, so the same slot
        let mut b = a;
        b[31] ^= 0x80;
        assert_eq!(slot_of(&a), slot_of(&b));
        for k in [a, b, a, b] {
            let got = verifying_key(&k, VerifyingKey::from_bytes).unwrap();
            assert_eq!(got.to_bytes(), k);
        }
    }

    #[test]
    fn an_invalid_key_is_refused_every_time_and_not_kept() {
        // the first small y that is not on the curve
        let bad = (2u8..=255)
            .map(|y| {
                let mut b = [0u8; PUBLIC_KEY_LEN];
                b[0] = y;
                b
            })
            .find(|b| VerifyingKey::from_bytes(b).is_err())
            .expect("an invalid encoding");
        for _ in 0..2 {
            assert!(verifying_key(&bad, VerifyingKey::from_bytes).is_err());
        }
        let i = slot_of(&bad);
        CACHE.with(|c| {
            let c = c.borrow();
            assert!(
                c.get(i)
                    .and_then(|s| s.as_ref())
                    .is_none_or(|(k, _)| *k != bad)
            );
        });
    }
}
