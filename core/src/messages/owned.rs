//! What every order an account's owner signs has in common, whatever its kind (transfer,
//! withdrawal, handoff): an owner, a nonce it locks, an epoch window, what it spends, and one signature
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
    /// Whether the owner's balances (`balance` of each token) cover what the order takes.
    fn check_funds(&self, balance: &dyn Fn(TokenId) -> u64) -> Result<(), Rejection>;
    /// Whether the order may lock an account that has moved to another committee (only a
    /// handoff may: it sweeps what was credited after the move).
    fn allowed_when_moved(&self) -> bool {
        false
    }
    /// The owner's signature.
    fn signature(&self) -> &Signature;
    /// Stateless validity of the order's fields (not the signature).
    fn check_valid(&self) -> Result<(), Rejection>;
}

/// The funds check of an order that takes `amount` of one `token`.
pub fn check_one(
    token: TokenId,
    amount: u64,
    balance: &dyn Fn(TokenId) -> u64,
) -> Result<(), Rejection> {
    let have = balance(token);
    if have < amount {
        return Err(Rejection::InsufficientFunds {
            token,
            balance: have,
            amount,
        });
    }
    Ok(())
}
