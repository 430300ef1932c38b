//! Links: probes out of every linked port, the replies that come back as packet-ins, link
//! up/down events with their port-down entries, rerouting around failed links, link state
//! learned from other anchors, and the link status pages.

use tracing::{info, warn};

use serde::Serialize;

use crate::p4rt::spec::{EntrySpec, EntryUpdate, diff};
use crate::sdn::flash_mesh::{self as fm, names};
use crate::sdn::monitor::{LinkEvent, PortStats};
use crate::sdn::probe::{self, Probe};
use crate::sdn::topology::{Link, LinkState};

use super::desired::desired_entries;
use super::{Controller, ControllerEvent, EntryStore, Shared, State};

/// Links and their probe statistics, for status pages.
#[derive(Debug, Clone, Serialize)]
pub struct LinkStatus {
    /// The link.
    pub link: Link,
    /// Probe statistics of end a (if driven).
    pub a: Option<PortStats>,
    /// Probe statistics of end b (if driven).
    pub b: Option<PortStats>,
}

impl Shared {
    /// Writes route changes to every switch (state lock held by the caller).
    async fn update_routes(&self, st: &mut State) -> usize {
        let want: Vec<(String, Vec<EntrySpec>)> = {
            let intent = st.intent();
            self.switches
                .iter()
                .map(|s| {
                    let routes = desired_entries(&intent, &s.node, &[names::IPV4_LPM]);
                    (s.node.clone(), routes)
                })
                .collect()
        };
        let mut n = 0;
        for (node, entries) in want {
            if !self.is_primary(&node) {
                continue; // reconciled when mastership comes back
            }
            let cur = st.routes.get(&node).cloned().unwrap_or_default();
            let ups = diff(&cur, &entries);
            if ups.is_empty() {
                continue;
            }
            match EntryStore::write(self, &node, &ups).await {
                Ok(()) => {
                    n += ups.len();
                    st.routes.insert(node, entries);
                }
                Err(e) => {
                    warn!(node, "route update failed: {e}");
                    // re-read what is there so the next diff starts from the truth
                    if let Ok(s) = self.session(&node)
                        && let Ok(now) = s.read_table(names::IPV4_LPM).await
                    {
                        st.routes.insert(node, now);
                    }
                }
            }
        }
        if n > 0 {
            self.emit(ControllerEvent::RoutesUpdated { updates: n });
        }
        n
    }

    async fn on_link_event(&self, ev: LinkEvent) {
        let mut st = self.state.lock().await;
        match &ev {
            LinkEvent::Down { node, port } => {
                info!(node, port, "link down");
                st.topology.set_state(node, *port, LinkState::Down);
                if st.down.entry(node.clone()).or_default().insert(*port) {
                    let u = EntryUpdate::insert(fm::port_down_entry(*port));
                    if let Err(e) = EntryStore::write(self, node, &[u]).await {
                        warn!(node, port, "port_down insert failed: {e}");
                    }
                }
                self.emit(ControllerEvent::LinkDown {
                    node: node.clone(),
                    port: *port,
                });
                self.update_routes(&mut st).await;
            }
            LinkEvent::Up { node, port } => {
                st.topology.set_state(node, *port, LinkState::Up);
                if st.down.entry(node.clone()).or_default().remove(port) {
                    info!(node, port, "link up again");
                    let u = EntryUpdate::delete(fm::port_down_entry(*port));
                    if let Err(e) = EntryStore::write(self, node, &[u]).await {
                        warn!(node, port, "port_down delete failed: {e}");
                    }
                    self.update_routes(&mut st).await;
                }
                self.emit(ControllerEvent::LinkUp {
                    node: node.clone(),
                    port: *port,
                });
            }
        }
    }

