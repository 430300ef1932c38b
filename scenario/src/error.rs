//! The one error a scenario file can get: where (file, line, column, field) and what.

use std::fmt;
use std::path::PathBuf;

/// A scenario file that cannot run, located in the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ScenarioError {
    /// The file (or `<string>` for text given directly).
    pub file: PathBuf,
    /// 1-based line, when the place is known.
    pub line: Option<usize>,
    /// 1-based column, when the place is known.
    pub column: Option<usize>,
    /// The field's path in the file (`event[2].link`), when one field is at fault.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// A validation problem before it is located: the field path and the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Path segments from the document root.
    pub path: Vec<PathSeg>,
    /// What is wrong.
    pub message: String,
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

impl Problem {
    /// A problem at `path` (segments separated by `.`, indices as `name[3]`).
    pub fn at(path: &str, message: impl Into<String>) -> Problem {
        Problem {
            path: parse_path(path),
            message: message.into(),
        }
    }
}

/// Splits `event[2].link` into segments.
pub fn parse_path(path: &str) -> Vec<PathSeg> {
    let mut segs = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            segs.push(PathSeg::Key(rest[..open].to_string()));
            rest = &rest[open..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let close = stripped.find(']').unwrap_or(stripped.len());
                if let Ok(i) = stripped[..close].parse() {
                    segs.push(PathSeg::Index(i));
                }
                rest = stripped.get(close + 1..).unwrap_or("");
            }
        } else {
            segs.push(PathSeg::Key(rest.to_string()));
        }
    }
    segs
}

/// Renders segments back as `event[2].link`.
pub fn path_string(path: &[PathSeg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            PathSeg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            PathSeg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        for p in [
            "event[2].link",
            "topology.node[0].name",
            "scenario.seed",
            "a[1][2].b",
        ] {
            assert_eq!(path_string(&parse_path(p)), p);
        }
    }

    #[test]
    fn display_names_file_line_field() {
        let e = ScenarioError {
            file: "s.toml".into(),
            line: Some(4),
            column: Some(7),
            field: Some("event[0].link".into()),
            message: "no link named `x`".into(),
        };
        assert_eq!(
            e.to_string(),
            "s.toml:4:7: field `event[0].link`: no link named `x`"
        );
    }
}
