//! Counters of the anchor, rendered in the Prometheus text exposition format for `/metrics`.
//!
//! Hot-path counters are plain relaxed atomics; rejections are counted per reason code in a
//! fixed array indexed by the wire code, so counting never allocates or locks.

use std::sync::atomic::{AtomicU64, Ordering};

use flashmesh_core::host::prometheus::{Kind, help_and_type, sample};

/// Every counter the anchor exports.
#[derive(Debug)]
pub struct Metrics {
    /// Well-formed ORDER datagrams received.
    pub orders: AtomicU64,
    /// VOTE replies sent (durable first).
    pub votes: AtomicU64,
    /// Well-formed CERTIFICATE datagrams received.
    pub certificates: AtomicU64,
    /// RECEIPT replies sent (durable first).
    pub receipts: AtomicU64,
    /// QUERY datagrams answered.
    pub queries: AtomicU64,
    /// Well-formed WITHDRAWAL datagrams received.
    pub withdrawals: AtomicU64,
    /// Well-formed WITHDRAWAL_CERTIFICATE datagrams received.
    pub withdrawal_certificates: AtomicU64,
    /// Well-formed DEPOSIT datagrams (a gateway's funding certificates) received.
    pub deposits: AtomicU64,
    /// Well-formed HANDOFF datagrams received.
    pub handoffs: AtomicU64,
    /// Well-formed HANDOFF_CERTIFICATE datagrams received (leaving or arriving accounts).
    pub handoff_certificates: AtomicU64,
    /// Datagrams that could not be decoded at all (bad header, truncated, oversized, ...).
    pub malformed: AtomicU64,
    /// Well-formed requests refused, per reason code.
    rejections: [AtomicU64; 256],
    /// ERROR replies sent.
    pub errors_sent: AtomicU64,
    /// Batches of datagrams the workers handled (one signature batch and one lock hold each).
    pub batches: AtomicU64,
    /// Datagrams in those batches.
    pub batched: AtomicU64,
    /// Durable store transactions committed.
    pub store_commits: AtomicU64,
    /// State changes made durable.
    pub store_records: AtomicU64,
    /// Total time spent in store commits, microseconds.
    pub store_commit_micros: AtomicU64,
    /// Failed store commits (the affected replies were withheld).
    pub store_failures: AtomicU64,
    /// State snapshots written (each replaced the journal records before it).
    pub store_snapshots: AtomicU64,
    /// Snapshots that could not be written (the journal stays complete).
    pub store_snapshot_failures: AtomicU64,
    /// Conflicting orders reported to the controller for a penalty.
    pub penalties_requested: AtomicU64,
    /// Penalty requests dropped because the queue to the controller was full.
    pub penalties_dropped: AtomicU64,
    /// Senders the controller blocked (or whose block it extended) in the switches.
    pub penalties_applied: AtomicU64,
    /// Penalties the controller could not write.
    pub penalty_failures: AtomicU64,
    /// Requests to state-changing admin routes refused for a missing or wrong bearer token.
    pub admin_unauthorised: AtomicU64,
    /// `POST /policy` bodies that were not a policy bundle at all.
    pub policy_undecodable: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            orders: AtomicU64::new(0),
            votes: AtomicU64::new(0),
            certificates: AtomicU64::new(0),
            receipts: AtomicU64::new(0),
            queries: AtomicU64::new(0),
            withdrawals: AtomicU64::new(0),
            withdrawal_certificates: AtomicU64::new(0),
            deposits: AtomicU64::new(0),
            handoffs: AtomicU64::new(0),
            handoff_certificates: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            rejections: std::array::from_fn(|_| AtomicU64::new(0)),
            errors_sent: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            batched: AtomicU64::new(0),
            store_commits: AtomicU64::new(0),
            store_records: AtomicU64::new(0),
            store_commit_micros: AtomicU64::new(0),
            store_failures: AtomicU64::new(0),
            store_snapshots: AtomicU64::new(0),
            store_snapshot_failures: AtomicU64::new(0),
            penalties_requested: AtomicU64::new(0),
            penalties_dropped: AtomicU64::new(0),
            penalties_applied: AtomicU64::new(0),
            penalty_failures: AtomicU64::new(0),
            admin_unauthorised: AtomicU64::new(0),
            policy_undecodable: AtomicU64::new(0),
        }
    }
}

/// Increments a counter by one.
pub fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Reads a counter.
pub fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

impl Metrics {
    /// Counts one rejection with wire reason `code` (codes above 255 share the last slot).
    pub fn reject(&self, code: u16) {
        inc(&self.rejections[usize::from(code).min(255)]);
    }

    /// Rejections counted for `code`.
    pub fn rejections(&self, code: u8) -> u64 {
        get(&self.rejections[code as usize])
    }

    /// All non-zero rejection counts, by code.
    pub fn rejection_counts(&self) -> Vec<(u8, u64)> {
        (0..=255u8)
            .filter_map(|c| match self.rejections(c) {
                0 => None,
                n => Some((c, n)),
            })
            .collect()
    }

