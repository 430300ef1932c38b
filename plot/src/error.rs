//! The typed errors of this crate: a run output that could not be read, a chart that could
//! not be drawn or written, or nothing at all to plot.

use std::io;
use std::path::PathBuf;

/// Why a plot could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// A run output (`kpis.json`, `payments.csv`, ...) is missing or could not be parsed.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file read.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// The output folder could not be created.
    #[error("cannot create {}: {source}", path.display())]
    Write {
        /// The folder.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// Drawing or writing a chart failed.
    #[error("cannot draw {}: {message}", path.display())]
    Draw {
        /// The PNG being drawn.
        path: PathBuf,
        /// The drawing backend's message.
        message: String,
    },
    /// There is nothing to plot: no payments, queue samples or runs with data.
    #[error("nothing to plot for {}", path.display())]
    Empty {
        /// The folder or chart concerned.
        path: PathBuf,
    },
}

impl PlotError {
    /// A drawing error of the chart at `path`, from any backend error.
    pub(crate) fn draw(path: &std::path::Path, err: impl std::fmt::Display) -> Self {
        PlotError::Draw {
            path: path.to_path_buf(),
            message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn messages_name_the_file() {
        let e = PlotError::Read {
            path: PathBuf::from("/r/kpis.json"),
            source: io::Error::new(io::ErrorKind::NotFound, "gone"),
        };
        assert_eq!(e.to_string(), "cannot read /r/kpis.json: gone");
        let e = PlotError::draw(Path::new("a.png"), "backend broke");
        assert_eq!(e.to_string(), "cannot draw a.png: backend broke");
        let e = PlotError::Empty {
            path: PathBuf::from("/r"),
        };
        assert_eq!(e.to_string(), "nothing to plot for /r");
    }
}
