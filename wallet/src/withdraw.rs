//! Withdrawal, seen from the owner: WITHDRAWAL to every authority, votes to a quorum (a
//! withdrawal certificate), the certificate to every authority until a quorum of receipts says
//! the account is debited, then the certificate to the gateway until it answers with its signed
//! SETTLEMENT. Each phase retransmits to the silent every retry interval until its deadline.
//!
//! The certificate is what the gateway pays on, so it is the owner's proof: a repeated
//! submission (after a crash, a lost reply, a replay by anyone) settles once and returns the
//! first settlement.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use flashmesh_core::envelope::{Envelope, Message};
use flashmesh_core::error::ErrorCode;
use flashmesh_core::messages::{
    OwnedOrder, QuorumCollector, Settlement, SignedWithdrawal, WithdrawalCertificate,
};
use flashmesh_core::{Committee, GatewayInfo};

use crate::client::{ClientError, CommitteeClient};
use crate::pay::{PayError, PayOptions, Refusal};
use crate::wallet::{Wallet, WalletError};

/// Why a withdrawal did not finish.
#[derive(Debug, thiserror::Error)]
pub enum WithdrawError {
    /// The authorities did not certify or confirm it.
    #[error(transparent)]
    Committee(#[from] PayError),
    /// The gateway refused the certificate.
    #[error("gateway refused: {code} ({detail})")]
    GatewayRefused { code: ErrorCode, detail: String },
    /// The gateway did not answer in time.
    #[error("gateway {0} did not answer in time")]
    GatewayTimeout(String),
    /// The gateway's address does not parse.
    #[error("gateway address {0:?} is not host:port")]
    GatewayAddress(String),
    /// The network failed.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// What one phase heard from an authority.
pub(crate) enum Verdict {
    Counted,
    Refused(Refusal),
    /// "Not now" (overloaded, no quorum in sight): noted, and the authority is asked again.
    Later(Refusal),
    Ignored,
}

/// Sends `datagram` to the authorities not yet answered, every retry interval, feeding replies
/// to `judge` until the counted weight reaches the quorum, the refused weight makes it
/// unreachable, or the phase times out.
pub(crate) async fn gather(
    client: &CommitteeClient,
    datagram: &[u8],
    opts: &PayOptions,
    phase: &'static str,
    mut judge: impl FnMut(usize, &Message) -> Verdict,
) -> Result<Vec<Refusal>, PayError> {
    let committee: &Committee = client.committee();
    let n = committee.len();
    let started = Instant::now();
    let deadline = started + opts.phase_timeout;
    let mut answered = vec![false; n];
    // authorities that said "not now": they hold no lock for this request either
    let mut later = vec![false; n];
    let mut voted = vec![false; n];
    let (mut counted, mut refused) = (0u64, 0u64);
    let mut refusals = Vec::new();
    let mut next_send = started;
    let mut give_up: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if give_up.is_some_and(|g| now >= g) {
            // out of reach; "by all" when every authority refused or said "not now"
            let by_all = (0..n).all(|i| !voted[i] && (answered[i] || later[i]));
            return Err(PayError::Refused { by_all, refusals });
        }
        if now >= deadline {
            return Err(PayError::Timeout {
                phase,
                weight: counted,
                quorum: committee.quorum(),
                refusals,
            });
        }
        if now >= next_send {
            let to: Vec<usize> = (0..n).filter(|i| !answered[*i]).collect();
            client.send_to_each(datagram, to).await;
            next_send = now + opts.retry_interval;
        }
        let wake = give_up.map_or(next_send.min(deadline), |g| g.min(next_send).min(deadline));
        let Some(inc) = client.recv_until(wake).await? else {
            continue;
        };
        let Some(i) = client.endpoint_by_addr(inc.from) else {
            continue;
        };
        if answered[i] {
            continue;
        }
        let weight = committee.members()[i].weight();
        match judge(i, &inc.envelope.message) {
            Verdict::Counted => {
                answered[i] = true;
                voted[i] = true;
                counted += weight;
                if counted >= committee.quorum() {
                    return Ok(refusals);
                }
            }
            Verdict::Refused(r) => {
                answered[i] = true;
                refused += weight;
                refusals.push(r);
                if refused == committee.total_weight() {
                    return Err(PayError::Refused {
                        by_all: true,
                        refusals,
                    });
                }
                if refused > committee.total_weight() - committee.quorum() && give_up.is_none() {
                    // Out of reach: wait a little for the rest, so that a refusal by everyone
                    // (nobody holds a lock) can be told from one by only some.
                    give_up = Some(Instant::now() + 2 * opts.retry_interval);
                }
            }
            Verdict::Later(r) => {
                later[i] = true;
                if !refusals
                    .iter()
                    .any(|o| o.authority == r.authority && o.code == r.code)
                {
                    refusals.push(r);
                }
            }
            Verdict::Ignored => {}
        }
    }
}

pub(crate) fn refusal(client: &CommitteeClient, i: usize, m: &Message, nonce: u64) -> Verdict {
    match m {
        Message::Error(e) if e.nonce == nonce => {
            let r = Refusal {
                authority: client.committee().members()[i].name().to_string(),
                code: e.code,
                detail: e.detail.clone(),
            };
            if e.code.is_transient() {
                Verdict::Later(r)
            } else {
                Verdict::Refused(r)
            }
        }
        _ => Verdict::Ignored,
    }
}

/// Sends `datagram` (the request for `order`, of any kind) until a quorum of the committee's
/// votes on it came back: its certificate.
pub(crate) async fn certify<O: OwnedOrder>(
    client: &CommitteeClient,
    order: &O,
    datagram: &[u8],
    opts: &PayOptions,
) -> Result<flashmesh_core::Certificate<O>, PayError> {
    let committee = client.committee().clone();
    let mut collector = QuorumCollector::new(order.clone(), &committee);
    let nonce = order.nonce();
    let digest = order.digest();
    gather(client, datagram, opts, "votes", |i, m| match m {
        Message::Vote(v)
            if v.order_digest == digest && v.authority == committee.members()[i].tag() =>
        {
            match collector.add(v, &committee) {
                Ok(_) => Verdict::Counted,
                Err(_) => Verdict::Ignored,
            }
        }
        other => refusal(client, i, other, nonce),
    })
    .await?;
    collector
        .certificate()
        .ok_or_else(|| PayError::Encode("quorum reached without a certificate".into()))
}

/// Gathers a quorum of votes on `order`: the withdrawal certificate.
pub async fn certify_withdrawal(
    client: &CommitteeClient,
    order: &SignedWithdrawal,
    opts: &PayOptions,
) -> Result<WithdrawalCertificate, PayError> {
    let datagram = Envelope::withdrawal(order.clone())
        .encode()
        .map_err(|e| PayError::Encode(e.to_string()))?;
    certify(client, order, &datagram, opts).await
}

/// Sends `certificate` to every authority until a quorum of valid receipts says it is applied
/// (the account is debited everywhere that counts).
pub async fn confirm_withdrawal(
    client: &CommitteeClient,
    certificate: &WithdrawalCertificate,
    opts: &PayOptions,
) -> Result<Vec<Refusal>, PayError> {
    let datagram = Envelope::withdrawal_certificate(certificate.clone(), opts.epoch)
        .encode()
        .map_err(|e| PayError::Encode(e.to_string()))?;
    let digest = OwnedOrder::digest(&certificate.order);
    confirm_receipts(client, &datagram, digest, certificate.order.nonce(), opts).await
}

/// Sends `datagram` (a certificate of any kind, or a gateway's funding certificate) to every
/// authority until a quorum of valid receipts for (`digest`, `nonce`) came back.
pub async fn confirm_receipts(
    client: &CommitteeClient,
    datagram: &[u8],
    digest: flashmesh_core::digest::Digest,
    nonce: u64,
    opts: &PayOptions,
) -> Result<Vec<Refusal>, PayError> {
    let committee = client.committee().clone();
    gather(client, datagram, opts, "receipts", |i, m| match m {
        Message::Receipt(r)
            if r.order_digest == digest
                && r.nonce == nonce
                && r.authority == committee.members()[i].tag()
                && r.verify(&committee).is_ok() =>
        {
            Verdict::Counted
        }
        other => refusal(client, i, other, nonce),
    })
    .await
}

/// Sends `certificate` to `gateway` until it answers with a settlement signed by its pinned key
/// for this withdrawal, or refuses.
pub async fn settle_at_gateway(
    client: &CommitteeClient,
    certificate: &WithdrawalCertificate,
    gateway: &GatewayInfo,
    opts: &PayOptions,
) -> Result<Settlement, WithdrawError> {
    let addr: SocketAddr = gateway
        .address
        .parse()
        .map_err(|_| WithdrawError::GatewayAddress(gateway.address.clone()))?;
    let digest = OwnedOrder::digest(&certificate.order);
    let started = Instant::now();
    let deadline = started + opts.phase_timeout;
    let mut retry = 0u8;
    loop {
        if Instant::now() >= deadline {
            return Err(WithdrawError::GatewayTimeout(gateway.name.clone()));
        }
        let datagram = Envelope::withdrawal_certificate(certificate.clone(), opts.epoch)
            .with_retry(retry)
            .encode()
            .map_err(|e| PayError::Encode(e.to_string()))?;
        retry = retry.saturating_add(1);
        client.send_to_addr(&datagram, addr).await?;
        let wait_until = (Instant::now() + opts.retry_interval).min(deadline);
        while let Some(inc) = client.recv_until(wait_until).await? {
            if inc.from != addr {
                continue;
            }
            match inc.envelope.message {
                Message::Settlement(s)
                    if s.withdrawal == digest && s.check(&gateway.public_key).is_ok() =>
                {
                    return Ok(s);
                }
                Message::Error(e) if e.nonce == certificate.order.nonce() => {
                    return Err(WithdrawError::GatewayRefused {
                        code: e.code,
                        detail: e.detail,
                    });
                }
                _ => {}
            }
        }
    }
}

/// A finished withdrawal.
#[derive(Debug, Clone)]
pub struct Withdrawn {
    pub certificate: WithdrawalCertificate,
    pub settlement: Settlement,
    /// From the first WITHDRAWAL sent to the settlement.
    pub latency: Duration,
    /// Refusals seen on the way.
    pub refusals: Vec<Refusal>,
}

/// The whole withdrawal of an order the caller signed with a nonce it manages: certify,
/// confirm at the authorities, settle at the gateway. Authorities that already voted or applied
/// it answer the same, so calling this again for the same order is safe.
pub async fn withdraw_order(
    client: &CommitteeClient,
    order: &SignedWithdrawal,
    gateway: &GatewayInfo,
    opts: &PayOptions,
) -> Result<Withdrawn, WithdrawError> {
    let started = Instant::now();
    let certificate = certify_withdrawal(client, order, opts).await?;
    let refusals = confirm_withdrawal(client, &certificate, opts).await?;
    let settlement = settle_at_gateway(client, &certificate, gateway, opts).await?;
    Ok(Withdrawn {
        certificate,
        settlement,
        latency: started.elapsed(),
        refusals,
    })
}

/// The withdrawal in progress, kept in the wallet directory (`withdrawal.json`) from before the
/// first WITHDRAWAL is sent until the gateway's settlement arrives, so an interrupted run
/// finishes the same order (the certificate is kept as soon as it is assembled: once applied,
/// the authorities would not vote on its nonce again).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct PendingWithdrawal {
    order: String,
    certificate: Option<String>,
}

