//! The payee's side: receive CERTIFICATE datagrams addressed to this account and accept only
//! those that verify against the committee. A merchant releases goods on such a certificate.

use std::time::Instant;

use flashmesh_core::authority::{SignatureCheck, VerifyDirectly};
use flashmesh_core::{Certificate, Committee, Envelope, Message, PublicKey};

use crate::client::{ClientError, CommitteeClient};

/// A verified payment to this account.
#[derive(Debug, Clone)]
pub struct Received {
    /// The certificate.
    pub certificate: Certificate,
    /// Who paid.
    pub payer: PublicKey,
    /// Token and amount.
    pub token: u32,
    /// Amount received.
    pub amount: u64,
}

/// Why a certificate was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// It pays someone else.
    NotForUs,
    /// It does not verify against the committee (signatures, quorum, signers).
    Invalid(String),
}

/// Checks a certificate as the payee: it must pay `account` and verify against the committee.
pub fn accept(
    client: &CommitteeClient,
    account: &PublicKey,
    certificate: Certificate,
) -> Result<Received, Refused> {
    accept_under(client.committee(), account, certificate)
}

/// [`accept`] against `committee` itself (no client).
pub fn accept_under(
    committee: &Committee,
    account: &PublicKey,
    certificate: Certificate,
) -> Result<Received, Refused> {
    accept_with(committee, account, certificate, &mut VerifyDirectly)
}

/// [`accept_under`] with the signatures checked by `check` (what [`Certificate::verify`]
/// would answer; the simulator shares one answer per certificate among the payee and the
/// authorities of a committee).
pub fn accept_with(
    committee: &Committee,
    account: &PublicKey,
    certificate: Certificate,
    check: &mut impl SignatureCheck,
) -> Result<Received, Refused> {
    let o = *certificate.order.order();
    if o.recipient != *account {
        return Err(Refused::NotForUs);
    }
    let verified = check
        .certificate(certificate, committee)
        .map_err(|e| Refused::Invalid(e.to_string()))?;
    Ok(Received {
        certificate: verified.into_inner(),
        payer: o.sender,
        token: o.token,
        amount: o.amount,
    })
}

/// Waits until `deadline` for the next valid certificate paying `account`; invalid ones and
/// other datagrams are skipped (and logged).
pub async fn next_payment(
    client: &CommitteeClient,
    account: &PublicKey,
    deadline: Instant,
) -> Result<Option<Received>, ClientError> {
    while let Some(inc) = client.recv_until(deadline).await? {
        let Envelope {
            message: Message::Certificate(c),
            ..
        } = inc.envelope
        else {
            continue;
        };
        match accept(client, account, c) {
            Ok(r) => return Ok(Some(r)),
            Err(why) => tracing::info!(from = %inc.from, ?why, "certificate not accepted"),
        }
    }
    Ok(None)
}
