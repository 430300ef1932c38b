//! What the gateway decides about a withdrawal certificate, apart from sockets and databases:
//! the certificate must be a quorum's under the committee; the ledger row it settles as is
//! keyed by the withdrawal *order's* digest (two certificates of one order with different signer
//! sets settle once); the settlement it answers with is signed by the gateway key.

use flashmesh_core::messages::{OwnedOrder, Settlement, WithdrawalCertificate};
use flashmesh_core::{Committee, Keypair, Rejection};

use crate::ledger;

/// Checks `certificate` against `committee` and gives the ledger row it settles as.
pub fn withdrawal_of(
    certificate: &WithdrawalCertificate,
    committee: &Committee,
) -> Result<ledger::Withdrawal, Rejection> {
    certificate.check(committee)?;
    let o = certificate.order.order();
    Ok(ledger::Withdrawal {
        certificate_digest: OwnedOrder::digest(&certificate.order).0,
        account: *o.account.as_bytes(),
        token: o.token,
        amount: o.amount,
        recipient: o.recipient.clone(),
        nonce: o.nonce,
    })
}

/// The signed answer for a settled withdrawal.
pub fn settlement_of(
    certificate: &WithdrawalCertificate,
    settled: &ledger::Settlement,
    key: &Keypair,
) -> Settlement {
    let o = certificate.order.order();
    Settlement {
        withdrawal: OwnedOrder::digest(&certificate.order),
        account: o.account,
        nonce: o.nonce,
        token: o.token,
        amount: o.amount,
        reference: settled.reference,
        settled_at_ms: settled.settled_at_ms,
        first: settled.first,
        gateway: key.public(),
        signature: flashmesh_core::keys::Signature([0; 64]),
    }
    .sign(key)
}
