//! The gateway's counters, and their Prometheus text.

use std::sync::atomic::{AtomicU64, Ordering};

use flashmesh_core::error::ErrorCode;
use flashmesh_core::host::prometheus::{Kind, help_and_type, sample};

/// Counters, shared by the server, the deposit pusher and the admin API.
#[derive(Debug, Default)]
pub struct Metrics {
    pub datagrams: AtomicU64,
    pub malformed: AtomicU64,
    pub settled_first: AtomicU64,
    pub settled_repeat: AtomicU64,
    pub ledger_failures: AtomicU64,
    pub deposits_recorded: AtomicU64,
    pub deposits_confirmed: AtomicU64,
    pub deposit_push_failures: AtomicU64,
    pub admin_unauthorised: AtomicU64,
    /// Refusals by [`ErrorCode`] position in [`ErrorCode::ALL`].
    refused: [AtomicU64; ErrorCode::ALL.len()],
}

/// Adds one.
pub fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    /// Counts a refusal.
    pub fn refuse(&self, code: ErrorCode) {
        if let Some(i) = ErrorCode::ALL.iter().position(|c| *c == code) {
            inc(&self.refused[i]);
        }
    }
    /// Refusals of `code` so far.
    pub fn refused(&self, code: ErrorCode) -> u64 {
        ErrorCode::ALL
            .iter()
            .position(|c| *c == code)
            .map_or(0, |i| self.refused[i].load(Ordering::Relaxed))
    }
    /// The Prometheus exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &AtomicU64); 9] = [
            (
                "gateway_datagrams_total",
                "datagrams received",
                &self.datagrams,
            ),
            (
                "gateway_malformed_total",
                "datagrams that did not decode",
                &self.malformed,
            ),
            (
                "gateway_settled_total",
                "withdrawals settled for the first time",
                &self.settled_first,
            ),
            (
                "gateway_settled_repeat_total",
                "repeated submissions answered with the first settlement",
                &self.settled_repeat,
            ),
            (
                "gateway_ledger_failures_total",
                "ledger operations that failed",
                &self.ledger_failures,
            ),
            (
                "gateway_deposits_recorded_total",
                "deposits recorded on the primary ledger",
                &self.deposits_recorded,
            ),
            (
                "gateway_deposits_confirmed_total",
                "deposits confirmed by a quorum of the committee",
                &self.deposits_confirmed,
            ),
            (
                "gateway_deposit_push_failures_total",
                "deposit pushes that did not reach a quorum",
                &self.deposit_push_failures,
            ),
            (
                "gateway_admin_unauthorised_total",
                "admin requests refused for a missing or wrong token",
                &self.admin_unauthorised,
            ),
        ];
        for (name, help, c) in counters {
            help_and_type(&mut out, name, help, Kind::Counter);
            sample(&mut out, name, &[], c.load(Ordering::Relaxed));
        }
        help_and_type(
            &mut out,
            "gateway_refused_total",
            "withdrawal certificates and requests refused, by reason",
            Kind::Counter,
        );
        for code in ErrorCode::ALL {
            let n = self.refused(code);
            if n > 0 {
                sample(
                    &mut out,
                    "gateway_refused_total",
                    &[("reason", &code.name())],
                    n,
                );
            }
        }
        out
    }
}
