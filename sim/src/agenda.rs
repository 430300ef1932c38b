//! The agenda: events ordered by virtual time, ties broken by the order they were scheduled, so
//! that a run is a pure function of its seed.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Virtual time in microseconds since the start of the run.
pub type Micros = u64;

/// Milliseconds to [`Micros`].
pub fn ms(v: f64) -> Micros {
    if v <= 0.0 {
        0
    } else {
        (v * 1000.0).round() as Micros
    }
}

/// [`Micros`] to milliseconds.
pub fn to_ms(t: Micros) -> f64 {
    t as f64 / 1000.0
}

/// A heap entry: the time, the tie-breaking sequence number and the slot of the event, small
/// so that sifting moves little (events themselves carry whole datagrams).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    at: Micros,
    seq: u64,
    slot: u32,
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: the earliest (then first scheduled) must compare greatest.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Scheduled events in virtual time.
pub struct Agenda<E> {
    heap: BinaryHeap<Entry>,
    slots: Vec<Option<E>>,
    free: Vec<u32>,
    seq: u64,
    now: Micros,
}

impl<E> Default for Agenda<E> {
    fn default() -> Self {
        Agenda {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            seq: 0,
            now: 0,
        }
    }
}

impl<E> Agenda<E> {
    /// The current virtual time.
    pub fn now(&self) -> Micros {
        self.now
    }
    /// Schedules `event` at `at` (never before now).
    pub fn at(&mut self, at: Micros, event: E) {
        let at = at.max(self.now);
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(event);
                i
            }
            None => {
                self.slots.push(Some(event));
                (self.slots.len() - 1) as u32
            }
        };
        self.heap.push(Entry {
            at,
            seq: self.seq,
            slot,
        });
    }
    /// Schedules `event` `delay` after now.
    pub fn after(&mut self, delay: Micros, event: E) {
        self.at(self.now.saturating_add(delay), event);
    }
    /// The next event, advancing the time to it.
    pub fn pop(&mut self) -> Option<(Micros, E)> {
        let e = self.heap.pop()?;
        self.now = e.at;
        let event = self.slots[e.slot as usize].take()?;
        self.free.push(e.slot);
        Some((e.at, event))
    }
    /// Events scheduled.
    pub fn len(&self) -> usize {
        self.heap.len()
    }
    /// Whether nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_order_then_schedule_order() {
        let mut a = Agenda::default();
        a.at(5, "c");
        a.at(1, "a");
        a.at(5, "d");
        a.at(1, "b");
        let got: Vec<_> = std::iter::from_fn(|| a.pop()).collect();
        assert_eq!(got, vec![(1, "a"), (1, "b"), (5, "c"), (5, "d")]);
    }

    #[test]
    fn never_schedules_into_the_past() {
        let mut a = Agenda::default();
        a.at(10, 1);
        a.pop();
        a.at(3, 2);
        assert_eq!(a.pop(), Some((10, 2)));
        assert_eq!(a.now(), 10);
    }
}
