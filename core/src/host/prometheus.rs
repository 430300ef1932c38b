//! The Prometheus text exposition format: `# HELP` and `# TYPE` lines, and samples with
//! labels (`name{k="v",...} value`). Label values are written as given.

use std::fmt::{Display, Write};

/// A metric's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Cumulative buckets and a count.
    Histogram,
}

impl Kind {
    /// The name in a `# TYPE` line.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Labels of a sample, in order.
pub type Labels<'a> = [(&'a str, &'a dyn Display)];

/// Writes `# TYPE name kind`.
pub fn type_line(out: &mut String, name: &str, kind: Kind) {
    let _ = writeln!(out, "# TYPE {name} {}", kind.as_str());
}

/// Writes `# HELP name help` and `# TYPE name kind`.
pub fn help_and_type(out: &mut String, name: &str, help: &str, kind: Kind) {
    let _ = writeln!(out, "# HELP {name} {help}");
    type_line(out, name, kind);
}

/// Writes one sample: `name value`, or `name{k="v",...} value` with labels.
pub fn sample(out: &mut String, name: &str, labels: &Labels<'_>, value: impl Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{v}\"");
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_samples() {
        let mut out = String::new();
        help_and_type(&mut out, "x_total", "things", Kind::Counter);
        sample(&mut out, "x_total", &[], 3);
        type_line(&mut out, "y", Kind::Gauge);
        sample(&mut out, "y", &[("node", &"s1"), ("port", &2)], 0.5);
        sample(
            &mut out,
            "y",
            &[("reason", &"")],
            format_args!("{:.4}", 0.25),
        );
        assert_eq!(
            out,
            "# HELP x_total things\n# TYPE x_total counter\nx_total 3\n# TYPE y gauge\n\
             y{node=\"s1\",port=\"2\"} 0.5\ny{reason=\"\"} 0.2500\n"
        );
    }
}
