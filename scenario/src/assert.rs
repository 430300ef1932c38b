//! The scenario's `[[assert]]` lines evaluated against a run's [`Kpis`]: each gives a
//! pass/fail line saying what was compared, so a failed run says which number was off.

use crate::outputs::Kpis;
use crate::resolve::{Assertion, Op, Rhs};

/// The result of one assertion.
#[derive(Debug, Clone, PartialEq)]
pub struct AssertOutcome {
    /// Held.
    pub passed: bool,
    /// What was compared, with the measured numbers.
    pub text: String,
}

fn fmt(v: Option<f64>) -> String {
    v.map_or_else(|| "missing".to_string(), |x| format!("{x:.3}"))
}

/// Evaluates the assertions that apply to `target`.
pub fn evaluate_assertions(asserts: &[Assertion], kpis: &Kpis, target: &str) -> Vec<AssertOutcome> {
    asserts
        .iter()
        .filter(|a| a.targets.is_empty() || a.targets.iter().any(|t| t == target))
        .map(|a| evaluate(a, kpis))
        .collect()
}

fn evaluate(a: &Assertion, kpis: &Kpis) -> AssertOutcome {
    let lhs = kpis.phase(&a.phase).and_then(|p| p.get(&a.kpi));
    let (rhs, rhs_text) = match &a.rhs {
        Rhs::Value(v) => (Some(*v), format!("{v}")),
        Rhs::Kpi { kpi, phase, factor } => {
            let v = kpis
                .phase(phase)
                .and_then(|p| p.get(kpi))
                .map(|x| x * factor);
            let scale = if *factor == 1.0 {
                String::new()
            } else {
                format!("{factor} x ")
            };
            (v, format!("{scale}{phase}.{kpi} ({})", fmt(v)))
        }
        Rhs::None => (None, String::new()),
    };
    let passed = match (a.op, lhs, rhs) {
        (Op::Present, l, _) => l.is_some(),
        (_, Some(l), Some(r)) => match a.op {
            Op::Lt => l < r,
            Op::Le => l <= r,
            Op::Gt => l > r,
            Op::Ge => l >= r,
            Op::Eq => (l - r).abs() <= 1e-9 * r.abs().max(1.0),
            Op::Present => unreachable!("handled above"),
        },
        _ => false,
    };
    let text = format!(
        "{}.{} ({}) {} {}",
        a.phase,
        a.kpi,
        fmt(lhs),
        a.op.symbol(),
        rhs_text
    );
    AssertOutcome {
        passed,
        text: text.trim_end().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outputs::PhaseKpis;

    fn kpis() -> Kpis {
        Kpis {
            phases: vec![
                PhaseKpis {
                    phase: "a".into(),
                    finality_p95_ms: Some(100.0),
                    ..Default::default()
                },
                PhaseKpis {
                    phase: "b".into(),
                    finality_p95_ms: Some(300.0),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    fn assertion(op: Op, rhs: Rhs) -> Assertion {
        Assertion {
            kpi: "finality_p95_ms".into(),
            phase: "a".into(),
            op,
            rhs,
            targets: vec![],
        }
    }

    #[test]
    fn value_and_ordering_comparisons() {
        let k = kpis();
        let r = evaluate_assertions(&[assertion(Op::Lt, Rhs::Value(150.0))], &k, "sim");
        assert!(r[0].passed, "{}", r[0].text);
        let than = Rhs::Kpi {
            kpi: "finality_p95_ms".into(),
            phase: "b".into(),
            factor: 0.5,
        };
        let r = evaluate_assertions(&[assertion(Op::Lt, than)], &k, "sim");
        assert!(r[0].passed, "{}", r[0].text);
        let r = evaluate_assertions(&[assertion(Op::Gt, Rhs::Value(150.0))], &k, "sim");
        assert!(!r[0].passed);
    }

    #[test]
    fn missing_kpi_fails_except_for_absence_checks() {
        let k = kpis();
        let mut a = assertion(Op::Present, Rhs::None);
        a.kpi = "reroute_ms".into();
        assert!(!evaluate_assertions(&[a.clone()], &k, "sim")[0].passed);
        a.op = Op::Lt;
        a.rhs = Rhs::Value(1.0);
        let r = evaluate_assertions(&[a], &k, "sim");
        assert!(!r[0].passed);
        assert!(r[0].text.contains("missing"));
    }

    #[test]
    fn target_filter() {
        let mut a = assertion(Op::Lt, Rhs::Value(1.0));
        a.targets = vec!["mininet".into()];
        assert!(evaluate_assertions(&[a], &kpis(), "sim").is_empty());
    }
}
