//! Port groups: how the ports of one switch are split between its datapath threads, and the
//! queues and links each group owns.
//!
//! The rule: the bound ports, in ascending port number, are cut into `N` contiguous groups of
//! near-equal size (the first groups take one more when the count does not divide). Group 0 also
//! owns every port that is not bound (the CPU port, a port the program names but nobody
//! attached): egress to such a port, and every controller packet-out, run on group 0's thread.
//!
//! A group owns, for its ports, the traffic-manager queues and the emulated links (one
//! [`Scheduler`] per group, behind its own lock), and an [`Injector`] through which other threads
//! hand it work: frames arriving on its in-process ports, packet-outs (group 0), frames egress
//! produced elsewhere for its ports, and wake-ups after another thread queued a packet for one
//! of its ports. Every queue of a port lives in its owner's scheduler only, so strict priority
//! between a port's queues is decided in one place whichever thread ran ingress.
//!
//! Control commands fan out here: per-port commands go to the port's owner, commands for every
//! port to every group, and `stats` gathers every group's ports.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};

use crate::control::Command;
use crate::link::LinkParams;
use crate::port::Injector;
use crate::sched::{PortReport, Scheduler, stats_reply};

/// Splits `ports` into at most `threads` contiguous groups in ascending order (see the module
/// documentation). Always returns at least one group (empty when there are no ports).
pub fn split_ports(ports: &[u32], threads: usize) -> Vec<Vec<u32>> {
    let mut sorted = ports.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let n = threads.clamp(1, sorted.len().max(1));
    let (base, extra) = (sorted.len() / n, sorted.len() % n);
    let mut out = Vec::with_capacity(n);
    let mut rest = sorted.as_slice();
    for g in 0..n {
        let take = base + usize::from(g < extra);
        let (head, tail) = rest.split_at(take);
        out.push(head.to_vec());
        rest = tail;
    }
    out
}

/// One port group: what its thread owns and how other threads reach it.
pub struct Group<Q, O> {
    /// The bound ports this group's thread receives on and transmits from.
    pub ports: Vec<u32>,
    /// Queues and links of the group's ports.
    pub sched: Mutex<Scheduler<Q>>,
    /// Work handed to the group's thread by other threads.
    pub injector: Injector<O>,
    /// Linux thread id of the group's thread (0 before it runs), for CPU-time accounting.
    pub thread_id: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every group of a switch, and which group owns each port.
pub struct Groups<Q, O> {
    groups: Vec<Group<Q, O>>,
    owner: BTreeMap<u32, usize>,
}

impl<Q, O> Groups<Q, O> {
    /// Groups for `ports` served by `threads` threads, with `queues` priority queues per port,
    /// each group's injector holding at most `inject_limit` items; link randomness from `seed`
    /// (per port, so the same whatever the grouping).
    pub fn new(
        ports: &[u32],
        threads: usize,
        queues: usize,
        seed: u64,
        inject_limit: usize,
    ) -> std::io::Result<Self> {
        let mut groups = Vec::new();
        let mut owner = BTreeMap::new();
        for (g, members) in split_ports(ports, threads).into_iter().enumerate() {
            owner.extend(members.iter().map(|p| (*p, g)));
            groups.push(Group {
                ports: members,
                sched: Mutex::new(Scheduler::new(queues, seed)),
                injector: Injector::new(inject_limit)?,
                thread_id: AtomicU64::new(0),
            });
        }
        Ok(Self { groups, owner })
    }

    /// Number of groups (datapath threads).
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Always false: a switch has at least one group.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Group `g`.
    pub fn get(&self, g: usize) -> &Group<Q, O> {
        &self.groups[g]
    }

    /// Every group.
    pub fn iter(&self) -> impl Iterator<Item = &Group<Q, O>> {
        self.groups.iter()
    }

    /// The group that owns `port` (group 0 for ports no group has).
    pub fn owner(&self, port: u32) -> usize {
        self.owner.get(&port).copied().unwrap_or(0)
    }

    /// Locks the scheduler of `port`'s owner.
    pub fn sched_of(&self, port: u32) -> MutexGuard<'_, Scheduler<Q>> {
        lock(&self.groups[self.owner(port)].sched)
    }

