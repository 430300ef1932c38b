//! What every order an account's owner signs has in common, whatever its kind (transfer,
//! withdrawal): an owner, a nonce it locks, an epoch window, what it spends, and one signature
//! over a domain-separated digest. Certificates, quorum collection and the authority's lock are
//! written once over this trait.

use crate::codec::{Decode, Encode};
use crate::digest::Digest;
use crate::error::Rejection;
use crate::keys::{PublicKey, Signature};
use crate::messages::TokenId;

/// An order signed by the owner of the account it spends from.
pub trait OwnedOrder: Clone + Encode + Decode + PartialEq + Eq + std::fmt::Debug {
    /// Domain of the digest of a certificate on this kind of order.
    const CERTIFICATE_DOMAIN: &'static str;
    /// The digest the owner signed (what votes and receipts refer to).
    fn digest(&self) -> Digest;
    /// The account the order spends from.
    fn owner(&self) -> &PublicKey;
    /// The account's sequence number the order locks.
    fn nonce(&self) -> u64;
    /// Epoch and ttl of the order's validity window.
    fn window(&self) -> (u32, u8);
    /// The token and amount the order takes from the owner's balance.
    fn spends(&self) -> (TokenId, u64);
    /// The owner's signature.
    fn signature(&self) -> &Signature;
    /// Stateless validity of the order's fields (not the signature).
    fn check_valid(&self) -> Result<(), Rejection>;
}