    /// One round of probes out of every linked port of every driven switch.
    pub(super) async fn probe_round(&self) {
        let (events, frames) = {
            let mut st = self.state.lock().await;
            st.probe_seq += 1;
            let seq = st.probe_seq;
            let epoch = *self.epoch_tx.borrow();
            let mut events = Vec::new();
            let mut frames = Vec::new();
            for s in &self.switches {
                if !self.is_primary(&s.node) {
                    continue; // a backup's packet-outs are not served
                }
                let Some(me) = st.topology.node(&s.node).cloned() else {
                    continue;
                };
                let ports: Vec<(u16, Link)> = st
                    .topology
                    .ports_of(&s.node)
                    .into_iter()
                    .map(|(p, l)| (p, l.clone()))
                    .collect();
                for (port, link) in ports {
                    if let Some(ev) = st.monitor.on_send(&s.node, port, seq) {
                        events.push(ev);
                    }
                    let far = link.far_end(&s.node, port).expect("own port");
                    let dmac = st
                        .topology
                        .node(&far.node)
                        .map(|n| n.mac)
                        .unwrap_or([0xff; 6]);
                    let p = Probe {
                        origin: self.sender_tag,
                        port,
                        seq,
                        sent_ns: self.now_ns(),
                        epoch,
                        reply: false,
                    };
                    let frame = probe::build(&p, me.mac, dmac, s.probe_ip, s.probe_ip);
                    frames.push((s.node.clone(), port, frame));
                }
            }
            (events, frames)
        };
        for (node, port, frame) in frames {
            if let Ok(s) = self.session(&node) {
                let md = [
                    (names::PO_EGRESS_PORT, u128::from(port)),
                    (names::PO_FLAGS, 0),
                ];
                if let Err(e) = s.packet_out(frame, &md).await {
                    warn!(node, port, "probe packet-out failed: {e}");
                }
            }
        }
        for ev in events {
            self.on_link_event(ev).await;
        }
    }

    pub(super) async fn on_packet_in(&self, node: &str, p: crate::p4rt::PacketIn) {
        if p.get(names::PI_REASON) != Some(u128::from(fm::REASON_PROBE_REPLY)) {
            return;
        }
        let Ok(pr) = probe::parse(&p.payload) else {
            return;
        };
        if pr.origin != self.sender_tag || !pr.reply {
            return;
        }
        let in_port = p.get(names::PI_INGRESS_PORT).unwrap_or(u128::MAX);
        if in_port != u128::from(pr.port) {
            return; // came back on another port than it left: not this link's answer
        }
        let rtt_us = self.now_ns().saturating_sub(pr.sent_ns) / 1000;
        let ev = self
            .state
            .lock()
            .await
            .monitor
            .on_reply(node, pr.port, pr.seq, rtt_us);
        if let Some(ev) = ev {
            self.on_link_event(ev).await;
        }
    }
}

impl Controller {
    /// Link state another anchor's probes established for a link this controller does not
    /// probe (neither end is one of its switches): link-state flooding among anchors, so that
    /// every controller routes around a link that is down anywhere in the mesh. A link with an
    /// end on one of this controller's switches is left to its own probes. Returns whether the
    /// topology changed (and routes were recomputed).
    pub async fn learn_link(&self, node: &str, port: u16, up: bool) -> bool {
        let sh = &self.shared;
        let mut st = sh.state.lock().await;
        let Some(link) = st
            .topology
            .links()
            .iter()
            .find(|l| l.far_end(node, port).is_some())
        else {
            return false;
        };
        let probed_here = sh
            .switches
            .iter()
            .any(|s| s.node == link.a.node || s.node == link.b.node);
        if probed_here {
            return false;
        }
        let state = if up { LinkState::Up } else { LinkState::Down };
        let was_usable = link.usable();
        if !st.topology.set_state(node, port, state) {
            return false;
        }
        if was_usable != (state != LinkState::Down) {
            info!(node, port, up, "remote link state learned");
            sh.update_routes(&mut st).await;
        }
        true
    }

    /// The state of every link end this controller probes, as `(node, port, up)`: what it
    /// tells the other anchors when one (re)joins.
    pub async fn probed_link_states(&self) -> Vec<(String, u16, bool)> {
        let st = self.shared.state.lock().await;
        let mut out = Vec::new();
        for l in st.topology.links() {
            for end in [&l.a, &l.b] {
                if let Some(p) = st.monitor.port(&end.node, end.port)
                    && (p.confirmed || p.down)
                {
                    out.push((end.node.clone(), end.port, !p.down));
                }
            }
        }
        out
    }

    /// The topology's links with their probe statistics.
    pub async fn links(&self) -> Vec<LinkStatus> {
        let st = self.shared.state.lock().await;
        st.topology
            .links()
            .iter()
            .map(|l| LinkStatus {
                link: l.clone(),
                a: st.monitor.port(&l.a.node, l.a.port).cloned(),
                b: st.monitor.port(&l.b.node, l.b.port).cloned(),
            })
            .collect()
    }
}
