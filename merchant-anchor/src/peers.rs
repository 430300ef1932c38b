//! The anchor's view of its committee peers, from their heartbeats: who was heard within the
//! timeout, when, how many certificates each has applied, whether they and this anchor reach a
//! quorum weight, and which of this anchor's applied certificates each peer should be sent.
//!
//! Pure: no sockets, no clocks. Time comes in as milliseconds on the caller's monotonic clock,
//! this anchor's own applied count as an argument; what to send comes out as values
//! ([`SyncPush`], [`SyncAsk`]) that the I/O edge (`liveness.rs`) turns into datagrams.
//!
//! Catch-up positions count this anchor's applied certificates in apply order (what its
//! heartbeats report as `applied`). A peer is sent the certificates from a position on when:
//! - it is heard again after a silence longer than the timeout (*reconnection*): from this
//!   anchor's applied count when it last heard the peer;
//! - it reports an `applied` below what this anchor had applied a timeout ago (*lagging*: it
//!   dropped some): from this anchor's applied count when the peer last reported being level;
//! - it asks with a SYNC: from the position it names.
//!
//! On reconnection to a peer that has applied more than this anchor, the view also asks that
//! peer (a [`SyncAsk`]) for its certificates from its `applied` before the silence.

use std::collections::VecDeque;
use std::net::SocketAddr;

use flashmesh_core::messages::{
    Heartbeat, LivenessError, SyncRequest, Verified, check_liveness_epoch,
};
use flashmesh_core::{AuthorityTag, Committee};

/// What the view is told about timing and bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewLimits {
    /// A peer not heard for longer than this is not seen.
    pub timeout_ms: u64,
    /// At most this many certificates to one peer per tick.
    pub batch: u64,
}

/// One peer of the committee.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Its tag.
    pub tag: AuthorityTag,
    /// Its name in the committee file.
    pub name: String,
    /// Its weight.
    pub weight: u64,
    /// Its BCB address, if the committee file's address parses.
    pub addr: Option<SocketAddr>,
    last_heard_ms: Option<u64>,
    last_counter: Option<u64>,
    applied: u64,
    epoch: u32,
    /// This anchor's applied count when it last heard the peer.
    mine_when_heard: u64,
    /// This anchor's applied count when the peer last reported being level with it.
    level_at: u64,
    /// Next position of this anchor's apply order to send the peer, while catching it up.
    push_from: Option<u64>,
}

impl Peer {
    fn seen(&self, now_ms: u64, timeout_ms: u64) -> bool {
        self.last_heard_ms
            .is_some_and(|t| now_ms.saturating_sub(t) <= timeout_ms)
    }
}

/// A peer's line in `/status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PeerStatus {
    /// Its name.
    pub name: String,
    /// Heard within the timeout.
    pub seen: bool,
    /// Milliseconds since it was last heard (`None`: never).
    pub last_heard_ms_ago: Option<u64>,
    /// Certificates it reported applied.
    pub applied: u64,
    /// Its last reported epoch.
    pub epoch: u32,
    /// Whether it is being sent certificates it missed.
    pub catching_up: bool,
}

/// Send `peer` this anchor's applied certificates at positions `from..to`, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncPush {
    /// Index of the peer in [`PeerView::peers`].
    pub peer: usize,
    /// First position.
    pub from: u64,
    /// One past the last position.
    pub to: u64,
}

/// Ask `peer` for its certificates from its position `from` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncAsk {
    /// Index of the peer in [`PeerView::peers`].
    pub peer: usize,
    /// First position of the peer's apply order.
    pub from: u64,
}

/// What an accepted heartbeat changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Heard {
    /// The peer was not seen before this heartbeat.
    pub came_back: bool,
}

/// The view of every peer (the committee without this anchor).
#[derive(Debug, Clone)]
pub struct PeerView {
    me: AuthorityTag,
    my_weight: u64,
    quorum: u64,
    limits: ViewLimits,
    peers: Vec<Peer>,
    /// This anchor's applied count at each tick, oldest first, one timeout's worth.
    history: VecDeque<(u64, u64)>,
    asks: Vec<SyncAsk>,
}

