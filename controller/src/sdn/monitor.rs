//! Link liveness from probes, per (node, port): RTT and loss, and the up/down decision after k
//! consecutive missed probes. Pure state machine; the runtime sends the probes and feeds replies.

use std::collections::BTreeMap;

use serde::Serialize;

/// A link state change the controller must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// k probes in a row went unanswered.
    Down {
        /// Node.
        node: String,
        /// Port.
        port: u16,
    },
    /// A probe came back on a port that was down (or first confirmation).
    Up {
        /// Node.
        node: String,
        /// Port.
        port: u16,
    },
}

/// Statistics of one monitored port.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PortStats {
    /// Probes sent.
    pub sent: u64,
    /// Replies received.
    pub received: u64,
    /// Misses in a row.
    pub consecutive_misses: u32,
    /// Last round-trip time, microseconds.
    pub last_rtt_us: Option<u64>,
    /// Smoothed round-trip time (EWMA 1/8), microseconds.
    pub srtt_us: Option<u64>,
    /// True while the port is considered down.
    pub down: bool,
    /// True once a reply was ever seen.
    pub confirmed: bool,
    /// The last probe sequence sent, and whether its reply arrived.
    #[serde(skip)]
    outstanding: Option<(u64, bool)>,
}

impl PortStats {
    /// Fraction of probes not answered.
    pub fn loss(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            1.0 - (self.received.min(self.sent) as f64 / self.sent as f64)
        }
    }
}

/// The monitor for every probed port.
#[derive(Debug, Clone, Default)]
pub struct LinkMonitor {
    miss_limit: u32,
    ports: BTreeMap<(String, u16), PortStats>,
}

impl LinkMonitor {
    /// A monitor that declares a link down after `miss_limit` consecutive misses.
    pub fn new(miss_limit: u32) -> Self {
        Self {
            miss_limit: miss_limit.max(1),
            ports: BTreeMap::new(),
        }
    }

    /// Changes k (from a new policy).
    pub fn set_miss_limit(&mut self, k: u32) {
        self.miss_limit = k.max(1);
    }

    /// Records that probe `seq` is going out of `(node, port)`. The previous probe of that port
    /// counts as missed if no reply came; may return a Down event.
    pub fn on_send(&mut self, node: &str, port: u16, seq: u64) -> Option<LinkEvent> {
        let limit = self.miss_limit;
        let st = self.ports.entry((node.to_string(), port)).or_default();
        let mut event = None;
        if let Some((_, answered)) = st.outstanding
            && !answered
        {
            st.consecutive_misses += 1;
            if st.consecutive_misses >= limit && !st.down {
                st.down = true;
                event = Some(LinkEvent::Down {
                    node: node.to_string(),
                    port,
                });
            }
        }
        st.sent += 1;
        st.outstanding = Some((seq, false));
        event
    }

    /// Records a reply for `seq` on `(node, port)` with its RTT. A reply late by fewer probe
    /// intervals than the miss limit is proof of life; older ones only count as received. May
    /// return an Up event.
    pub fn on_reply(&mut self, node: &str, port: u16, seq: u64, rtt_us: u64) -> Option<LinkEvent> {
        let window = u64::from(self.miss_limit);
        let st = self.ports.get_mut(&(node.to_string(), port))?;
        match st.outstanding {
            Some((s, false)) if s == seq => st.outstanding = Some((s, true)),
            Some((s, _)) if seq > s => return None, // not sent by us: ignore
            Some((s, true)) if s == seq => return None, // duplicate reply
            // the answer to an earlier probe, late by fewer intervals than the miss limit (a
            // slow radio hop, a busy controller): the link was alive inside the window that
            // decides it is down, so it is still proof of life
            Some((s, _)) if s - seq < window => {}
            Some(_) => {
                // a much older answer counts for loss, but says nothing about the link now:
                // it neither clears misses nor brings the link up
                st.received += 1;
                return None;
            }
            None => return None,
        }
        st.received += 1;
        st.consecutive_misses = 0;
        st.last_rtt_us = Some(rtt_us);
        st.srtt_us = Some(match st.srtt_us {
            None => rtt_us,
            Some(s) => (s * 7 + rtt_us) / 8,
        });
        let was_unconfirmed = !st.confirmed;
        st.confirmed = true;
        if st.down {
            st.down = false;
            return Some(LinkEvent::Up {
                node: node.to_string(),
                port,
            });
        }
        was_unconfirmed.then(|| LinkEvent::Up {
            node: node.to_string(),
            port,
        })
    }

