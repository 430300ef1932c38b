//! Balance queries: ask every authority, keep the answer a quorum agrees on, flag the rest.

use std::time::{Duration, Instant};

use flashmesh_core::envelope::{Envelope, Message};
use flashmesh_core::keys::PublicKey;
use flashmesh_core::messages::{Query, QueryReply, SignedOrder, TokenId};

use crate::client::{ClientError, CommitteeClient};

/// One authority's view of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityView {
    /// The authority's name.
    pub authority: String,
    /// Its weight.
    pub weight: u64,
    /// The account's next sequence number there.
    pub next_sequence: u64,
    /// The balance of the queried token there.
    pub balance: u64,
    /// The order locked for the next sequence there, if any.
    pub pending: Option<SignedOrder>,
}

/// The result of asking the committee about an account.
#[derive(Debug, Clone)]
pub struct BalanceReport {
    /// The token asked about.
    pub token: TokenId,
    /// `(next_sequence, balance)` that a quorum of weight agrees on, if any.
    pub agreed: Option<(u64, u64)>,
    /// Every verified answer.
    pub views: Vec<AuthorityView>,
    /// Authorities that did not answer (or answered with an invalid signature).
    pub silent: Vec<String>,
}

impl BalanceReport {
    /// Answers that differ from the agreed one (all answers when there is no agreement).
    pub fn disagreeing(&self) -> Vec<&AuthorityView> {
        self.views
            .iter()
            .filter(|v| Some((v.next_sequence, v.balance)) != self.agreed)
            .collect()
    }
}

/// Queries every authority about `account` and tallies the answers.
pub async fn query_balance(
    client: &CommitteeClient,
    account: PublicKey,
    token: TokenId,
    epoch: u32,
    timeout: Duration,
) -> Result<BalanceReport, ClientError> {
    let request = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let query = Query { account, request };
    let datagram = Envelope::query(query, epoch)
        .encode()
        .expect("a query always fits in a datagram");
    let n = client.endpoints().len();
    client.send_to_each(&datagram, 0..n).await;
    let deadline = Instant::now() + timeout;
    let mut replies: Vec<Option<QueryReply>> = vec![None; n];
    while replies.iter().any(Option::is_none) {
        let Some(inc) = client.recv_until(deadline).await? else {
            break;
        };
        let Message::QueryReply(r) = inc.envelope.message else {
            continue;
        };
        if r.request != request || r.account != account {
            continue;
        }
        let Some(i) = client.endpoint_by_tag(&r.authority) else {
            continue;
        };
        if replies[i].is_none() && r.verify(client.committee()).is_ok() {
            replies[i] = Some(r);
        }
    }
    let quorum = client.committee().quorum();
    let mut views = Vec::new();
    let mut silent = Vec::new();
    for (r, e) in replies.into_iter().zip(client.endpoints()) {
        match r {
            Some(r) => views.push(AuthorityView {
                authority: e.name.clone(),
                weight: e.weight,
                next_sequence: r.next_sequence,
                balance: r.balance(token),
                pending: r.pending,
            }),
            None => silent.push(e.name.clone()),
        }
    }
    let agreed = views
        .iter()
        .map(|v| (v.next_sequence, v.balance))
        .find(|key| {
            views
                .iter()
                .filter(|v| (v.next_sequence, v.balance) == *key)
                .map(|v| v.weight)
                .sum::<u64>()
                >= quorum
        });
    Ok(BalanceReport {
        token,
        agreed,
        views,
        silent,
    })
}