    /// Locks group `g`'s scheduler.
    pub fn sched(&self, g: usize) -> MutexGuard<'_, Scheduler<Q>> {
        lock(&self.groups[g].sched)
    }

    /// Wakes every group's thread.
    pub fn wake_all(&self) {
        self.groups.iter().for_each(|g| g.injector.wake());
    }

    /// Applies a control command where it belongs; returns the reply line. Wakes the threads
    /// concerned, since pacing or link deadlines may have changed.
    pub fn apply(&self, cmd: &Command) -> String {
        let port = match cmd {
            Command::SetQueueDepth { port, .. } | Command::SetQueueRate { port, .. } => *port,
            Command::SetLink { port, .. } | Command::ShowLink { port } => Some(*port),
            Command::Stats { port: Some(p) } => Some(*p),
            Command::Stats { port: None } => return stats_reply(&self.reports()),
            Command::Help => Some(0),
        };
        match port {
            Some(p) => {
                let g = self.owner(p);
                let reply = self.sched(g).apply(cmd);
                self.groups[g].injector.wake();
                reply
            }
            None => {
                let mut reply = String::new();
                for g in 0..self.groups.len() {
                    reply = self.sched(g).apply(cmd);
                }
                self.wake_all();
                reply
            }
        }
    }

    /// Counters of every port some group knows, in port order.
    pub fn reports(&self) -> Vec<PortReport> {
        let mut out = Vec::new();
        for g in 0..self.groups.len() {
            let sched = self.sched(g);
            out.extend(
                sched
                    .ports()
                    .into_iter()
                    .filter(|p| self.owner(*p) == g)
                    .map(|p| sched.report(p)),
            );
        }
        out.sort_by_key(|r| r.port);
        out
    }

    /// Counters of one port.
    pub fn report(&self, port: u32) -> PortReport {
        self.sched_of(port).report(port)
    }

    /// Sets the link emulation of `port`.
    pub fn set_link(&self, port: u32, params: LinkParams) {
        let g = self.owner(port);
        self.sched(g).set_link(port, params);
        self.groups[g].injector.wake();
    }

    /// Drops every queued packet of every group; returns how many.
    pub fn clear_queues(&self) -> usize {
        (0..self.groups.len())
            .map(|g| self.sched(g).tm.clear())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::parse;

    #[test]
    fn ports_split_into_contiguous_groups() {
        assert_eq!(split_ports(&[4, 2, 3, 1], 2), vec![vec![1, 2], vec![3, 4]]);
        assert_eq!(split_ports(&[1, 2, 3], 2), vec![vec![1, 2], vec![3]]);
        assert_eq!(split_ports(&[1, 2], 5), vec![vec![1], vec![2]]);
        assert_eq!(split_ports(&[7], 0), vec![vec![7]]);
        assert_eq!(split_ports(&[], 3), vec![Vec::<u32>::new()]);
        assert_eq!(
            split_ports(&[1, 2, 3, 4, 5], 3),
            vec![vec![1, 2], vec![3, 4], vec![5]]
        );
    }

    #[test]
    fn commands_reach_the_owner_or_everyone() {
        let g = Groups::<u32, ()>::new(&[1, 2, 3, 4], 2, 8, 1, 16).unwrap();
        assert_eq!((g.owner(2), g.owner(3), g.owner(255)), (0, 1, 0));
        assert_eq!(g.apply(&parse("set_queue_rate 3000 3").unwrap()), "ok");
        assert_eq!(g.sched(1).tm.queue_config(3, 0).rate_pps, Some(3000.0));
        assert_eq!(g.sched(0).tm.queue_config(3, 0).rate_pps, None);
        assert_eq!(g.apply(&parse("set_queue_depth 9").unwrap()), "ok");
        assert_eq!(g.sched(0).tm.queue_config(1, 0).depth, 9);
        assert_eq!(g.sched(1).tm.queue_config(4, 7).depth, 9);
        g.apply(&parse("set_link 4 10 0 0").unwrap());
        assert_eq!(g.report(4).link.delay_ms, 10.0);
        assert_eq!(g.sched(0).link(4).delay_ms, 0.0);
        let stats = g.apply(&parse("stats").unwrap());
        assert!(
            stats.contains("\"port\":3") && stats.contains("\"port\":4"),
            "{stats}"
        );
        assert_eq!(
            g.reports().iter().map(|r| r.port).collect::<Vec<_>>(),
            vec![3, 4]
        );
    }
}
