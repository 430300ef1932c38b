//! Reading a scenario: text → [`ScenarioFile`] (serde, unknown fields refused) → checked
//! [`Scenario`]. Every failure is a [`ScenarioError`] naming file, line, column and field.

use std::path::{Path, PathBuf};

use crate::error::{Problem, ScenarioError, parse_path, path_string};
use crate::file::ScenarioFile;
use crate::locate::{line_col, path_at, span_of};
use crate::resolve::{Scenario, resolve};

/// Loads and checks the scenario in `path`.
pub fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: path.to_path_buf(),
        line: None,
        column: None,
        field: None,
        message: format!("cannot read: {e}"),
    })?;
    load_str(&text, path)
}

/// Parses and checks scenario `text`; `file` names it in errors.
pub fn load_str(text: &str, file: &Path) -> Result<Scenario, ScenarioError> {
    let raw = parse(text, file)?;
    resolve(raw).map_err(|p| locate_problem(text, file, &p))
}

/// Parses `text` without checking its meaning.
pub fn parse(text: &str, file: &Path) -> Result<ScenarioFile, ScenarioError> {
    toml::from_str::<ScenarioFile>(text).map_err(|e| {
        let (line, column, field) = match e.span() {
            Some(span) => {
                let field = path_at(text, span.start);
                // The key itself is a better place than the span serde reports (often the
                // table's header or a neighbour).
                let start = field
                    .as_deref()
                    .and_then(|f| span_of(text, &parse_path(f)))
                    .map_or(span.start, |s| s.start);
                let (l, c) = line_col(text, start);
                (Some(l), Some(c), field)
            }
            None => (None, None, None),
        };
        ScenarioError {
            file: file.to_path_buf(),
            line,
            column,
            field,
            message: e.message().trim().to_string(),
        }
    })
}

fn locate_problem(text: &str, file: &Path, problem: &Problem) -> ScenarioError {
    let (line, column) = match span_of(text, &problem.path) {
        Some(span) => {
            let (l, c) = line_col(text, span.start);
            (Some(l), Some(c))
        }
        None => (None, None),
    };
    ScenarioError {
        file: PathBuf::from(file),
        line,
        column,
        field: (!problem.path.is_empty()).then(|| path_string(&problem.path)),
        message: problem.message.clone(),
    }
}
