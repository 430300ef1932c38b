//! A terminal progress bar for the demo: turns [`ProgressEvent`]s into an indicatif bar that
//! fills once per phase and names what is running.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::demo::ProgressEvent;

/// Resolution of the bar per phase.
const STEPS: u64 = 1000;

/// Draws the demo's progress on standard error.
pub struct DemoProgress {
    bar: ProgressBar,
}

impl Default for DemoProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl DemoProgress {
    /// A bar on standard error (hidden when it is not a terminal).
    pub fn new() -> Self {
        Self::with_target(ProgressDrawTarget::stderr())
    }

    /// A bar drawn to `target` (`ProgressDrawTarget::hidden()` in tests).
    pub fn with_target(target: ProgressDrawTarget) -> Self {
        let bar = ProgressBar::with_draw_target(Some(STEPS), target);
        bar.set_style(
            ProgressStyle::with_template("{prefix:>12} [{bar:32}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix("set-up");
        Self { bar }
    }

    /// Feeds one event.
    pub fn on_event(&self, event: ProgressEvent) {
        match event {
            ProgressEvent::Setup(step) => self.bar.set_message(step),
            ProgressEvent::PhaseStarted {
                index,
                total,
                name,
                seconds,
            } => {
                self.bar
                    .set_prefix(format!("phase {}/{}", index + 1, total));
                self.bar.set_message(format!("{name} ({seconds:.0} s)"));
                self.bar.set_position(0);
            }
            ProgressEvent::PhaseProgress { fraction, .. } => {
                self.bar
                    .set_position((fraction.clamp(0.0, 1.0) * STEPS as f64) as u64);
            }
            ProgressEvent::PhaseFinished { report, .. } => {
                self.bar.set_position(STEPS);
                self.bar.println(format!(
                    "{:<24} {} payments, finality p95 {:.1} ms",
                    report.name, report.payments, report.finality_ms_p95
                ));
            }
        }
    }

    /// A callback for [`crate::run_demo`].
    pub fn callback(&self) -> impl FnMut(ProgressEvent) + '_ {
        move |e| self.on_event(e)
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::PhaseReport;

    #[test]
    fn follows_the_phases() {
        let p = DemoProgress::with_target(ProgressDrawTarget::hidden());
        let mut cb = p.callback();
        cb(ProgressEvent::Setup("starting switches".into()));
        cb(ProgressEvent::PhaseStarted {
            index: 0,
            total: 5,
            name: "idle".into(),
            seconds: 5.0,
        });
        cb(ProgressEvent::PhaseProgress {
            index: 0,
            fraction: 0.5,
        });
        assert_eq!(p.bar.position(), STEPS / 2);
        cb(ProgressEvent::PhaseFinished {
            index: 0,
            report: Box::new(PhaseReport::default()),
        });
        assert_eq!(p.bar.position(), STEPS);
        p.finish();
    }
}
