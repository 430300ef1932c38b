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

struct Entry<E> {
    at: Micros,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: the earliest (then first scheduled) must compare greatest.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A time-ordered queue of events.
pub struct Agenda<E> {
    heap: BinaryHeap<Entry<E>>,
    seq: u64,
    now: Micros,
}

impl<E> Default for Agenda<E> {
    fn default() -> Self {
        Agenda {
            heap: BinaryHeap::new(),
            seq: 0,
            now: 0,
        }
    }
}

impl<E> Agenda<E> {
    /// The time of the event being handled.
    pub fn now(&self) -> Micros {
        self.now
    }
    /// Schedules `event` at `at` (never before now).
    pub fn at(&mut self, at: Micros, event: E) {
        let at = at.max(self.now);
        self.seq += 1;
        self.heap.push(Entry {
            at,
            seq: self.seq,
            event,
        });
    }
    /// Schedules `event` `delay` from now.
    pub fn after(&mut self, delay: Micros, event: E) {
        self.at(self.now.saturating_add(delay), event);
    }
    /// The next event, advancing the clock to it.
    pub fn pop(&mut self) -> Option<(Micros, E)> {
        let e = self.heap.pop()?;
        self.now = e.at;
        Some((e.at, e.event))
    }
    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }
    /// Whether nothing waits.
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