impl PeerView {
    /// The view of `committee`'s members other than `me`, none heard yet.
    pub fn new(committee: &Committee, me: AuthorityTag, limits: ViewLimits) -> PeerView {
        let peers = committee
            .members()
            .iter()
            .filter(|m| m.tag() != me)
            .map(|m| Peer {
                tag: m.tag(),
                name: m.name().to_owned(),
                weight: m.weight(),
                addr: m.address().parse().ok(),
                last_heard_ms: None,
                last_counter: None,
                applied: 0,
                epoch: 0,
                mine_when_heard: 0,
                level_at: 0,
                push_from: None,
            })
            .collect();
        PeerView {
            me,
            my_weight: committee.weight(&me),
            quorum: committee.quorum(),
            limits,
            peers,
            history: VecDeque::new(),
            asks: Vec::new(),
        }
    }

    /// The peers, in committee order.
    pub fn peers(&self) -> &[Peer] {
        &self.peers
    }

    fn index(&self, tag: &AuthorityTag) -> Result<usize, LivenessError> {
        if *tag == self.me {
            return Err(LivenessError::FromSelf);
        }
        self.peers
            .iter()
            .position(|p| p.tag == *tag)
            .ok_or(LivenessError::UnknownSender(*tag))
    }

    /// Checks the epoch window and that `counter` is above the last one of `tag`; on success
    /// records the counter. Returns the peer's index.
    fn fresh(
        &mut self,
        tag: &AuthorityTag,
        epoch: u32,
        counter: u64,
        current_epoch: u32,
    ) -> Result<usize, LivenessError> {
        let i = self.index(tag)?;
        check_liveness_epoch(epoch, current_epoch)?;
        let p = &mut self.peers[i];
        if let Some(last) = p.last_counter
            && counter <= last
        {
            return Err(LivenessError::ReplayedCounter { last, got: counter });
        }
        p.last_counter = Some(counter);
        Ok(i)
    }

    /// This anchor's applied count a timeout before `now_ms` (0 if the history is younger).
    fn mine_a_timeout_ago(&self, now_ms: u64) -> u64 {
        let then = now_ms.saturating_sub(self.limits.timeout_ms);
        self.history
            .iter()
            .take_while(|(t, _)| *t <= then)
            .last()
            .map_or(0, |(_, a)| *a)
    }

    /// Takes in a heartbeat whose signature was checked, received at `now_ms` while this
    /// anchor is in `current_epoch` and has applied `mine` certificates.
    pub fn accept_heartbeat(
        &mut self,
        now_ms: u64,
        hb: &Verified<Heartbeat>,
        current_epoch: u32,
        mine: u64,
    ) -> Result<Heard, LivenessError> {
        let i = self.fresh(&hb.authority, hb.epoch, hb.counter, current_epoch)?;
        let lagged_mine = self.mine_a_timeout_ago(now_ms);
        let timeout = self.limits.timeout_ms;
        let p = &mut self.peers[i];
        let came_back = !p.seen(now_ms, timeout);
        if came_back && p.last_heard_ms.is_some() {
            // back after a silence: everything applied here since then may be missing there
            let from = p.mine_when_heard.min(p.level_at);
            p.push_from = Some(p.push_from.map_or(from, |f| f.min(from)));
            if hb.applied > mine {
                self.asks.push(SyncAsk {
                    peer: i,
                    from: p.applied,
                });
            }
        } else if p.push_from.is_none() && hb.applied < lagged_mine {
            // heard all along but behind what this anchor had a timeout ago: it dropped some
            p.push_from = Some(p.level_at);
        }
        if hb.applied >= mine {
            p.level_at = mine;
        }
        p.last_heard_ms = Some(now_ms);
        p.applied = hb.applied;
        p.epoch = hb.epoch;
        p.mine_when_heard = mine;
        Ok(Heard { came_back })
    }

