//! The preprocessor: `#include`, object-like `#define`/`#undef`, `#ifdef`/`#ifndef`/`#if`/
//! `#else`/`#endif`, working on tokens so every token keeps the position of its own file.
//! `<core.p4>` and `<v1model.p4>` resolve to the declarations built into the engine.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::ast::Span;
use super::lexer::{Tok, Token, lex};
use super::source::{Diagnostic, Diagnostics, SourceMap};

/// The engine's own `core.p4`.
pub const CORE_P4: &str = include_str!("builtin/core.p4");
/// The engine's own `v1model.p4` (it includes `core.p4` first, like the original).
pub const V1MODEL_P4: &str = include_str!("builtin/v1model.p4");

/// Include depth limit (guards against include cycles).
const MAX_DEPTH: usize = 32;

struct Cond {
    /// Whether the enclosing region is active.
    parent_active: bool,
    /// Whether the current branch is active.
    active: bool,
    seen_else: bool,
    span: Span,
}

struct Pre<'a> {
    sources: &'a mut SourceMap,
    defines: HashMap<String, Vec<Token>>,
    system_included: HashSet<String>,
    out: Vec<Token>,
}

/// Preprocess the file at `path` (read from disk; includes relative to its folder).
pub fn preprocess_file(path: &Path, sources: &mut SourceMap) -> Result<Vec<Token>, Diagnostics> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostics::single(Diagnostic {
            file: path.display().to_string(),
            line: 0,
            col: 0,
            message: format!("cannot read file: {e}"),
        })
    })?;
    preprocess_source(&path.display().to_string(), &text, path.parent(), sources)
}

/// Preprocess `text` (named `name` in diagnostics); `"file"` includes are looked up in
/// `include_dir` (none allowed when it is `None`).
pub fn preprocess_source(
    name: &str,
    text: &str,
    include_dir: Option<&Path>,
    sources: &mut SourceMap,
) -> Result<Vec<Token>, Diagnostics> {
    let mut pre = Pre {
        sources,
        defines: HashMap::new(),
        system_included: HashSet::new(),
        out: Vec::new(),
    };
    pre.file(name.to_string(), text.to_string(), include_dir, 0)
        .map_err(Diagnostics::single)?;
    let span = pre.out.last().map(|t| t.span).unwrap_or_default();
    pre.out.push(Token {
        tok: Tok::Eof,
        span,
        joined: false,
    });
    Ok(pre.out)
}

