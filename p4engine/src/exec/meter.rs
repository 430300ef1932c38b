//! Two-rate three-colour meters (RFC 2698, colour-blind) as BMv2 runs them: both token buckets
//! start full; a packet is RED when the peak bucket lacks its size, YELLOW when only the
//! committed bucket does, GREEN otherwise. An unconfigured meter marks everything GREEN.

/// v1model colour values.
pub const GREEN: u128 = 0;
/// v1model colour values.
pub const YELLOW: u128 = 1;
/// v1model colour values.
pub const RED: u128 = 2;

/// P4Runtime `MeterConfig`: rates in units (packets or bytes) per second, bursts in units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MeterConfig {
    pub cir: u64,
    pub cburst: u64,
    pub pir: u64,
    pub pburst: u64,
}

/// One meter cell: its configuration and bucket state.
#[derive(Debug, Clone, Default)]
pub struct Meter {
    config: Option<MeterConfig>,
    tc: f64,
    tp: f64,
    last_ns: Option<u64>,
}

impl Meter {
    /// The configuration, if set.
    pub fn config(&self) -> Option<MeterConfig> {
        self.config
    }

    /// Sets or clears the configuration; the buckets start full.
    pub fn set_config(&mut self, config: Option<MeterConfig>) {
        self.config = config;
        if let Some(c) = config {
            self.tc = c.cburst as f64;
            self.tp = c.pburst as f64;
        }
        self.last_ns = None;
    }

    /// Meters `size` units at time `now_ns` and returns the colour.
    pub fn execute(&mut self, now_ns: u64, size: u64) -> u128 {
        let Some(c) = self.config else { return GREEN };
        if let Some(last) = self.last_ns {
            let dt = now_ns.saturating_sub(last) as f64 / 1e9;
            self.tc = (self.tc + dt * c.cir as f64).min(c.cburst as f64);
            self.tp = (self.tp + dt * c.pir as f64).min(c.pburst as f64);
        }
        self.last_ns = Some(now_ns.max(self.last_ns.unwrap_or(0)));
        let b = size as f64;
        if self.tp < b {
            RED
        } else if self.tc < b {
            self.tp -= b;
            YELLOW
        } else {
            self.tp -= b;
            self.tc -= b;
            GREEN
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unconfigured_is_green() {
        let mut m = Meter::default();
        for i in 0..100 {
            assert_eq!(m.execute(i, 1500), GREEN);
        }
    }

    #[test]
    fn two_rates_three_colours() {
        let mut m = Meter::default();
        m.set_config(Some(MeterConfig {
            cir: 10,
            cburst: 2,
            pir: 20,
            pburst: 4,
        }));
        // at one instant: 2 green (committed burst), then 2 yellow (peak burst), then red
        let colours: Vec<u128> = (0..6).map(|_| m.execute(1_000, 1)).collect();
        assert_eq!(colours, vec![GREEN, GREEN, YELLOW, YELLOW, RED, RED]);
        // 100 ms later: +1 committed token, +2 peak tokens
        assert_eq!(m.execute(100_001_000, 1), GREEN);
        assert_eq!(m.execute(100_001_000, 1), YELLOW);
        assert_eq!(m.execute(100_001_000, 1), RED);
    }

    #[test]
    fn bytes_larger_than_burst_are_red() {
        let mut m = Meter::default();
        m.set_config(Some(MeterConfig {
            cir: 1000,
            cburst: 1000,
            pir: 2000,
            pburst: 1500,
        }));
        assert_eq!(m.execute(0, 1400), YELLOW);
        assert_eq!(m.execute(0, 1600), RED);
    }
}