    /// Takes in a sync request whose signature was checked: the peer is sent this anchor's
    /// certificates from `from` on (paced by [`PeerView::tick`]).
    pub fn accept_sync(
        &mut self,
        sync: &Verified<SyncRequest>,
        current_epoch: u32,
    ) -> Result<(), LivenessError> {
        let i = self.fresh(&sync.authority, sync.epoch, sync.counter, current_epoch)?;
        let p = &mut self.peers[i];
        p.push_from = Some(p.push_from.map_or(sync.from, |f| f.min(sync.from)));
        Ok(())
    }

    /// One heartbeat interval passed: records this anchor's applied count `mine` and returns
    /// what to send each seen peer that is catching up, at most the batch each.
    pub fn tick(&mut self, now_ms: u64, mine: u64) -> Vec<SyncPush> {
        self.history.push_back((now_ms, mine));
        let keep_from = now_ms.saturating_sub(self.limits.timeout_ms.saturating_mul(2));
        while self.history.len() > 1 && self.history.front().is_some_and(|(t, _)| *t < keep_from) {
            self.history.pop_front();
        }
        let (timeout, batch) = (self.limits.timeout_ms, self.limits.batch.max(1));
        let mut out = Vec::new();
        for (i, p) in self.peers.iter_mut().enumerate() {
            let Some(from) = p.push_from else { continue };
            if from >= mine {
                p.push_from = None;
                continue;
            }
            if !p.seen(now_ms, timeout) {
                continue;
            }
            let to = mine.min(from.saturating_add(batch));
            out.push(SyncPush { peer: i, from, to });
            p.push_from = (to < mine).then_some(to);
        }
        out
    }

    /// The sync requests to send, once each.
    pub fn take_asks(&mut self) -> Vec<SyncAsk> {
        std::mem::take(&mut self.asks)
    }

    /// Whether peer `i` was heard within the timeout.
    pub fn is_seen(&self, i: usize, now_ms: u64) -> bool {
        self.peers
            .get(i)
            .is_some_and(|p| p.seen(now_ms, self.limits.timeout_ms))
    }

    /// Weight of this anchor plus every peer heard within the timeout.
    pub fn visible_weight(&self, now_ms: u64) -> u64 {
        self.peers
            .iter()
            .filter(|p| p.seen(now_ms, self.limits.timeout_ms))
            .map(|p| p.weight)
            .fold(self.my_weight, u64::saturating_add)
    }

    /// Whether this anchor and the peers it heard within the timeout reach the quorum weight.
    pub fn sees_quorum(&self, now_ms: u64) -> bool {
        self.visible_weight(now_ms) >= self.quorum
    }

