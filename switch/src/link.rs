//! Link emulation after egress: propagation delay, jitter and random loss.
//!
//! The Linux kernel on the target machines has no netem, so flash-switch emulates what a radio
//! link adds after the traffic manager has paced a frame onto the "air": each frame is lost with
//! probability `loss`, otherwise it is delivered `delay ± jitter` later (jitter uniform). Frames
//! of one link keep their order (a frame never overtakes the one before it), as on a real
//! point-to-point link. The random source is seeded, so runs are repeatable.
//!
//! The shared port rate lives in the traffic manager ([`crate::tm::PortRate`]) because it must be
//! served in strict priority order before egress; [`LinkParams`] carries it so that one command
//! or config entry sets a whole link.

use std::collections::VecDeque;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::tm::{Nanos, PortRate};

/// Everything link emulation can set on one egress port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkParams {
    /// One-way delay added to every frame, milliseconds.
    #[serde(default)]
    pub delay_ms: f64,
    /// Uniform jitter around the delay (± this many milliseconds).
    #[serde(default)]
    pub jitter_ms: f64,
    /// Probability in [0, 1] that a frame is lost.
    #[serde(default)]
    pub loss: f64,
    /// Shared port rate in packets per second (absent or 0: unlimited).
    #[serde(default)]
    pub rate_pps: Option<f64>,
    /// Shared port rate in bits per second (absent or 0: unlimited).
    #[serde(default)]
    pub rate_bps: Option<f64>,
}

/// Link parameters that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LinkError {
    /// A value is negative, not a number, or loss is above 1.
    #[error("invalid link parameter {name} = {value}")]
    Invalid {
        /// Parameter name.
        name: &'static str,
        /// Rejected value.
        value: f64,
    },
}

impl LinkParams {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), LinkError> {
        let check = |name, value: f64, max: f64| {
            if value.is_finite() && (0.0..=max).contains(&value) {
                Ok(())
            } else {
                Err(LinkError::Invalid { name, value })
            }
        };
        check("delay_ms", self.delay_ms, 3.6e6)?;
        check("jitter_ms", self.jitter_ms, 3.6e6)?;
        check("loss", self.loss, 1.0)?;
        check("rate_pps", self.rate_pps.unwrap_or(0.0), f64::MAX)?;
        check("rate_bps", self.rate_bps.unwrap_or(0.0), f64::MAX)?;
        Ok(())
    }

    /// The shared port rate for the traffic manager (zero means unlimited).
    pub fn port_rate(&self) -> PortRate {
        let positive = |r: Option<f64>| r.filter(|v| *v > 0.0);
        PortRate {
            pps: positive(self.rate_pps),
            bps: positive(self.rate_bps),
        }
    }

    /// Whether frames go through the delay line at all.
    pub fn has_delay_or_loss(&self) -> bool {
        self.delay_ms > 0.0 || self.jitter_ms > 0.0 || self.loss > 0.0
    }
}

/// Counters of one emulated link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LinkStats {
    /// Frames handed to the link.
    pub offered: u64,
    /// Frames the link lost.
    pub lost: u64,
    /// Frames delivered to the port.
    pub delivered: u64,
}

/// The delay line of one egress port.
pub struct DelayLine<T> {
    params: LinkParams,
    rng: SmallRng,
    frames: VecDeque<(Nanos, T)>,
    last_release: Nanos,
    stats: LinkStats,
}

impl<T> DelayLine<T> {
    /// A link with `params`, its random source seeded with `seed`.
    pub fn new(params: LinkParams, seed: u64) -> Self {
        Self {
            params,
            rng: SmallRng::seed_from_u64(seed),
            frames: VecDeque::new(),
            last_release: 0,
            stats: LinkStats::default(),
        }
    }

    /// Replaces the parameters; frames already in flight keep their release times.
    pub fn set_params(&mut self, params: LinkParams) {
        self.params = params;
    }

    /// Current parameters.
    pub fn params(&self) -> LinkParams {
        self.params
    }

