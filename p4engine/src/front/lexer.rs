//! The P4_16 lexer: source text to tokens with positions. Keywords are returned as identifiers
//! (the parser tells them apart); lines starting with `#` become [`Tok::Directive`] tokens for
//! the preprocessor.

use super::ast::{FileId, IntLit, Span};
use super::source::Diagnostic;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    Int(IntLit),
    Str(String),
    /// Punctuation or operator, e.g. `"&&&"`, `"{"`.
    Punct(&'static str),
    /// A preprocessor line (text after `#`, continuation lines joined).
    Directive(String),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
    /// True when the next token follows with no whitespace in between (`>>` in expressions).
    pub joined: bool,
}

const PUNCTS: &[&str] = &[
    "&&&", "|+|", "|-|", "<<", "..", "++", "==", "!=", "<=", ">=", "&&", "||", "+", "-", "*", "/",
    "%", "&", "|", "^", "~", "!", "<", ">", "=", "?", ":", ";", ",", ".", "(", ")", "{", "}", "[",
    "]", "@",
];

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
    col: u32,
    file: FileId,
    file_name: &'a str,
}

/// Lex one file. Errors carry the file name and position.
pub fn lex(file: FileId, file_name: &str, text: &str) -> Result<Vec<Token>, Diagnostic> {
    // A UTF-8 byte order mark is not part of the program.
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut lx = Lexer {
        src: text.as_bytes(),
        pos: bom,
        line: 1,
        col: 1,
        file,
        file_name,
    };
    let mut out: Vec<Token> = Vec::new();
    let mut line_start = true;
    loop {
        let had_space = lx.skip_space(&mut line_start)?;
        if let Some(last) = out.last_mut() {
            last.joined = !had_space;
        }
        let span = lx.span();
        let Some(c) = lx.peek(0) else {
            out.push(Token {
                tok: Tok::Eof,
                span,
                joined: false,
            });
            return Ok(out);
        };
        if c == b'#' {
            if !line_start {
                return Err(lx.err(span, "'#' must start a preprocessor line"));
            }
            let text = lx.directive();
            out.push(Token {
                tok: Tok::Directive(text),
                span,
                joined: false,
            });
            line_start = true;
            continue;
        }
        line_start = false;
        let tok = if c.is_ascii_alphabetic() || c == b'_' {
            let s = lx.take_while(|c| c.is_ascii_alphanumeric() || c == b'_');
            Tok::Ident(s)
        } else if c.is_ascii_digit() {
            lx.number(span)?
        } else if c == b'"' {
            lx.string(span)?
        } else {
            let mut found = None;
            for p in PUNCTS {
                if lx.src[lx.pos..].starts_with(p.as_bytes()) {
                    found = Some(*p);
                    break;
                }
            }
            match found {
                Some(p) => {
                    lx.advance(p.len());
                    Tok::Punct(p)
                }
                None => {
                    let ch = text[lx.pos..].chars().next().unwrap_or('?');
                    return Err(lx.err(span, format!("unexpected character '{ch}'")));
                }
            }
        };
        out.push(Token {
            tok,
            span,
            joined: false,
        });
    }
}