const PENDING_FILE: &str = "withdrawal.json";
const SETTLED_FILE: &str = "withdrawals.jsonl";

/// A settled withdrawal, a line of `withdrawals.jsonl`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SettledEntry {
    pub nonce: u64,
    pub token: u32,
    pub amount: u64,
    pub recipient: String,
    pub withdrawal: String,
    pub gateway: String,
    pub reference: u64,
    pub settled_at_ms: u64,
}

pub(crate) fn io_error(path: &std::path::Path, e: std::io::Error) -> WalletError {
    WalletError::Corrupt(format!("{}: {e}", path.display()))
}

pub(crate) fn write_durably(path: &std::path::Path, bytes: &[u8]) -> Result<(), WalletError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
    f.write_all(bytes).map_err(|e| io_error(&tmp, e))?;
    f.sync_all().map_err(|e| io_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))?;
    if let Some(d) = path.parent()
        && let Ok(d) = std::fs::File::open(d)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The JSON value kept in `path`, if the file exists.
pub(crate) fn load_json<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
) -> Result<Option<T>, WalletError> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| WalletError::Corrupt(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, e)),
    }
}

/// Replaces `path` with `value` as JSON, durably.
pub(crate) fn save_json<T: serde::Serialize>(
    path: &std::path::Path,
    value: &T,
) -> Result<(), WalletError> {
    let text = serde_json::to_vec_pretty(value).expect("wallet records serialise");
    write_durably(path, &text)
}