    /// Renders every counter in Prometheus text format. `reason_name` names a wire code;
    /// every code it names is exported (zero included) so dashboards see a stable label set.
    pub fn render(&self, reason_name: impl Fn(u8) -> Option<&'static str>) -> String {
        let mut out = String::with_capacity(4096);
        let simple: [(&str, &str, &AtomicU64); 26] = [
            (
                "flashmesh_orders_total",
                "ORDER requests received",
                &self.orders,
            ),
            ("flashmesh_votes_total", "VOTE replies sent", &self.votes),
            (
                "flashmesh_certificates_total",
                "CERTIFICATE requests received",
                &self.certificates,
            ),
            (
                "flashmesh_receipts_total",
                "RECEIPT replies sent",
                &self.receipts,
            ),
            (
                "flashmesh_queries_total",
                "QUERY requests answered",
                &self.queries,
            ),
            (
                "flashmesh_withdrawals_total",
                "WITHDRAWAL requests received",
                &self.withdrawals,
            ),
            (
                "flashmesh_withdrawal_certificates_total",
                "WITHDRAWAL_CERTIFICATE requests received",
                &self.withdrawal_certificates,
            ),
            (
                "flashmesh_deposits_total",
                "DEPOSIT requests (funding certificates) received",
                &self.deposits,
            ),
            (
                "flashmesh_handoffs_total",
                "HANDOFF requests received",
                &self.handoffs,
            ),
            (
                "flashmesh_handoff_certificates_total",
                "HANDOFF_CERTIFICATE requests received",
                &self.handoff_certificates,
            ),
            (
                "flashmesh_malformed_datagrams_total",
                "datagrams that could not be decoded",
                &self.malformed,
            ),
            (
                "flashmesh_error_replies_total",
                "ERROR replies sent",
                &self.errors_sent,
            ),
            (
                "flashmesh_batches_total",
                "batches of datagrams handled together (one signature batch each)",
                &self.batches,
            ),
            (
                "flashmesh_batched_datagrams_total",
                "datagrams handled in those batches",
                &self.batched,
            ),
            (
                "flashmesh_store_commits_total",
                "durable store transactions",
                &self.store_commits,
            ),
            (
                "flashmesh_store_records_total",
                "state changes made durable",
                &self.store_records,
            ),
            (
                "flashmesh_store_commit_seconds_total",
                "time spent committing",
                &self.store_commit_micros,
            ),
            (
                "flashmesh_store_failures_total",
                "failed store commits",
                &self.store_failures,
            ),
            (
                "flashmesh_store_snapshots_total",
                "state snapshots written (journal compacted)",
                &self.store_snapshots,
            ),
            (
                "flashmesh_store_snapshot_failures_total",
                "state snapshots that failed (journal kept)",
                &self.store_snapshot_failures,
            ),
            (
                "flashmesh_penalties_requested_total",
                "conflicting orders reported for a sender penalty",
                &self.penalties_requested,
            ),
            (
                "flashmesh_penalties_dropped_total",
                "penalty requests dropped (queue full)",
                &self.penalties_dropped,
            ),
            (
                "flashmesh_penalties_applied_total",
                "senders blocked in the switches",
                &self.penalties_applied,
            ),
            (
                "flashmesh_penalty_failures_total",
                "sender blocks the controller could not write",
                &self.penalty_failures,
            ),
            (
                "flashmesh_admin_unauthorised_total",
                "admin requests refused for a missing or wrong bearer token",
                &self.admin_unauthorised,
            ),
            (
                "flashmesh_policy_undecodable_total",
                "policy pushes whose body was not a bundle",
                &self.policy_undecodable,
            ),
        ];
        for (name, help, c) in simple {
            help_and_type(&mut out, name, help, Kind::Counter);
            if name == "flashmesh_store_commit_seconds_total" {
                sample(&mut out, name, &[], get(c) as f64 / 1e6);
            } else {
                sample(&mut out, name, &[], get(c));
            }
        }
        let name = "flashmesh_rejections_total";
        help_and_type(&mut out, name, "requests refused, by reason", Kind::Counter);
        for code in 0..=255u8 {
            let n = self.rejections(code);
            let reason = match reason_name(code) {
                Some(reason) => reason,
                None if n > 0 => "unknown",
                None => continue,
            };
            sample(&mut out, name, &[("reason", &reason), ("code", &code)], n);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_labelled_rejections() {
        let m = Metrics::default();
        inc(&m.orders);
        inc(&m.orders);
        inc(&m.malformed);
        m.reject(3);
        m.reject(200);
        let names = |c: u8| (c == 3).then_some("bad_nonce");
        let text = m.render(names);
        assert!(text.contains("flashmesh_orders_total 2\n"));
        assert!(text.contains("flashmesh_malformed_datagrams_total 1\n"));
        assert!(text.contains("flashmesh_rejections_total{reason=\"bad_nonce\",code=\"3\"} 1\n"));
        assert!(text.contains("flashmesh_rejections_total{reason=\"unknown\",code=\"200\"} 1\n"));
        assert_eq!(m.rejection_counts(), vec![(3, 1), (200, 1)]);
    }
}