    /// Statistics of every port.
    pub fn stats(&self) -> &BTreeMap<(String, u16), PortStats> {
        &self.ports
    }

    /// Statistics of one port.
    pub fn port(&self, node: &str, port: u16) -> Option<&PortStats> {
        self.ports.get(&(node.to_string(), port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_misses_then_recovery() {
        let mut m = LinkMonitor::new(3);
        assert_eq!(m.on_send("a", 1, 1), None);
        assert_eq!(
            m.on_reply("a", 1, 1, 100),
            Some(LinkEvent::Up {
                node: "a".into(),
                port: 1
            })
        );
        assert_eq!(m.on_send("a", 1, 2), None);
        assert_eq!(m.on_reply("a", 1, 2, 300), None);
        assert_eq!(m.port("a", 1).unwrap().srtt_us, Some((100 * 7 + 300) / 8));
        // three misses: probes 3, 4, 5 unanswered, the miss of 5 is noticed when 6 goes out
        assert_eq!(m.on_send("a", 1, 3), None);
        assert_eq!(m.on_send("a", 1, 4), None);
        assert_eq!(m.on_send("a", 1, 5), None);
        assert_eq!(
            m.on_send("a", 1, 6),
            Some(LinkEvent::Down {
                node: "a".into(),
                port: 1
            })
        );
        assert_eq!(m.on_send("a", 1, 7), None); // already down
        assert!(m.port("a", 1).unwrap().down);
        assert_eq!(
            m.on_reply("a", 1, 7, 50),
            Some(LinkEvent::Up {
                node: "a".into(),
                port: 1
            })
        );
        let st = m.port("a", 1).unwrap();
        assert_eq!(st.sent, 7);
        assert_eq!(st.received, 3);
        assert!((st.loss() - 4.0 / 7.0).abs() < 1e-9);
    }

    #[test]
    fn a_late_reply_does_not_bring_a_down_link_up() {
        let mut m = LinkMonitor::new(2);
        m.on_send("a", 1, 1);
        m.on_send("a", 1, 2);
        assert!(matches!(m.on_send("a", 1, 3), Some(LinkEvent::Down { .. })));
        m.on_send("a", 1, 4);
        assert_eq!(m.on_reply("a", 1, 1, 10), None); // answer to probe 1, far too late
        assert_eq!(m.on_reply("a", 1, 2, 10), None);
        assert!(m.port("a", 1).unwrap().down);
        assert!(m.port("a", 1).unwrap().down);
        // the answer to the previous probe, one interval late, is proof of life
        assert!(matches!(
            m.on_reply("a", 1, 3, 10),
            Some(LinkEvent::Up { .. })
        ));
    }

    #[test]
    fn a_reply_late_by_less_than_the_miss_window_keeps_the_link_up() {
        let mut m = LinkMonitor::new(3);
        m.on_send("a", 1, 1);
        assert!(m.on_reply("a", 1, 1, 10).is_some());
        // every reply arrives two intervals late: never three misses in a row
        for seq in 2..50 {
            assert_eq!(m.on_send("a", 1, seq), None, "probe {seq}");
            if seq >= 4 {
                assert_eq!(m.on_reply("a", 1, seq - 2, 10), None);
            }
        }
        assert!(!m.port("a", 1).unwrap().down);
        // three intervals late is outside the window: the link goes down
        let mut m = LinkMonitor::new(3);
        m.on_send("a", 1, 1);
        m.on_reply("a", 1, 1, 10);
        let mut downs = 0;
        for seq in 2..50 {
            downs += usize::from(m.on_send("a", 1, seq).is_some());
            if seq >= 5 {
                m.on_reply("a", 1, seq - 3, 10);
            }
        }
        assert!(downs > 0 && m.port("a", 1).unwrap().down);
    }

    #[test]
    fn stray_and_duplicate_replies_are_ignored() {
        let mut m = LinkMonitor::new(2);
        assert_eq!(m.on_reply("a", 1, 1, 10), None); // never probed
        m.on_send("a", 1, 5);
        assert_eq!(m.on_reply("a", 1, 9, 10), None); // from the future
        assert!(m.on_reply("a", 1, 5, 10).is_some());
        assert_eq!(m.on_reply("a", 1, 5, 10), None);
        assert_eq!(m.port("a", 1).unwrap().received, 1);
    }
}