impl Lexer<'_> {
    fn peek(&self, n: usize) -> Option<u8> {
        self.src.get(self.pos + n).copied()
    }

    fn span(&self) -> Span {
        Span {
            file: self.file,
            line: self.line,
            col: self.col,
        }
    }

    fn err(&self, span: Span, msg: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: self.file_name.to_string(),
            line: span.line,
            col: span.col,
            message: msg.into(),
        }
    }

    fn advance(&mut self, n: usize) {
        for _ in 0..n {
            if let Some(c) = self.peek(0) {
                self.pos += 1;
                if c == b'\n' {
                    self.line += 1;
                    self.col = 1;
                } else if c & 0xC0 != 0x80 {
                    self.col += 1;
                }
            }
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> String {
        let start = self.pos;
        while let Some(c) = self.peek(0) {
            if !f(c) {
                break;
            }
            self.advance(1);
        }
        String::from_utf8_lossy(&self.src[start..self.pos]).into_owned()
    }

    /// Skip whitespace and comments; returns whether anything was skipped. Tracks whether we
    /// are at the start of a line (only whitespace/comments before on this line).
    fn skip_space(&mut self, line_start: &mut bool) -> Result<bool, Diagnostic> {
        let mut any = false;
        loop {
            match self.peek(0) {
                Some(b'\n') => {
                    *line_start = true;
                    self.advance(1);
                }
                Some(c) if c.is_ascii_whitespace() => self.advance(1),
                Some(b'/') if self.peek(1) == Some(b'/') => {
                    while let Some(c) = self.peek(0) {
                        if c == b'\n' {
                            break;
                        }
                        self.advance(1);
                    }
                }
                Some(b'/') if self.peek(1) == Some(b'*') => {
                    let span = self.span();
                    self.advance(2);
                    loop {
                        match self.peek(0) {
                            None => return Err(self.err(span, "unterminated comment")),
                            Some(b'*') if self.peek(1) == Some(b'/') => {
                                self.advance(2);
                                break;
                            }
                            Some(_) => self.advance(1),
                        }
                    }
                }
                _ => return Ok(any),
            }
            any = true;
        }
    }

    fn directive(&mut self) -> String {
        self.advance(1);
        let mut text = String::new();
        loop {
            match self.peek(0) {
                None | Some(b'\n') => break,
                Some(b'\\') if self.peek(1) == Some(b'\n') => {
                    self.advance(2);
                    text.push(' ');
                }
                Some(b'/') if self.peek(1) == Some(b'/') => {
                    while !matches!(self.peek(0), None | Some(b'\n')) {
                        self.advance(1);
                    }
                }
                Some(b'/') if self.peek(1) == Some(b'*') => {
                    self.advance(2);
                    while self.peek(0).is_some()
                        && !(self.peek(0) == Some(b'*') && self.peek(1) == Some(b'/'))
                    {
                        self.advance(1);
                    }
                    self.advance(2);
                    text.push(' ');
                }
                Some(c) => {
                    let start = self.pos;
                    self.advance(1);
                    if c < 0x80 {
                        text.push(c as char);
                    } else {
                        while matches!(self.peek(0), Some(b) if b & 0xC0 == 0x80) {
                            self.advance(1);
                        }
                        text.push_str(&String::from_utf8_lossy(&self.src[start..self.pos]));
                    }
                }
            }
        }
        text
    }

    fn string(&mut self, span: Span) -> Result<Tok, Diagnostic> {
        self.advance(1);
        let mut s = Vec::new();
        loop {
            match self.peek(0) {
                None | Some(b'\n') => return Err(self.err(span, "unterminated string literal")),
                Some(b'"') => {
                    self.advance(1);
                    break;
                }
                Some(b'\\') => {
                    let e = self.peek(1);
                    self.advance(2);
                    match e {
                        Some(b'n') => s.push(b'\n'),
                        Some(b't') => s.push(b'\t'),
                        Some(c) => s.push(c),
                        None => return Err(self.err(span, "unterminated string literal")),
                    }
                }
                Some(c) => {
                    s.push(c);
                    self.advance(1);
                }
            }
        }
        Ok(Tok::Str(String::from_utf8_lossy(&s).into_owned()))
    }

    /// `123`, `0x1F`, `0b101`, `0o17`, `8w255`, `16w0x0800`, `8s5`, `8s-1`, with `_` separators.
    fn number(&mut self, span: Span) -> Result<Tok, Diagnostic> {
        let first = self.digits(span, 10)?;
        let mut width = None;
        let mut negative = false;
        let value = if matches!(self.peek(0), Some(b'w') | Some(b's')) {
            let signed = self.peek(0) == Some(b's');
            self.advance(1);
            if signed && self.peek(0) == Some(b'-') {
                negative = true;
                self.advance(1);
            }
            if !matches!(self.peek(0), Some(c) if c.is_ascii_digit()) {
                return Err(self.err(span, "malformed width-annotated integer literal"));
            }
            let w = u32::try_from(first).map_err(|_| self.err(span, "integer width too large"))?;
            width = Some((w, signed));
            self.radix_number(span)?
        } else if first == 0 && matches!(self.peek(0), Some(c) if c.is_ascii_alphabetic()) {
            // 0x.., 0b.., 0o.., 0d..: re-lex with the radix prefix (the 0 was consumed).
            self.radix_after_zero(span)?
        } else {
            first
        };
        if matches!(self.peek(0), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
            return Err(self.err(span, "malformed integer literal"));
        }
        Ok(Tok::Int(IntLit {
            value,
            width,
            negative,
        }))
    }

    fn radix_number(&mut self, span: Span) -> Result<u128, Diagnostic> {
        if self.peek(0) == Some(b'0') && matches!(self.peek(1), Some(c) if c.is_ascii_alphabetic())
        {
            self.advance(1);
            self.radix_after_zero(span)
        } else {
            self.digits(span, 10)
        }
    }

    fn radix_after_zero(&mut self, span: Span) -> Result<u128, Diagnostic> {
        let radix = match self.peek(0) {
            Some(b'x') | Some(b'X') => 16,
            Some(b'b') | Some(b'B') => 2,
            Some(b'o') | Some(b'O') => 8,
            Some(b'd') | Some(b'D') => 10,
            _ => return Err(self.err(span, "malformed integer literal")),
        };
        self.advance(1);
        self.digits(span, radix)
    }

    fn digits(&mut self, span: Span, radix: u32) -> Result<u128, Diagnostic> {
        let mut v: u128 = 0;
        let mut any = false;
        while let Some(c) = self.peek(0) {
            if c == b'_' {
                self.advance(1);
                continue;
            }
            let Some(d) = (c as char).to_digit(radix) else {
                break;
            };
            v = v
                .checked_mul(u128::from(radix))
                .and_then(|v| v.checked_add(u128::from(d)))
                .ok_or_else(|| self.err(span, "integer literal does not fit in 128 bits"))?;
            any = true;
            self.advance(1);
        }
        if !any {
            return Err(self.err(span, "malformed integer literal"));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(FileId(0), "t.p4", s)
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn literals() {
        let t = toks("8w255 0x0800 16w0x1F 8s5 8s-1 1_000 0b101");
        let vals: Vec<_> = t
            .iter()
            .filter_map(|t| match t {
                Tok::Int(l) => Some((l.value, l.width, l.negative)),
                _ => None,
            })
            .collect();
        assert_eq!(
            vals,
            vec![
                (255, Some((8, false)), false),
                (0x800, None, false),
                (0x1F, Some((16, false)), false),
                (5, Some((8, true)), false),
                (1, Some((8, true)), true),
                (1000, None, false),
                (5, None, false),
            ]
        );
    }

    #[test]
    fn punct_and_directive() {
        let t = toks("#include <core.p4>\na &&& b |+| c // x\n/* y */ d");
        assert_eq!(t[0], Tok::Directive("include <core.p4>".into()));
        assert_eq!(t[2], Tok::Punct("&&&"));
        assert_eq!(t[4], Tok::Punct("|+|"));
        assert_eq!(t[6], Tok::Ident("d".into()));
    }

    #[test]
    fn positions_and_joined() {
        let ts = lex(FileId(0), "t.p4", "a\n  >> b").unwrap();
        assert_eq!((ts[1].span.line, ts[1].span.col), (2, 3));
        assert!(ts[1].joined);
        assert!(!ts[2].joined);
    }

    #[test]
    fn bom_and_crlf() {
        let t = toks("\u{feff}#define X 1\r\na\r\n");
        assert_eq!(t[0], Tok::Directive("define X 1\r".into()));
        assert_eq!(t[1], Tok::Ident("a".into()));
    }

    #[test]
    fn errors() {
        let e = lex(FileId(0), "t.p4", "a $").unwrap_err();
        assert_eq!((e.line, e.col), (1, 3));
        assert!(lex(FileId(0), "t.p4", "\"abc").is_err());
        assert!(lex(FileId(0), "t.p4", "0x").is_err());
    }
}
