//! The process's resident memory, from `/proc/self/status` (Linux): what the embedded mesh
//! reports as memory per switch and per anchor (the growth over each set-up step, divided by
//! the count) and as its peak. Elsewhere the figures are absent, never guessed.

/// Resident set size now, bytes (`VmRSS`).
pub fn resident_bytes() -> Option<u64> {
    status_kib("VmRSS:").map(|k| k * 1024)
}

/// Peak resident set size so far, bytes (`VmHWM`).
pub fn peak_resident_bytes() -> Option<u64> {
    status_kib("VmHWM:").map(|k| k * 1024)
}

fn status_kib(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_kib(&text, field)
}

/// The value of `field` (a `kB` line) in a `/proc/<pid>/status` text.
fn parse_kib(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Memory taken by the set-up steps of a mesh.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SetupMemory {
    /// Growth while the switches started, bytes.
    pub switches_bytes: Option<u64>,
    /// Growth while the anchors, their controllers and the wallets started, bytes.
    pub anchors_bytes: Option<u64>,
    /// Switches started.
    pub switches: usize,
    /// Anchors started.
    pub anchors: usize,
    /// Resident after set-up, bytes.
    pub after_setup_bytes: Option<u64>,
}

impl SetupMemory {
    /// Bytes per switch.
    pub fn per_switch(&self) -> Option<f64> {
        per(self.switches_bytes, self.switches)
    }
    /// Bytes per anchor (with its controller, and the wallets started in the same step).
    pub fn per_anchor(&self) -> Option<f64> {
        per(self.anchors_bytes, self.anchors)
    }
}

fn per(bytes: Option<u64>, n: usize) -> Option<f64> {
    bytes.filter(|_| n > 0).map(|b| b as f64 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse() {
        let text = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(parse_kib(text, "VmRSS:"), Some(1024));
        assert_eq!(parse_kib(text, "VmHWM:"), Some(2048));
        assert_eq!(parse_kib(text, "VmSwap:"), None);
    }

    #[test]
    fn this_process_has_resident_memory() {
        if cfg!(target_os = "linux") {
            let (now, peak) = (resident_bytes().unwrap(), peak_resident_bytes().unwrap());
            assert!(now > 0 && peak >= now);
        }
    }

    #[test]
    fn per_item_figures() {
        let m = SetupMemory {
            switches_bytes: Some(4000),
            switches: 4,
            anchors_bytes: None,
            anchors: 2,
            after_setup_bytes: None,
        };
        assert_eq!(m.per_switch(), Some(1000.0));
        assert_eq!(m.per_anchor(), None);
    }
}
