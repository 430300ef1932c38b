//! Pacing by the generic cell rate algorithm (a token bucket kept as one timestamp).
//!
//! A [`Pacer`] keeps the theoretical departure time (TAT) of the next packet. A packet may leave
//! when `now >= TAT - TOLERANCE`; sending it moves TAT to `max(TAT, now) + interval`. The
//! tolerance lets a datapath that wakes a little late catch up without losing rate, at the
//! price of a burst of at most `TOLERANCE / interval` extra packets after an idle period.

use super::Nanos;

/// Burst tolerance of every pacer: how far a late scheduler may catch up.
pub const TOLERANCE: Nanos = 1_000_000;

/// The spacing between packets for a rate in packets per second.
pub fn interval_for_pps(pps: f64) -> Nanos {
    if pps <= 0.0 {
        Nanos::MAX / 4
    } else {
        (1e9 / pps) as Nanos
    }
}

/// A single-timestamp token bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pacer {
    tat: Nanos,
}

impl Pacer {
    /// The earliest time the next packet may leave.
    pub fn next_allowed(&self) -> Nanos {
        self.tat.saturating_sub(TOLERANCE)
    }

    /// Records a departure at `now` that occupies the resource for `interval`.
    pub fn consume(&mut self, now: Nanos, interval: Nanos) {
        self.tat = self.tat.max(now).saturating_add(interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_rate_is_exact_when_polled_on_time() {
        let mut p = Pacer::default();
        let interval = interval_for_pps(1000.0);
        let mut sent = 0;
        let mut now = 0;
        while now < 1_000_000_000 {
            if p.next_allowed() <= now {
                p.consume(now, interval);
                sent += 1;
            } else {
                now = p.next_allowed();
            }
        }
        // 1000 per second plus the initial burst allowed by the tolerance.
        assert_eq!(sent, 1000 + (TOLERANCE / interval) as usize);
    }

    #[test]
    fn late_polling_catches_up_within_tolerance() {
        let mut p = Pacer::default();
        let interval = interval_for_pps(10_000.0); // 100 us
        let mut sent = 0u64;
        // Poll every 500 us (late by several intervals): the rate must still hold.
        for step in 0..2000u64 {
            let now = step * 500_000;
            while p.next_allowed() <= now {
                p.consume(now, interval);
                sent += 1;
            }
        }
        let elapsed_s = 2000.0 * 500e-6;
        let rate = sent as f64 / elapsed_s;
        assert!((rate - 10_000.0).abs() < 200.0, "rate {rate}");
    }

    #[test]
    fn zero_rate_blocks() {
        let mut p = Pacer::default();
        p.consume(0, interval_for_pps(0.0));
        assert!(p.next_allowed() > 1_000_000_000_000);
    }
}