    /// Every peer's status line.
    pub fn status(&self, now_ms: u64) -> Vec<PeerStatus> {
        self.peers
            .iter()
            .map(|p| PeerStatus {
                name: p.name.clone(),
                seen: p.seen(now_ms, self.limits.timeout_ms),
                last_heard_ms_ago: p.last_heard_ms.map(|t| now_ms.saturating_sub(t)),
                applied: p.applied,
                epoch: p.epoch,
                catching_up: p.push_from.is_some(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashmesh_core::Keypair;

    fn setup() -> (Committee, Vec<Keypair>, PeerView) {
        let keys: Vec<Keypair> = (0..4).map(|i| Keypair::from_seed(&[60 + i; 32])).collect();
        let c = flashmesh_core::testing::committee_of(&keys, 7000);
        let v = PeerView::new(
            &c,
            keys[0].tag(),
            ViewLimits {
                timeout_ms: 1500,
                batch: 10,
            },
        );
        (c, keys, v)
    }

    fn hb(c: &Committee, k: &Keypair, counter: u64, applied: u64) -> Verified<Heartbeat> {
        Heartbeat::sign(1, counter, applied, k).verify(c).unwrap()
    }

    #[test]
    fn quorum_needs_two_peers_of_four_and_expires() {
        let (c, k, mut v) = setup();
        assert_eq!(v.peers().len(), 3);
        assert!(!v.sees_quorum(0));
        v.accept_heartbeat(100, &hb(&c, &k[1], 1, 0), 1, 0).unwrap();
        assert!(!v.sees_quorum(100));
        v.accept_heartbeat(200, &hb(&c, &k[2], 1, 0), 1, 0).unwrap();
        assert!(v.sees_quorum(200));
        assert!(v.sees_quorum(1600));
        assert!(!v.sees_quorum(1601), "a1 timed out");
        let s = v.status(1601);
        assert_eq!(s[0].name, "a1");
        assert!(!s[0].seen && s[1].seen && s[2].last_heard_ms_ago.is_none());
    }

    #[test]
    fn replays_epochs_strangers_and_self_are_refused() {
        let (c, k, mut v) = setup();
        v.accept_heartbeat(0, &hb(&c, &k[1], 5, 0), 1, 0).unwrap();
        assert_eq!(
            v.accept_heartbeat(1, &hb(&c, &k[1], 5, 0), 1, 0),
            Err(LivenessError::ReplayedCounter { last: 5, got: 5 })
        );
        assert_eq!(
            v.accept_heartbeat(1, &hb(&c, &k[1], 6, 0), 3, 0),
            Err(LivenessError::WrongEpoch {
                epoch: 1,
                current: 3
            })
        );
        assert_eq!(
            v.accept_heartbeat(1, &hb(&c, &k[0], 1, 0), 1, 0),
            Err(LivenessError::FromSelf)
        );
        let sync = SyncRequest::sign(k[0].tag(), 1, 6, 0, 5, &k[1])
            .verify(&c, &k[0].tag())
            .unwrap();
        v.accept_sync(&sync, 1).unwrap();
        assert_eq!(
            v.accept_sync(&sync, 1),
            Err(LivenessError::ReplayedCounter { last: 6, got: 6 })
        );
    }

    #[test]
    fn a_peer_back_after_a_silence_is_sent_what_it_missed_in_batches() {
        let (c, k, mut v) = setup();
        v.accept_heartbeat(0, &hb(&c, &k[1], 1, 3), 1, 3).unwrap();
        assert!(v.tick(500, 3).is_empty());
        // silence; this anchor applies 22 more
        assert!(v.tick(5000, 25).is_empty());
        let heard = v
            .accept_heartbeat(5100, &hb(&c, &k[1], 2, 3), 1, 25)
            .unwrap();
        assert!(heard.came_back);
        assert_eq!(v.take_asks(), vec![]);
        assert_eq!(
            v.tick(5500, 25),
            vec![SyncPush {
                peer: 0,
                from: 3,
                to: 13
            }]
        );
        assert_eq!(
            v.tick(6000, 25),
            vec![SyncPush {
                peer: 0,
                from: 13,
                to: 23
            }]
        );
        assert_eq!(
            v.tick(6500, 25),
            vec![SyncPush {
                peer: 0,
                from: 23,
                to: 25
            }]
        );
        assert!(v.tick(7000, 25).is_empty());
        assert!(!v.status(7000)[0].catching_up);
    }

    #[test]
    fn a_lagging_peer_is_caught_up_and_a_richer_one_is_asked() {
        let (c, k, mut v) = setup();
        v.accept_heartbeat(0, &hb(&c, &k[1], 1, 0), 1, 0).unwrap();
        v.tick(0, 0);
        v.tick(500, 4);
        v.tick(1000, 4);
        v.tick(1500, 4);
        v.tick(2000, 4);
        v.accept_heartbeat(2000, &hb(&c, &k[1], 2, 0), 1, 4)
            .unwrap();
        assert_eq!(
            v.tick(2500, 4),
            vec![SyncPush {
                peer: 0,
                from: 0,
                to: 4
            }]
        );
        // a2 was heard, went silent, and comes back having applied more than this anchor
        v.accept_heartbeat(2500, &hb(&c, &k[2], 1, 4), 1, 4)
            .unwrap();
        v.accept_heartbeat(9000, &hb(&c, &k[2], 2, 9), 1, 4)
            .unwrap();
        assert_eq!(v.take_asks(), vec![SyncAsk { peer: 1, from: 4 }]);
        assert!(v.take_asks().is_empty());
    }
}