impl Pre<'_> {
    fn file(
        &mut self,
        name: String,
        text: String,
        dir: Option<&Path>,
        depth: usize,
    ) -> Result<(), Diagnostic> {
        let id = self.sources.add(name.clone(), text.clone());
        let tokens = lex(id, &name, &text)?;
        let mut conds: Vec<Cond> = Vec::new();
        for t in tokens {
            let active = conds.last().is_none_or(|c| c.active);
            match &t.tok {
                Tok::Eof => break,
                Tok::Directive(d) => {
                    self.directive(d, t.span, &name, dir, depth, &mut conds, active)?;
                }
                _ if !active => {}
                Tok::Ident(n) if self.defines.contains_key(n) => {
                    let mut seen = HashSet::new();
                    self.expand(n, t.span, &mut seen);
                }
                _ => self.out.push(t),
            }
        }
        if let Some(c) = conds.last() {
            return Err(self.diag(&name, c.span, "#if/#ifdef without #endif"));
        }
        Ok(())
    }

    fn diag(&self, file: &str, span: Span, msg: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.to_string(),
            line: span.line,
            col: span.col,
            message: msg.into(),
        }
    }

    /// Push the expansion of macro `n` (tokens take the use's position).
    fn expand(&mut self, n: &str, span: Span, seen: &mut HashSet<String>) {
        let body = self.defines.get(n).cloned().unwrap_or_default();
        seen.insert(n.to_string());
        for mut t in body {
            if let Tok::Ident(m) = &t.tok
                && self.defines.contains_key(m)
                && !seen.contains(m)
            {
                let m = m.clone();
                self.expand(&m, span, seen);
                continue;
            }
            t.span = span;
            self.out.push(t);
        }
        seen.remove(n);
    }

    #[allow(clippy::too_many_arguments)]
    fn directive(
        &mut self,
        d: &str,
        span: Span,
        file: &str,
        dir: Option<&Path>,
        depth: usize,
        conds: &mut Vec<Cond>,
        active: bool,
    ) -> Result<(), Diagnostic> {
        let d = d.trim();
        let (word, rest) = match d.find(|c: char| c.is_whitespace() || c == '<' || c == '"') {
            Some(i) => (&d[..i], d[i..].trim()),
            None => (d, ""),
        };
        match word {
            "ifdef" | "ifndef" => {
                let name = single_name(rest).ok_or_else(|| {
                    self.diag(file, span, format!("#{word} needs one macro name"))
                })?;
                let defined = self.defines.contains_key(name);
                let take = if word == "ifdef" { defined } else { !defined };
                conds.push(Cond {
                    parent_active: active,
                    active: active && take,
                    seen_else: false,
                    span,
                });
            }
            "if" => {
                let take = self.eval_if(rest).ok_or_else(|| {
                    self.diag(
                        file,
                        span,
                        format!("unsupported #if condition '{rest}' (use an integer, a macro or defined(NAME))"),
                    )
                })?;
                conds.push(Cond {
                    parent_active: active,
                    active: active && take,
                    seen_else: false,
                    span,
                });
            }
            "else" => {
                let c = conds
                    .last_mut()
                    .ok_or_else(|| self.diag(file, span, "#else without #if"))?;
                if c.seen_else {
                    return Err(self.diag(file, span, "second #else for the same #if"));
                }
                c.seen_else = true;
                c.active = c.parent_active && !c.active;
            }
            "endif" => {
                conds
                    .pop()
                    .ok_or_else(|| self.diag(file, span, "#endif without #if"))?;
            }
            "elif" => {
                return Err(self.diag(file, span, "#elif is not supported; nest #if/#else"));
            }
            _ if !active => {}
            "define" => self.define(rest, span, file)?,
            "undef" => {
                let name = single_name(rest)
                    .ok_or_else(|| self.diag(file, span, "#undef needs one macro name"))?;
                self.defines.remove(name);
            }
            "include" => self.include(rest, span, file, dir, depth)?,
            "error" => return Err(self.diag(file, span, format!("#error {rest}"))),
            _ => {
                return Err(self.diag(
                    file,
                    span,
                    format!("unsupported preprocessor directive '#{word}'"),
                ));
            }
        }
        Ok(())
    }

    fn define(&mut self, rest: &str, span: Span, file: &str) -> Result<(), Diagnostic> {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..end];
        if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
            return Err(self.diag(file, span, "#define needs a macro name"));
        }
        let body = &rest[end..];
        if body.starts_with('(') {
            return Err(self.diag(
                file,
                span,
                format!("function-like macro '{name}' is not supported (only object-like #define)"),
            ));
        }
        let mut toks = lex(span.file, file, body).map_err(|mut e| {
            e.line = span.line;
            e.col = span.col;
            e
        })?;
        toks.pop(); // Eof
        self.defines.insert(name.to_string(), toks);
        Ok(())
    }

    fn eval_if(&self, rest: &str) -> Option<bool> {
        let r = rest.trim();
        if let Some(inner) = r.strip_prefix("defined").map(|s| {
            s.trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .trim()
        }) {
            return Some(self.defines.contains_key(inner));
        }
        if let Some(inner) = r.strip_prefix('!') {
            return self.eval_if(inner).map(|b| !b);
        }
        if let Ok(v) = r.parse::<i64>() {
            return Some(v != 0);
        }
        if let Some(body) = self.defines.get(r) {
            if let [
                Token {
                    tok: Tok::Int(l), ..
                },
            ] = body.as_slice()
            {
                return Some(l.value != 0);
            }
            return None;
        }
        if single_name(r).is_some() {
            // An undefined identifier is 0, as in C.
            return Some(false);
        }
        None
    }

    fn include(
        &mut self,
        rest: &str,
        span: Span,
        file: &str,
        dir: Option<&Path>,
        depth: usize,
    ) -> Result<(), Diagnostic> {
        if depth >= MAX_DEPTH {
            return Err(self.diag(file, span, "#include nested too deeply (include cycle?)"));
        }
        if let Some(sys) = rest.strip_prefix('<').and_then(|r| r.strip_suffix('>')) {
            return match sys.trim() {
                "core.p4" => self.system("core.p4", CORE_P4, depth),
                "v1model.p4" => {
                    self.system("core.p4", CORE_P4, depth)?;
                    self.system("v1model.p4", V1MODEL_P4, depth)
                }
                other => Err(self.diag(
                    file,
                    span,
                    format!(
                        "unknown system include <{other}> (this target provides <core.p4> and <v1model.p4>)"
                    ),
                )),
            };
        }
        let Some(rel) = rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
            return Err(self.diag(file, span, "#include needs \"file\" or <file>"));
        };
        let path: PathBuf = match dir {
            Some(d) => d.join(rel),
            None => PathBuf::from(rel),
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            self.diag(
                file,
                span,
                format!("cannot include \"{rel}\" ({}): {e}", path.display()),
            )
        })?;
        let sub_dir = path.parent().map(Path::to_path_buf);
        self.file(
            path.display().to_string(),
            text,
            sub_dir.as_deref(),
            depth + 1,
        )
    }

    fn system(&mut self, name: &str, text: &str, depth: usize) -> Result<(), Diagnostic> {
        if !self.system_included.insert(name.to_string()) {
            return Ok(());
        }
        self.file(format!("<{name}>"), text.to_string(), None, depth + 1)
    }
}

fn single_name(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.as_bytes()[0].is_ascii_digit())
    .then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str) -> Result<Vec<Tok>, Diagnostics> {
        let mut sm = SourceMap::default();
        preprocess_source("m.p4", src, None, &mut sm)
            .map(|v| v.into_iter().map(|t| t.tok).collect())
    }

    #[test]
    fn define_and_conditionals() {
        let t =
            run("#define W 8\n#ifdef W\na W\n#else\nb\n#endif\n#ifndef W\nc\n#endif\n").unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[0], Tok::Ident("a".into()));
        assert!(matches!(t[1], Tok::Int(l) if l.value == 8));
    }

    #[test]
    fn system_includes_once() {
        let t = run("#include <v1model.p4>\n#include <core.p4>\nx").unwrap();
        let n = t
            .iter()
            .filter(|t| **t == Tok::Ident("NoAction".into()))
            .count();
        assert_eq!(n, 1);
    }

    #[test]
    fn errors_have_positions() {
        let e = run("a\n  #include <psa.p4>\n").unwrap_err();
        assert_eq!((e.0[0].line, e.0[0].col), (2, 3));
        assert!(e.0[0].message.contains("psa.p4"));
        assert!(run("#ifdef X\n").is_err());
        assert!(run("#define F(x) x\n").is_err());
        assert!(run("#include \"nope.p4\"\n").is_err());
    }

    #[test]
    fn macro_tokens_take_use_position() {
        let mut sm = SourceMap::default();
        let t = preprocess_source("m.p4", "#define X 1\n\n  X", None, &mut sm).unwrap();
        assert_eq!((t[0].span.line, t[0].span.col), (3, 3));
    }
}
