//! Finding places in the scenario text: the line and column of a byte offset, the span of a
//! field path (for validation problems), and the field path at an offset (for serde errors).

use toml::de::{DeArray, DeTable, DeValue};

use crate::error::{PathSeg, path_string};

/// 1-based line and column of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, col)
}

/// The byte span of the value at `path`, or of the deepest part of it that exists.
pub fn span_of(text: &str, path: &[PathSeg]) -> Option<std::ops::Range<usize>> {
    let doc = DeTable::parse(text).ok()?;
    let mut best = None;
    let mut table: Option<&DeTable<'_>> = Some(doc.get_ref());
    let mut array: Option<&DeArray<'_>> = None;
    for seg in path {
        let value = match (seg, table, array) {
            (PathSeg::Key(k), Some(t), _) => {
                let Some((key, value)) = t.iter().find(|(key, _)| key.get_ref().as_ref() == k)
                else {
                    return best;
                };
                best = Some(key.span());
                value
            }
            (PathSeg::Index(i), _, Some(a)) => match a.get(*i) {
                Some(v) => v,
                None => return best,
            },
            _ => return best,
        };
        if !matches!(value.get_ref(), DeValue::Table(_)) || matches!(seg, PathSeg::Index(_)) {
            best = Some(value.span());
        }
        table = None;
        array = None;
        match value.get_ref() {
            DeValue::Table(t) => table = Some(t),
            DeValue::Array(a) => array = Some(a),
            _ => {}
        }
    }
    best
}

/// The path of the deepest field whose key or value contains `offset`.
pub fn path_at(text: &str, offset: usize) -> Option<String> {
    let doc = DeTable::parse(text).ok()?;
    let mut path = Vec::new();
    if !walk_table(doc.get_ref(), offset, &mut path) {
        return None;
    }
    if path.is_empty() {
        None
    } else {
        Some(path_string(&path))
    }
}

// Table and array spans cover only their header, so search the children first.
fn walk_table(table: &DeTable<'_>, offset: usize, path: &mut Vec<PathSeg>) -> bool {
    for (key, value) in table.iter() {
        path.push(PathSeg::Key(key.get_ref().to_string()));
        if key.span().contains(&offset) || walk_value(value, offset, path) {
            return true;
        }
        path.pop();
    }
    false
}

fn walk_value(value: &toml::Spanned<DeValue<'_>>, offset: usize, path: &mut Vec<PathSeg>) -> bool {
    let found_inside = match value.get_ref() {
        DeValue::Table(t) => walk_table(t, offset, path),
        DeValue::Array(items) => {
            let mut found = false;
            for (i, item) in items.iter().enumerate() {
                path.push(PathSeg::Index(i));
                if walk_value(item, offset, path) {
                    found = true;
                    break;
                }
                path.pop();
            }
            found
        }
        _ => false,
    };
    found_inside || value.span().contains(&offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::parse_path;

    const TEXT: &str =
        "[scenario]\nname = \"x\"\n\n[[event]]\nat_ms = 1\n\n[[event]]\nat_ms = 2\nlink = \"ab\"\n";

    #[test]
    fn line_and_column() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }

    #[test]
    fn span_of_nested_field() {
        let span = span_of(TEXT, &parse_path("event[1].link")).unwrap();
        assert_eq!(&TEXT[span.clone()], "\"ab\"");
        assert_eq!(line_col(TEXT, span.start).0, 9);
    }

    #[test]
    fn span_of_missing_field_falls_back_to_parent() {
        let span = span_of(TEXT, &parse_path("event[0].link")).unwrap();
        assert_eq!(line_col(TEXT, span.start).0, 4);
    }

    #[test]
    fn path_at_offset() {
        let off = TEXT.find("\"ab\"").unwrap() + 1;
        assert_eq!(path_at(TEXT, off).as_deref(), Some("event[1].link"));
    }
}