/// Appends `value` as one JSON line to `path`, durably.
pub(crate) fn append_json_line<T: serde::Serialize>(
    path: &std::path::Path,
    value: &T,
) -> Result<(), WalletError> {
    use std::io::Write;
    let line = serde_json::to_string(value).expect("wallet records serialise") + "\n";
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io_error(path, e))?;
    f.write_all(line.as_bytes())
        .map_err(|e| io_error(path, e))?;
    f.sync_all().map_err(|e| io_error(path, e))
}

fn load_pending(dir: &std::path::Path) -> Result<Option<PendingWithdrawal>, WalletError> {
    load_json(&dir.join(PENDING_FILE))
}

fn save_pending(dir: &std::path::Path, p: &PendingWithdrawal) -> Result<(), WalletError> {
    save_json(&dir.join(PENDING_FILE), p)
}

pub(crate) fn decode_hex<T: flashmesh_core::Decode>(
    what: &str,
    hex_text: &str,
) -> Result<T, WalletError> {
    let bytes = hex::decode(hex_text)
        .map_err(|e| WalletError::Corrupt(format!("pending withdrawal {what}: {e}")))?;
    T::from_bytes(&bytes)
        .map_err(|e| WalletError::Corrupt(format!("pending withdrawal {what}: {e}")))
}

