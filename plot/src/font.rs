//! Finding a TTF font at run time and registering it with plotters, and the [`Theme`] the
//! charts draw with: with a font they draw titles, axis labels and legends; without one they
//! draw the same shapes and no text at all (plotters cannot draw text without a font).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::style::{FontStyle, IntoFont, TextStyle, register_font};

/// Environment variable naming a TTF to use before the standard paths.
pub const FONT_ENV: &str = "FLASHMESH_PLOT_FONT";

/// Standard places of a sans-serif TTF (Debian's fonts-dejavu-core first).
pub const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

/// The family the found font is registered under: plotters' default family, so that its own
/// default styles (legend labels, tick labels) find it too.
const FAMILY: &str = "sans-serif";

/// How charts are drawn: `font` is the registered family to write text with, `None` for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Theme {
    pub font: Option<&'static str>,
}

impl Theme {
    /// Shapes only, no text.
    #[cfg(test)]
    pub fn plain() -> Self {
        Theme { font: None }
    }

    /// A text style of `size` pixels, if there is a font to write with.
    pub fn text(&self, size: u32) -> Option<TextStyle<'static>> {
        self.font
            .map(|family| TextStyle::from((family, f64::from(size)).into_font()))
    }
}

static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// The theme to draw with: text when a font was found and registered (once per process),
/// otherwise none, with a warning pushed to `warnings`.
pub(crate) fn theme(warnings: &mut Vec<String>) -> Theme {
    match FOUND.get_or_init(|| register_first(candidates())) {
        Ok(_) => Theme { font: Some(FAMILY) },
        Err(why) => {
            warnings.push(format!("{why}; plots drawn without text"));
            Theme { font: None }
        }
    }
}

/// `$FLASHMESH_PLOT_FONT` if set, then [`FONT_PATHS`].
fn candidates() -> Vec<PathBuf> {
    std::env::var_os(FONT_ENV)
        .map(PathBuf::from)
        .into_iter()
        .chain(FONT_PATHS.iter().map(PathBuf::from))
        .collect()
}

/// Registers the first of `paths` that reads and parses as a font; the path used, or why none.
fn register_first(paths: Vec<PathBuf>) -> Result<PathBuf, String> {
    let tried = paths.len();
    for path in paths {
        if let Some(bytes) = read_font(&path) {
            // plotters keeps fonts for the life of the process; this runs once per process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if register_font(FAMILY, FontStyle::Normal, bytes).is_ok() {
                return Ok(path);
            }
        }
    }
    Err(format!(
        "no usable TTF font found (${FONT_ENV} or {tried} standard paths such as {})",
        FONT_PATHS[0]
    ))
}

fn read_font(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok().filter(|b| !b.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_bad_fonts_are_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.ttf");
        std::fs::write(&junk, b"not a font").unwrap();
        let err = register_first(vec![dir.path().join("absent.ttf"), junk]).unwrap_err();
        assert!(err.contains("no usable TTF font"), "{err}");
    }

    #[test]
    fn the_system_font_registers_when_installed() {
        let dejavu = PathBuf::from(FONT_PATHS[0]);
        if !dejavu.exists() {
            return;
        }
        assert_eq!(register_first(vec![dejavu.clone()]), Ok(dejavu));
        let mut warnings = Vec::new();
        let t = theme(&mut warnings);
        assert_eq!(t.font, Some(FAMILY));
        assert!(warnings.is_empty());
        assert!(t.text(12).is_some());
    }

    #[test]
    fn the_plain_theme_has_no_text() {
        assert!(Theme::plain().text(12).is_none());
    }
}
