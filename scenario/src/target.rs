//! What each target can run. A scenario asking for something a target cannot do is refused by
//! name before anything starts (BMv2 on these kernels has no link delay, jitter or loss: there
//! is no netem; the simulator has no real processes to SIGKILL but models the crash).

use std::fmt;

use crate::resolve::{EventKind, Scenario};

/// The three targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// In-process mesh.
    Embedded,
    /// Mininet hosts and real switch processes (root).
    Mininet,
    /// Deterministic simulator.
    Sim,
}

impl TargetKind {
    /// As on the command line.
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Embedded => "embedded",
            TargetKind::Mininet => "mininet",
            TargetKind::Sim => "sim",
        }
    }
}

/// The switch a target runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchKind {
    /// flash-switch (embedded, or the binary on mininet).
    FlashSwitch,
    /// BMv2 `simple_switch_grpc` (mininet only).
    Bmv2,
    /// The simulator's model of the data plane.
    Model,
}

impl SwitchKind {
    /// As on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SwitchKind::FlashSwitch => "flash-switch",
            SwitchKind::Bmv2 => "bmv2",
            SwitchKind::Model => "model",
        }
    }
}

/// A target with its switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Which target.
    pub kind: TargetKind,
    /// Which switch.
    pub switch: SwitchKind,
}

/// Why a target refuses a scenario: the feature, and where the scenario asks for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Unsupported {
    /// The target.
    pub target: String,
    /// The feature it lacks.
    pub feature: String,
    /// Where the scenario asks for it (`link m0-m1`, `event 3 (replay)`).
    pub at: String,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "target {} cannot run this scenario: {} (asked for by {})",
            self.target, self.feature, self.at
        )
    }
}

impl Target {
    /// Checks `scenario` against what this target can do.
    pub fn check(&self, scenario: &Scenario) -> Result<(), Unsupported> {
        let refuse = |feature: &str, at: String| Unsupported {
            target: format!("{} ({})", self.kind.name(), self.switch.name()),
            feature: feature.to_string(),
            at,
        };
        if !scenario.only.is_empty() && !scenario.only.iter().any(|t| t == self.kind.name()) {
            return Err(refuse(
                "the scenario is meant for other targets",
                format!("targets.only = {:?}", scenario.only),
            ));
        }
        if self.kind != TargetKind::Sim && scenario.faults.any() {
            return Err(refuse(
                "random faults ([faults]) are injected by the simulator only",
                "[faults]".into(),
            ));
        }
        if self.switch == SwitchKind::Bmv2 {
            for l in &scenario.links {
                if l.params.has_delay_or_loss() {
                    return Err(refuse(
                        "link delay, jitter and loss (BMv2 has no link emulation and these kernels have no netem; rate only)",
                        format!("link {}", l.name),
                    ));
                }
            }
            for (i, e) in scenario.events.iter().enumerate() {
                if let EventKind::LinkSet { params, .. } = &e.kind
                    && params.has_delay_or_loss()
                {
                    return Err(refuse(
                        "link delay, jitter and loss (rate only on BMv2)",
                        format!("event {i} (link_set)"),
                    ));
                }
            }
        }
        if self.kind == TargetKind::Embedded && scenario.nodes.len() > 2_000 {
            return Err(refuse(
                "more than 2,000 nodes in one process",
                "topology".into(),
            ));
        }
        if self.kind == TargetKind::Mininet && scenario.nodes.len() > 250 {
            return Err(refuse(
                "more than 250 switch processes on one machine",
                "topology".into(),
            ));
        }
        Ok(())
    }
}
