//! The scheduler of one switch: its traffic manager plus the emulated link of every port,
//! and the control commands that change them at run time.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::control::{Command, HELP};
use crate::link::{DelayLine, LinkParams, LinkStats};
use crate::tm::{Nanos, PortStats, TrafficManager};

/// Queues and links of one switch.
pub struct Scheduler<Q> {
    /// The traffic manager.
    pub tm: TrafficManager<Q>,
    links: BTreeMap<u32, DelayLine<Vec<u8>>>,
    seed: u64,
}

/// Counters of one port as reported by `stats`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PortReport {
    /// Port number.
    pub port: u32,
    /// Queue counters.
    pub tm: Option<PortStats>,
    /// Link emulation settings.
    pub link: LinkParams,
    /// Link counters.
    pub link_stats: LinkStats,
}

/// The reply line of `stats`: `ok` and the reports as JSON.
pub fn stats_reply(reports: &[PortReport]) -> String {
    format!("ok {}", serde_json::to_string(reports).unwrap_or_default())
}

impl<Q> Scheduler<Q> {
    /// A scheduler with `queues` priority queues per port; link randomness comes from `seed`.
    pub fn new(queues: usize, seed: u64) -> Self {
        Self {
            tm: TrafficManager::new(queues),
            links: BTreeMap::new(),
            seed,
        }
    }

    /// Sets the link emulation of `port`.
    pub fn set_link(&mut self, port: u32, params: LinkParams) {
        self.tm.set_port_rate(port, params.port_rate());
        let seed = self.seed ^ u64::from(port).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.links
            .entry(port)
            .or_insert_with(|| DelayLine::new(params, seed))
            .set_params(params);
    }

    /// The link emulation of `port`.
    pub fn link(&self, port: u32) -> LinkParams {
        self.links
            .get(&port)
            .map(DelayLine::params)
            .unwrap_or_default()
    }

    /// Hands a frame that egress produced for `port` to its link. Returns the frame back when
    /// it should be transmitted at once (no delay or loss on this port), `None` when the link
    /// holds it or lost it.
    pub fn to_link(&mut self, port: u32, frame: Vec<u8>, now: Nanos) -> Option<Vec<u8>> {
        match self.links.get_mut(&port) {
            Some(link) if link.params().has_delay_or_loss() || link.in_flight() > 0 => {
                link.push(frame, now);
                None
            }
            _ => Some(frame),
        }
    }

    /// Frames whose link delay has passed, as (port, frame).
    pub fn due_frames(&mut self, now: Nanos, out: &mut Vec<(u32, Vec<u8>)>) {
        let mut buf = Vec::new();
        for (port, link) in &mut self.links {
            link.pop_due(now, &mut buf);
            out.extend(buf.drain(..).map(|f| (*port, f)));
        }
    }

    /// When something next needs attention (a queue may send or a link delivers).
    pub fn next_event(&self) -> Option<Nanos> {
        let links = self.links.values().filter_map(DelayLine::next_due).min();
        match (self.tm.next_ready(), links) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Counters of one port.
    pub fn report(&self, port: u32) -> PortReport {
        PortReport {
            port,
            tm: self.tm.port_stats(port),
            link: self.link(port),
            link_stats: self
                .links
                .get(&port)
                .map(DelayLine::stats)
                .unwrap_or_default(),
        }
    }

    /// Every port the scheduler knows.
    pub fn ports(&self) -> Vec<u32> {
        let mut ports = self.tm.ports();
        ports.extend(self.links.keys());
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    /// Applies a control command and returns the reply line (without the newline).
    pub fn apply(&mut self, cmd: &Command) -> String {
        match cmd {
            Command::SetQueueDepth {
                depth, port: None, ..
            } => self.tm.set_depth_all(*depth),
            Command::SetQueueDepth {
                depth,
                port: Some(port),
                priority,
            } => self.tm.set_depth(*port, *priority, *depth),
            Command::SetQueueRate {
                pps, port: None, ..
            } => self.tm.set_rate_all(*pps),
            Command::SetQueueRate {
                pps,
                port: Some(port),
                priority,
            } => self.tm.set_rate(*port, *priority, *pps),
            Command::SetLink { port, params } => self.set_link(*port, *params),
            Command::ShowLink { port } => {
                return format!(
                    "ok {}",
                    serde_json::to_string(&self.link(*port)).unwrap_or_default()
                );
            }
            Command::Stats { port } => {
                let ports = port.map_or_else(|| self.ports(), |p| vec![p]);
                let reports: Vec<PortReport> = ports.into_iter().map(|p| self.report(p)).collect();
                return stats_reply(&reports);
            }
            Command::Help => return format!("ok {HELP}"),
        }
        "ok".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::parse;

    #[test]
    fn commands_change_queues_and_links() {
        let mut s = Scheduler::<u32>::new(8, 1);
        assert_eq!(s.apply(&parse("set_queue_rate 3000 2").unwrap()), "ok");
        assert_eq!(s.tm.queue_config(2, 5).rate_pps, Some(3000.0));
        assert_eq!(s.apply(&parse("set_queue_depth 10 2 7").unwrap()), "ok");
        assert_eq!(s.tm.queue_config(2, 7).depth, 10);
        assert_eq!(
            s.tm.queue_config(2, 6).depth,
            crate::tm::DEFAULT_QUEUE_DEPTH
        );
        s.apply(&parse("set_link 3 10 1 0.5 100").unwrap());
        assert_eq!(s.tm.port_rate(3).pps, Some(100.0));
        let shown = s.apply(&parse("show_link 3").unwrap());
        assert!(
            shown.starts_with("ok {") && shown.contains("\"delay_ms\":10.0"),
            "{shown}"
        );
        let stats = s.apply(&parse("stats").unwrap());
        assert!(
            stats.contains("\"port\":2") && stats.contains("\"port\":3"),
            "{stats}"
        );
    }

    #[test]
    fn frames_bypass_links_without_delay() {
        let mut s = Scheduler::<u32>::new(1, 1);
        assert_eq!(s.to_link(1, vec![1], 0), Some(vec![1]));
        s.set_link(
            1,
            LinkParams {
                delay_ms: 1.0,
                ..Default::default()
            },
        );
        assert_eq!(s.to_link(1, vec![2], 0), None);
        assert_eq!(s.next_event(), Some(1_000_000));
        let mut out = Vec::new();
        s.due_frames(1_000_000, &mut out);
        assert_eq!(out, vec![(1, vec![2])]);
    }
}
