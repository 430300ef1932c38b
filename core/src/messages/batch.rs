//! Checking the signatures of many replies at once (the votes or receipts a wallet gathers):
//! one ed25519 batch verification for all of them, and single checks only when the batch
//! fails, to find which ones are bad. A bad signature is refused alone; the good ones beside it
//! still count.

use ed25519_dalek::VerifyingKey;

use crate::committee::Committee;
use crate::digest::Digest;
use crate::error::Rejection;
use crate::keys::{AuthorityTag, Signature};

/// One signature to check: who signed, what digest, the signature.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignedDigest {
    pub signer: AuthorityTag,
    pub digest: Digest,
    pub signature: Signature,
}

/// A message signed by one authority.
pub(crate) trait SignedByAuthority {
    /// Its signer, signed digest and signature.
    fn signed_digest(&self) -> SignedDigest;
}

/// The verdict for each of `messages`, in order, under `committee`.
pub(crate) fn verify_each<T: SignedByAuthority>(
    messages: &[T],
    committee: &Committee,
) -> Vec<Result<(), Rejection>> {
    let items: Vec<SignedDigest> = messages.iter().map(T::signed_digest).collect();
    check_each(&items, committee)
}

/// The verdict for each item of `items`, in order, under `committee`.
fn check_each(items: &[SignedDigest], committee: &Committee) -> Vec<Result<(), Rejection>> {
    let keys: Vec<Option<VerifyingKey>> = items
        .iter()
        .map(|s| committee.member(&s.signer).map(|m| *m.verifying_key()))
        .collect();
    let known: Vec<usize> = (0..items.len()).filter(|&i| keys[i].is_some()).collect();
    let batch_ok = match known.len() {
        0 => true,
        _ => {
            let msgs: Vec<&[u8]> = known.iter().map(|&i| &items[i].digest.0[..]).collect();
            let sigs: Vec<_> = known
                .iter()
                .map(|&i| items[i].signature.to_dalek())
                .collect();
            let vks: Vec<VerifyingKey> = known.iter().filter_map(|&i| keys[i]).collect();
            ed25519_dalek::verify_batch(&msgs, &sigs, &vks).is_ok()
        }
    };
    items
        .iter()
        .zip(&keys)
        .map(|(s, key)| match key {
            None => Err(Rejection::UnknownSigner(s.signer)),
            Some(_) if batch_ok => Ok(()),
            Some(vk) => vk
                .verify_strict(&s.digest.0, &s.signature.to_dalek())
                .map_err(|_| Rejection::BadSignature),
        })
        .collect()
}
