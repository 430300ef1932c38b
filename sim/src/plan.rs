//! The fault plan of one run: every fault the run will inject, drawn from the scenario's
//! `[faults]` and the seed before the run starts, as a list of items that can be switched off
//! one by one (that is how a failing run is shrunk to the faults that matter).

use flashmesh_scenario::Scenario;
use flashmesh_scenario::file::{ByzantineBehaviour, ByzantinePayerBehaviour};
use serde::Serialize;

use crate::agenda::{Micros, ms};
use crate::rng::{SimRng, Stream};

/// One planned fault.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum FaultItem {
    /// Extra loss on every link for the whole run.
    Loss {
        /// Probability.
        p: f64,
    },
    /// Datagrams delivered twice.
    Duplicate {
        /// Probability.
        p: f64,
    },
    /// Datagrams held back behind later ones.
    Reorder {
        /// Probability.
        p: f64,
    },
    /// An authority's process dies (what was not committed is lost) and restarts from its store.
    Crash {
        /// Merchant node.
        node: usize,
        /// When.
        at: Micros,
        /// Down time.
        down: Micros,
    },
    /// The listed nodes are cut off from the rest, then healed.
    Partition {
        /// One side.
        side: Vec<usize>,
        /// When.
        at: Micros,
        /// Length.
        length: Micros,
    },
    /// A Byzantine authority.
    Byzantine {
        /// Merchant node.
        node: usize,
        /// What it does.
        behaviour: ByzantineBehaviour,
    },
    /// A Byzantine payer.
    ByzantinePayer {
        /// Phone node.
        node: usize,
        /// What it does.
        behaviour: ByzantinePayerBehaviour,
    },
}

impl FaultItem {
    /// When a timed fault is over (crash restarted, partition healed); 0 for the others.
    pub fn ends_at(&self) -> Micros {
        match self {
            FaultItem::Crash { at, down, .. } => at + down,
            FaultItem::Partition { at, length, .. } => at + length,
            _ => 0,
        }
    }
    /// A short name for counters.
    pub fn kind(&self) -> &'static str {
        match self {
            FaultItem::Loss { .. } => "loss",
            FaultItem::Duplicate { .. } => "duplicate",
            FaultItem::Reorder { .. } => "reorder",
            FaultItem::Crash { .. } => "crash",
            FaultItem::Partition { .. } => "partition",
            FaultItem::Byzantine { .. } => "byzantine_authority",
            FaultItem::ByzantinePayer { .. } => "byzantine_payer",
        }
    }
}

/// The faults of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FaultPlan {
    /// Every fault, in the order drawn.
    pub items: Vec<FaultItem>,
}

impl FaultPlan {
    /// Draws the plan of `scenario` for `seed`: crash and partition times are a Poisson process
    /// at the scenario's rates over the workload's span (so that the run ends fault-free and
    /// liveness can be judged), victims drawn uniformly among the merchants.
    pub fn draw(scenario: &Scenario, seed: u64) -> FaultPlan {
        let f = &scenario.faults;
        let mut rng = SimRng::new(seed, Stream::Faults);
        let mut items = Vec::new();
        if f.loss > 0.0 {
            items.push(FaultItem::Loss { p: f.loss });
        }
        if f.duplicate > 0.0 {
            items.push(FaultItem::Duplicate { p: f.duplicate });
        }
        if f.reorder > 0.0 {
            items.push(FaultItem::Reorder { p: f.reorder });
        }
        for &(node, behaviour) in &f.byzantine {
            items.push(FaultItem::Byzantine { node, behaviour });
        }
        for &(node, behaviour) in &f.byzantine_payers {
            items.push(FaultItem::ByzantinePayer { node, behaviour });
        }
        let merchants = scenario.merchants();
        let span = ms(scenario.workload.stop_ms.min(scenario.duration_ms) as f64);
        if f.crash_rate_per_s > 0.0 && !merchants.is_empty() {
            let mut t = 0.0;
            loop {
                t += rng.exponential(1e6 / f.crash_rate_per_s);
                if t >= span as f64 {
                    break;
                }
                let node = merchants[rng.index(merchants.len())];
                let down = ms(f.restart_ms as f64).max(1);
                items.push(FaultItem::Crash {
                    node,
                    at: t as Micros,
                    down,
                });
            }
        }
        if f.partition_rate_per_s > 0.0 && merchants.len() > 1 {
            let mut t = 0.0;
            loop {
                t += rng.exponential(1e6 / f.partition_rate_per_s);
                if t >= span as f64 {
                    break;
                }
                // Cut off between one and half of the merchants (with what hangs on them).
                let k = 1 + rng.index(merchants.len() / 2);
                let mut pool = merchants.clone();
                let mut side = Vec::new();
                for _ in 0..k {
                    side.push(pool.swap_remove(rng.index(pool.len())));
                }
                side.sort_unstable();
                items.push(FaultItem::Partition {
                    side,
                    at: t as Micros,
                    length: ms(f.heal_ms as f64).max(1),
                });
            }
        }
        FaultPlan { items }
    }

    /// The plan without the items whose flag in `keep` is false.
    pub fn subset(&self, keep: &[bool]) -> FaultPlan {
        FaultPlan {
            items: self
                .items
                .iter()
                .zip(keep)
                .filter(|(_, k)| **k)
                .map(|(i, _)| i.clone())
                .collect(),
        }
    }

    /// When the last timed fault is over.
    pub fn faults_end(&self) -> Micros {
        self.items.iter().map(FaultItem::ends_at).max().unwrap_or(0)
    }
}