/// Why [`Wallet::withdraw`] failed.
#[derive(Debug, thiserror::Error)]
pub enum WalletWithdrawError {
    #[error(transparent)]
    Wallet(#[from] WalletError),
    #[error(transparent)]
    Withdraw(#[from] WithdrawError),
    /// A transfer is pending; it must be finished (`wallet resume`) before a withdrawal.
    #[error("a payment (nonce {0}) is pending; finish it first with `wallet resume`")]
    PaymentPending(u64),
}

impl From<PayError> for WalletWithdrawError {
    fn from(e: PayError) -> Self {
        WalletWithdrawError::Withdraw(WithdrawError::Committee(e))
    }
}

impl Wallet {
    /// Withdraws `amount` of `token` to `recipient` on the primary ledger through `gateway`.
    /// A withdrawal left unfinished by an earlier run is finished first and returned instead
    /// (the same order, never a second one).
    pub async fn withdraw(
        &mut self,
        token: flashmesh_core::messages::TokenId,
        amount: u64,
        recipient: Vec<u8>,
        gateway: &GatewayInfo,
    ) -> Result<Withdrawn, WalletWithdrawError> {
        use flashmesh_core::Encode;
        use flashmesh_core::messages::WithdrawalOrder;
        let dir = self.dir().path().to_path_buf();
        let pending = match load_pending(&dir)? {
            Some(p) => p,
            None => {
                if let Some(p) = self.dir().load().map_err(WalletError::from)?.pending {
                    let order = p.order().map_err(WalletError::Corrupt)?;
                    return Err(WalletWithdrawError::PaymentPending(order.order().nonce));
                }
                let nonce = self.next_nonce().await?;
                let order = SignedWithdrawal::sign(
                    WithdrawalOrder {
                        account: self.account(),
                        token,
                        amount,
                        recipient,
                        nonce,
                        epoch: self.options().epoch,
                        ttl: self.ttl(),
                    },
                    self.key(),
                );
                let p = PendingWithdrawal {
                    order: hex::encode(order.to_bytes()),
                    certificate: None,
                };
                save_pending(&dir, &p)?;
                p
            }
        };
        let order: SignedWithdrawal = decode_hex("order", &pending.order)?;
        let opts = self.options().clone();
        let started = Instant::now();
        let certificate = match &pending.certificate {
            Some(c) => decode_hex("certificate", c)?,
            None => {
                let c = match certify_withdrawal(self.client(), &order, &opts).await {
                    Ok(c) => c,
                    Err(e @ PayError::Refused { by_all: true, .. }) => {
                        // Nobody holds a lock on it: abandoned, the nonce is free again.
                        let path = dir.join(PENDING_FILE);
                        std::fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
                        return Err(e.into());
                    }
                    Err(e) => return Err(e.into()),
                };
                save_pending(
                    &dir,
                    &PendingWithdrawal {
                        order: pending.order.clone(),
                        certificate: Some(hex::encode(c.to_bytes())),
                    },
                )?;
                c
            }
        };
        let refusals = confirm_withdrawal(self.client(), &certificate, &opts).await?;
        // Debited at a quorum: the nonce is used.
        let mut state = self.dir().load().map_err(WalletError::from)?;
        state.next_nonce = Some(order.nonce() + 1);
        self.dir().save(&state).map_err(WalletError::from)?;
        let settlement = settle_at_gateway(self.client(), &certificate, gateway, &opts).await?;
        let o = order.order();
        let entry = SettledEntry {
            nonce: o.nonce,
            token: o.token,
            amount: o.amount,
            recipient: String::from_utf8_lossy(&o.recipient).into_owned(),
            withdrawal: OwnedOrder::digest(&order).to_hex(),
            gateway: gateway.name.clone(),
            reference: settlement.reference,
            settled_at_ms: settlement.settled_at_ms,
        };
        append_json_line(&dir.join(SETTLED_FILE), &entry)?;
        let path = dir.join(PENDING_FILE);
        std::fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
        Ok(Withdrawn {
            certificate,
            settlement,
            latency: started.elapsed(),
            refusals,
        })
    }
}
