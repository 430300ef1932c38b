//! Wall-clock time since the Unix epoch (0 if the clock reads before 1970).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Unix seconds now.
pub fn unix_secs() -> u64 {
    since_epoch().as_secs()
}

/// Unix milliseconds now.
pub fn unix_millis() -> u64 {
    since_epoch().as_millis() as u64
}

/// Unix nanoseconds now.
pub fn unix_nanos() -> u64 {
    since_epoch().as_nanos() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_agree() {
        let s = unix_secs();
        let ms = unix_millis();
        let ns = unix_nanos();
        assert!(s > 1_600_000_000);
        assert!(ms / 1000 >= s && ms / 1000 <= s + 1);
        assert!(ns / 1_000_000 >= ms && ns / 1_000_000 <= ms + 1000);
    }
}
