//! Latency statistics for the demo and benchmark reports.

use std::time::Duration;

use flashmesh_scenario::outputs::quantile;

/// Latency samples with percentile summaries.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    samples_us: Vec<u64>,
}

impl Latencies {
    /// Records one sample.
    pub fn push(&mut self, d: Duration) {
        self.samples_us.push(d.as_micros() as u64);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples_us.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.samples_us.is_empty()
    }

    /// The `p`-th percentile (0..=100) in milliseconds, nearest-rank; 0 when empty.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        let mut v: Vec<f64> = self.samples_us.iter().map(|&us| us as f64).collect();
        v.sort_by(f64::total_cmp);
        quantile(&v, p / 100.0).map_or(0.0, |us| us / 1000.0)
    }

    /// The largest sample in milliseconds; 0 when empty.
    pub fn max_ms(&self) -> f64 {
        self.samples_us.iter().copied().max().unwrap_or(0) as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut l = Latencies::default();
        assert_eq!(l.percentile_ms(50.0), 0.0);
        for ms in 1..=100u64 {
            l.push(Duration::from_millis(ms));
        }
        assert_eq!(l.percentile_ms(50.0), 50.0);
        assert_eq!(l.percentile_ms(95.0), 95.0);
        assert_eq!(l.percentile_ms(100.0), 100.0);
        assert_eq!(l.percentile_ms(0.0), 1.0);
        assert_eq!(l.max_ms(), 100.0);
        assert_eq!(l.len(), 100);
    }
}