    /// Hands a frame to the link at `now`. Returns `false` when the link lost it.
    pub fn push(&mut self, frame: T, now: Nanos) -> bool {
        self.stats.offered += 1;
        if self.params.loss > 0.0 && self.rng.random_bool(self.params.loss.min(1.0)) {
            self.stats.lost += 1;
            return false;
        }
        let delay_ns = self.params.delay_ms * 1e6;
        let jitter_ns = self.params.jitter_ms * 1e6;
        let offset = if jitter_ns > 0.0 {
            self.rng.random_range(-jitter_ns..=jitter_ns)
        } else {
            0.0
        };
        let due = now.saturating_add((delay_ns + offset).max(0.0) as Nanos);
        let due = due.max(self.last_release);
        self.last_release = due;
        self.frames.push_back((due, frame));
        true
    }

    /// Moves frames due at `now` into `out`.
    pub fn pop_due(&mut self, now: Nanos, out: &mut Vec<T>) {
        while self.frames.front().is_some_and(|(due, _)| *due <= now) {
            if let Some((_, frame)) = self.frames.pop_front() {
                self.stats.delivered += 1;
                out.push(frame);
            }
        }
    }

    /// When the next frame is due.
    pub fn next_due(&self) -> Option<Nanos> {
        self.frames.front().map(|(due, _)| *due)
    }

    /// Frames in flight.
    pub fn in_flight(&self) -> usize {
        self.frames.len()
    }

    /// Counters.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Nanos = 1_000_000;

    #[test]
    fn loss_fraction_matches_with_fixed_seed() {
        let params = LinkParams {
            loss: 0.2,
            ..Default::default()
        };
        let mut link = DelayLine::new(params, 7);
        let kept = (0..100_000).filter(|i| link.push(*i, 0)).count();
        let lost = 1.0 - kept as f64 / 100_000.0;
        assert!((lost - 0.2).abs() < 0.005, "lost {lost}");
        assert_eq!(link.stats().lost, 100_000 - kept as u64);
        // The same seed loses exactly the same frames.
        let mut again = DelayLine::new(params, 7);
        assert_eq!((0..100_000).filter(|i| again.push(*i, 0)).count(), kept);
    }

    #[test]
    fn delay_holds_frames_until_due() {
        let mut link = DelayLine::new(
            LinkParams {
                delay_ms: 10.0,
                ..Default::default()
            },
            1,
        );
        assert!(link.push(1, 0));
        assert!(link.push(2, 5 * MS));
        let mut out = Vec::new();
        link.pop_due(10 * MS - 1, &mut out);
        assert!(out.is_empty());
        assert_eq!(link.next_due(), Some(10 * MS));
        link.pop_due(10 * MS, &mut out);
        assert_eq!(out, vec![1]);
        link.pop_due(15 * MS, &mut out);
        assert_eq!(out, vec![1, 2]);
        assert_eq!(link.stats().delivered, 2);
    }

    #[test]
    fn jitter_stays_in_range_and_keeps_order() {
        let params = LinkParams {
            delay_ms: 20.0,
            jitter_ms: 5.0,
            ..Default::default()
        };
        let mut link = DelayLine::new(params, 3);
        let mut sum = 0.0;
        let n = 10_000u64;
        for i in 0..n {
            let now = i * 10 * MS; // far apart: no reordering clamp
            link.push(i, now);
            let due = link.next_due().unwrap();
            let d = (due - now) as f64 / 1e6;
            assert!((15.0..=25.0).contains(&d), "delay {d}");
            sum += d;
            let mut out = Vec::new();
            link.pop_due(due, &mut out);
            assert_eq!(out, vec![i]);
        }
        let mean = sum / n as f64;
        assert!((mean - 20.0).abs() < 0.2, "mean {mean}");
    }

    #[test]
    fn frames_never_overtake() {
        let params = LinkParams {
            delay_ms: 5.0,
            jitter_ms: 5.0,
            ..Default::default()
        };
        let mut link = DelayLine::new(params, 11);
        for i in 0..1000u64 {
            link.push(i, i * 100_000);
        }
        let mut out = Vec::new();
        link.pop_due(Nanos::MAX, &mut out);
        assert!(out.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn validation_rejects_bad_values() {
        assert!(
            LinkParams {
                loss: 1.5,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            LinkParams {
                delay_ms: -1.0,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            LinkParams {
                jitter_ms: f64::NAN,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            LinkParams {
                rate_pps: Some(0.0),
                ..Default::default()
            }
            .port_rate()
            .pps
            .is_none()
        );
    }
}
