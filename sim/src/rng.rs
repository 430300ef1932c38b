//! The run's randomness: one seeded ChaCha8 stream per purpose, all derived from the seed, so
//! the same seed gives the same run bit for bit, and a change to how often one purpose draws
//! (say, a fault removed while shrinking a trace) does not shift the draws of the others.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// What a stream is for.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    /// Link delay, jitter, loss, duplication and reordering.
    Network = 1,
    /// The workload: who pays whom, how much, when.
    Workload = 2,
    /// The fault plan.
    Faults = 3,
    /// Byzantine choices.
    Byzantine = 4,
    /// Keys.
    Keys = 5,
    /// Fault mixes drawn per seed.
    Mix = 6,
}

/// A seeded random stream.
pub struct SimRng(ChaCha8Rng);

impl SimRng {
    /// The stream `stream` of `seed`.
    pub fn new(seed: u64, stream: Stream) -> SimRng {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream as u64);
        SimRng(rng)
    }
    /// True with probability `p` (clamped to `[0, 1]`).
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            false
        } else if p >= 1.0 {
            true
        } else {
            self.0.random_bool(p)
        }
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        self.0.random::<f64>()
    }
    /// Uniform in `[lo, hi]` (lo when empty).
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            self.0.random_range(lo..=hi)
        }
    }
    /// Uniform index below `n` (0 when `n` is 0).
    pub fn index(&mut self, n: usize) -> usize {
        if n <= 1 { 0 } else { self.0.random_range(0..n) }
    }
    /// Exponentially distributed with mean `mean`.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
    /// 32 random bytes.
    pub fn bytes32(&mut self) -> [u8; 32] {
        self.0.random::<[u8; 32]>()
    }
    /// A random u64.
    pub fn u64(&mut self) -> u64 {
        self.0.random::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = SimRng::new(7, Stream::Network);
        let mut b = SimRng::new(7, Stream::Network);
        let xa: Vec<u64> = (0..8).map(|_| a.u64()).collect();
        let xb: Vec<u64> = (0..8).map(|_| b.u64()).collect();
        assert_eq!(xa, xb);
    }

    #[test]
    fn streams_differ() {
        let mut a = SimRng::new(7, Stream::Network);
        let mut b = SimRng::new(7, Stream::Workload);
        assert_ne!(a.u64(), b.u64());
    }
}
