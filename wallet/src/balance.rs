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

fn tally(views: &[AuthorityView], quorum: u64) -> Option<(u64, u64)> {
    views
        .iter()
        .map(|v| (v.next_sequence, v.balance))
        .find(|key| {
            views
                .iter()
                .filter(|v| (v.next_sequence, v.balance) == *key)
                .map(|v| v.weight)
                .sum::<u64>()
                >= quorum
        })
}

/// Queries every authority about `account` and tallies the answers. Silent authorities are
/// asked again every `retry_interval`; the query ends when everyone answered, or when a quorum
/// agrees and one more interval has passed for stragglers, or at `timeout`.
pub async fn query_balance(
    client: &CommitteeClient,
    account: PublicKey,
    token: TokenId,
    epoch: u32,
    retry_interval: Duration,
    timeout: Duration,
) -> Result<BalanceReport, ClientError> {
    let request = flashmesh_core::host::clock::unix_nanos();
    let query = Query { account, request };
    let envelope = Envelope::query(query, epoch);
    let datagram = envelope
        .encode()
        .expect("a query always fits in a datagram");
    let n = client.endpoints().len();
    client.send_to_each(&datagram, 0..n).await;
    let started = Instant::now();
    let deadline = started + timeout;
    let mut next_retry = started + retry_interval;
    let mut retry: u8 = 0;
    let quorum = client.committee().quorum();
    let mut replies: Vec<Option<QueryReply>> = vec![None; n];
    let mut agreed_at: Option<Instant> = None;
    while replies.iter().any(Option::is_none) {
        let now = Instant::now();
        if now >= deadline || agreed_at.is_some_and(|t| now >= t + retry_interval) {
            break;
        }
        if now >= next_retry {
            retry = retry.saturating_add(1);
            let again = envelope
                .clone()
                .with_retry(retry)
                .encode()
                .expect("a query always fits in a datagram");
            let silent: Vec<usize> = (0..n).filter(|&i| replies[i].is_none()).collect();
            client.send_to_each(&again, silent).await;
            next_retry = now + retry_interval;
        }
        let wait_until = match agreed_at {
            Some(t) => (t + retry_interval).min(deadline),
            None => next_retry.min(deadline),
        };
        let Some(inc) = client.recv_until(wait_until).await? else {
            continue;
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
            if agreed_at.is_none() {
                let views = views_of(client, &replies, token);
                if tally(&views, quorum).is_some() {
                    agreed_at = Some(Instant::now());
                }
            }
        }
    }
    let views = views_of(client, &replies, token);
    let silent = replies
        .iter()
        .zip(client.endpoints())
        .filter(|(r, _)| r.is_none())
        .map(|(_, e)| e.name.clone())
        .collect();
    Ok(BalanceReport {
        token,
        agreed: tally(&views, quorum),
        views,
        silent,
    })
}

fn views_of(
    client: &CommitteeClient,
    replies: &[Option<QueryReply>],
    token: TokenId,
) -> Vec<AuthorityView> {
    replies
        .iter()
        .zip(client.endpoints())
        .filter_map(|(r, e)| {
            r.as_ref().map(|r| AuthorityView {
                authority: e.name.clone(),
                weight: e.weight,
                next_sequence: r.next_sequence,
                balance: r.balance(token),
                pending: r.pending,
            })
        })
        .collect()
}
