//! The packet-test file format (`p4src/tests/*.pkt`): a target-independent list of control-plane
//! writes, packets sent in, and what must come out (packets per port, packet-ins, drops) and
//! counter values. `p4src/tests/README.md` is the reference; this module parses a file into
//! [`Step`]s with every packet already built into bytes.

use std::collections::HashMap;

use crate::packet::{self, BuildError, Layer, LayerKind};

/// A problem in a test file, with its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct FormatError {
    /// The file name (as given to the parser).
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// One name=value pair in p4runtime-shell value syntax.
pub type Pair = (String, String);

/// What a step expects to leave the switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// A frame out of `port` (with the queue priority when the test states it).
    Packet {
        /// The egress port.
        port: u32,
        /// `standard_metadata.priority`, when stated.
        priority: Option<u8>,
        /// The frame.
        bytes: Vec<u8>,
    },
    /// A packet-in with these metadata values (p4runtime-shell numbers) and payload.
    PacketIn {
        /// Metadata name -> value.
        metadata: Vec<Pair>,
        /// The payload.
        bytes: Vec<u8>,
    },
    /// Nothing at all comes out.
    Drop,
}

/// One step of a test, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// INSERT a table entry.
    Entry {
        /// Line of the statement.
        line: usize,
        /// Table (P4Info name).
        table: String,
        /// Match field -> p4runtime-shell value; missing fields are wildcards.
        matches: Vec<Pair>,
        /// Action (P4Info name).
        action: String,
        /// Parameter -> value.
        params: Vec<Pair>,
        /// P4Runtime priority (larger wins), for ternary/range/optional tables.
        priority: Option<i32>,
    },
    /// MODIFY a table's default action.
    Default {
        /// Line of the statement.
        line: usize,
        /// Table.
        table: String,
        /// Action.
        action: String,
        /// Parameter -> value.
        params: Vec<Pair>,
    },
    /// DELETE a table entry.
    Delete {
        /// Line of the statement.
        line: usize,
        /// Table.
        table: String,
        /// The entry's match.
        matches: Vec<Pair>,
        /// The entry's priority.
        priority: Option<i32>,
    },
    /// Send a frame into a port; `expect` is the complete set of what must come out.
    Send {
        /// Line of the statement.
        line: usize,
        /// Ingress port.
        port: u32,
        /// The frame.
        bytes: Vec<u8>,
        /// Everything that must come out (order-independent).
        expect: Vec<Expect>,
    },
    /// Send a packet-out from the controller.
    PacketOut {
        /// Line of the statement.
        line: usize,
        /// packet_out metadata name -> value.
        metadata: Vec<Pair>,
        /// The payload.
        bytes: Vec<u8>,
        /// Everything that must come out.
        expect: Vec<Expect>,
    },
    /// A counter cell must hold these totals now.
    Counter {
        /// Line of the statement.
        line: usize,
        /// Counter (P4Info name).
        name: String,
        /// Index.
        index: u32,
        /// Packets.
        packets: u64,
        /// Bytes, when stated.
        bytes: Option<u64>,
    },
}

impl Step {
    /// The line the step starts on.
    pub fn line(&self) -> usize {
        match self {
            Step::Entry { line, .. }
            | Step::Default { line, .. }
            | Step::Delete { line, .. }
            | Step::Send { line, .. }
            | Step::PacketOut { line, .. }
            | Step::Counter { line, .. } => *line,
        }
    }
}

/// A parsed test file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestFile {
    /// The name given to the parser (usually the path).
    pub name: String,
    /// The steps in order.
    pub steps: Vec<Step>,
}

/// Reads and parses a test file from disk.
pub fn load(path: &std::path::Path) -> Result<TestFile, FormatError> {
    let text = std::fs::read_to_string(path).map_err(|e| FormatError {
        file: path.display().to_string(),
        line: 0,
        message: format!("cannot read: {e}"),
    })?;
    parse(&path.display().to_string(), &text)
}

/// Parses the text of a test file.
pub fn parse(name: &str, text: &str) -> Result<TestFile, FormatError> {
    let mut p = Parser {
        file: name.to_string(),
        templates: HashMap::new(),
        steps: Vec::new(),
    };
    for (line, stmt) in logical_lines(text) {
        p.statement(line, &stmt)?;
    }
    p.check_last()?;
    Ok(TestFile {
        name: name.to_string(),
        steps: p.steps,
    })
}

/// Joins `\`-continued lines, strips comments and blank lines; yields (first line, text).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let no_comment = match raw.find('#') {
            Some(pos) => &raw[..pos],
            None => raw,
        };
        let trimmed = no_comment.trim();
        let (body, cont) = match trimmed.strip_suffix('\\') {
            Some(b) => (b.trim_end(), true),
            None => (trimmed, false),
        };
        let entry = pending.get_or_insert_with(|| (i + 1, String::new()));
        if !body.is_empty() {
            if !entry.1.is_empty() {
                entry.1.push(' ');
            }
            entry.1.push_str(body);
        }
        if !cont {
            let (l, s) = pending.take().unwrap_or_default();
            if !s.is_empty() {
                out.push((l, s));
            }
        }
    }
    if let Some((l, s)) = pending
        && !s.is_empty()
    {
        out.push((l, s));
    }
    out
}

struct Parser {
    file: String,
    templates: HashMap<String, Vec<Layer>>,
    steps: Vec<Step>,
}

impl Parser {
    fn err(&self, line: usize, message: impl Into<String>) -> FormatError {
        FormatError {
            file: self.file.clone(),
            line,
            message: message.into(),
        }
    }

    fn build_err(&self, line: usize, e: BuildError) -> FormatError {
        self.err(line, e.to_string())
    }

    /// A send must be followed by at least one expectation.
    fn check_last(&self) -> Result<(), FormatError> {
        match self.steps.last() {
            Some(Step::Send { line, expect, .. }) | Some(Step::PacketOut { line, expect, .. })
                if expect.is_empty() =>
            {
                Err(self.err(*line, "a send needs at least one `expect` line after it"))
            }
            _ => Ok(()),
        }
    }

    fn statement(&mut self, line: usize, stmt: &str) -> Result<(), FormatError> {
        let (word, rest) = split_word(stmt);
        if word != "expect" {
            self.check_last()?;
        }
        match word {
            "packet" => {
                let (name, rest) = split_word(rest);
                let spec = rest
                    .trim()
                    .strip_prefix('=')
                    .ok_or_else(|| self.err(line, "expected `packet NAME = SPEC`"))?;
                if !is_ident(name) {
                    return Err(self.err(line, format!("bad packet name {name:?}")));
                }
                let layers = self.spec(line, spec)?;
                self.templates.insert(name.to_string(), layers);
            }
            "entry" => {
                let (left, right) = rest.split_once("->").ok_or_else(|| {
                    self.err(line, "expected `entry TABLE MATCHES -> ACTION(...)`")
                })?;
                let (table, matches) = self.table_and_pairs(line, left)?;
                let (action, params, priority) = self.action(line, right)?;
                self.steps.push(Step::Entry {
                    line,
                    table,
                    matches,
                    action,
                    params,
                    priority,
                });
            }
            "default" => {
                let (left, right) = rest
                    .split_once("->")
                    .ok_or_else(|| self.err(line, "expected `default TABLE -> ACTION(...)`"))?;
                let (table, matches) = self.table_and_pairs(line, left)?;
                if !matches.is_empty() {
                    return Err(self.err(line, "a default entry has no match fields"));
                }
                let (action, params, priority) = self.action(line, right)?;
                if priority.is_some() {
                    return Err(self.err(line, "a default entry has no priority"));
                }
                self.steps.push(Step::Default {
                    line,
                    table,
                    action,
                    params,
                });
            }
            "delete" => {
                let (body, priority) = self.trailing_priority(line, rest)?;
                let (table, matches) = self.table_and_pairs(line, &body)?;
                self.steps.push(Step::Delete {
                    line,
                    table,
                    matches,
                    priority,
                });
            }
            "send" => {
                let (port, spec) = split_word(rest);
                let port = self.port(line, port)?;
                let bytes = self.packet(line, spec)?;
                self.steps.push(Step::Send {
                    line,
                    port,
                    bytes,
                    expect: Vec::new(),
                });
            }
            "packet_out" => {
                let (metadata, spec) = self.attrs(line, rest)?;
                let bytes = self.packet(line, spec)?;
                self.steps.push(Step::PacketOut {
                    line,
                    metadata,
                    bytes,
                    expect: Vec::new(),
                });
            }
            "expect" => {
                let e = self.expect(line, rest)?;
                let expect = match self.steps.last_mut() {
                    Some(Step::Send { expect, .. }) | Some(Step::PacketOut { expect, .. }) => {
                        expect
                    }
                    _ => return Err(self.err(line, "`expect` must follow a send or packet_out")),
                };
                if expect.contains(&Expect::Drop) || (!expect.is_empty() && e == Expect::Drop) {
                    return Err(self.err(line, "`expect drop` cannot be mixed with other expects"));
                }
                expect.push(e);
            }
            "counter" => {
                let (target, rest) = split_word(rest);
                let (name, index) = target
                    .strip_suffix(']')
                    .and_then(|t| t.split_once('['))
                    .ok_or_else(|| self.err(line, "expected `counter NAME[INDEX] packets=N`"))?;
                let index = self.int(line, index)? as u32;
                let mut packets = None;
                let mut bytes = None;
                for tok in rest.split_whitespace() {
                    match tok.split_once('=') {
                        Some(("packets", v)) => packets = Some(self.int(line, v)?),
                        Some(("bytes", v)) => bytes = Some(self.int(line, v)?),
                        _ => return Err(self.err(line, format!("unexpected {tok:?}"))),
                    }
                }
                let packets = packets.ok_or_else(|| self.err(line, "counter needs packets=N"))?;
                self.steps.push(Step::Counter {
                    line,
                    name: name.to_string(),
                    index,
                    packets,
                    bytes,
                });
            }
            other => return Err(self.err(line, format!("unknown statement {other:?}"))),
        }
        Ok(())
    }

    fn int(&self, line: usize, s: &str) -> Result<u64, FormatError> {
        packet::parse_number(s)
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| self.err(line, format!("bad number {s:?}")))
    }

    fn port(&self, line: usize, s: &str) -> Result<u32, FormatError> {
        let v = self.int(line, s)?;
        u32::try_from(v)
            .ok()
            .filter(|p| *p < 512)
            .ok_or_else(|| self.err(line, format!("bad port {s:?}")))
    }

    /// `TABLE f=v f=v ...`
    fn table_and_pairs(&self, line: usize, text: &str) -> Result<(String, Vec<Pair>), FormatError> {
        let mut toks = text.split_whitespace();
        let table = toks
            .next()
            .ok_or_else(|| self.err(line, "missing table name"))?
            .to_string();
        let pairs = toks
            .map(|t| self.pair(line, t))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((table, pairs))
    }

    fn pair(&self, line: usize, tok: &str) -> Result<Pair, FormatError> {
        let (k, v) = tok
            .split_once('=')
            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            .ok_or_else(|| self.err(line, format!("expected name=value, got {tok:?}")))?;
        Ok((k.to_string(), v.to_string()))
    }

    /// `... priority N` at the end of a statement.
    fn trailing_priority(
        &self,
        line: usize,
        text: &str,
    ) -> Result<(String, Option<i32>), FormatError> {
        let toks: Vec<&str> = text.split_whitespace().collect();
        if toks.len() >= 2 && toks[toks.len() - 2] == "priority" {
            let p = toks[toks.len() - 1]
                .parse::<i32>()
                .map_err(|_| self.err(line, "bad priority"))?;
            Ok((toks[..toks.len() - 2].join(" "), Some(p)))
        } else {
            Ok((text.to_string(), None))
        }
    }

    /// `ACTION(p=v, ...) [priority N]`
    fn action(
        &self,
        line: usize,
        text: &str,
    ) -> Result<(String, Vec<Pair>, Option<i32>), FormatError> {
        let text = text.trim();
        let open = text
            .find('(')
            .ok_or_else(|| self.err(line, "expected ACTION(...)"))?;
        let close = text
            .rfind(')')
            .filter(|c| *c > open)
            .ok_or_else(|| self.err(line, "missing `)` after the action parameters"))?;
        let action = text[..open].trim().to_string();
        let params = split_args(&text[open + 1..close])
            .into_iter()
            .map(|a| self.pair(line, &a))
            .collect::<Result<Vec<_>, _>>()?;
        let tail: Vec<&str> = text[close + 1..].split_whitespace().collect();
        let priority = match tail.as_slice() {
            [] => None,
            ["priority", p] => Some(
                p.parse::<i32>()
                    .map_err(|_| self.err(line, "bad priority"))?,
            ),
            _ => return Err(self.err(line, format!("unexpected {:?}", &text[close + 1..]))),
        };
        Ok((action, params, priority))
    }

    /// An optional `[k=v k=v]` list, then the rest.
    fn attrs<'t>(&self, line: usize, text: &'t str) -> Result<(Vec<Pair>, &'t str), FormatError> {
        let t = text.trim_start();
        let Some(inner) = t.strip_prefix('[') else {
            return Ok((Vec::new(), t));
        };
        let close = inner
            .find(']')
            .ok_or_else(|| self.err(line, "missing `]`"))?;
        let pairs = inner[..close]
            .split_whitespace()
            .map(|tok| self.pair(line, tok))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((pairs, &inner[close + 1..]))
    }

    fn expect(&self, line: usize, text: &str) -> Result<Expect, FormatError> {
        let (what, rest) = split_word(text);
        match what {
            "drop" => {
                if !rest.trim().is_empty() {
                    return Err(self.err(line, "nothing may follow `expect drop`"));
                }
                Ok(Expect::Drop)
            }
            "packet_in" => {
                let (metadata, spec) = self.attrs(line, rest)?;
                Ok(Expect::PacketIn {
                    metadata,
                    bytes: self.packet(line, spec)?,
                })
            }
            port => {
                let port = self.port(line, port)?;
                let (attrs, spec) = self.attrs(line, rest)?;
                let mut priority = None;
                for (k, v) in attrs {
                    match k.as_str() {
                        "priority" => {
                            priority = Some(
                                v.parse::<u8>()
                                    .ok()
                                    .filter(|p| *p < 8)
                                    .ok_or_else(|| self.err(line, "priority is 0..7"))?,
                            )
                        }
                        _ => return Err(self.err(line, format!("unknown attribute {k:?}"))),
                    }
                }
                Ok(Expect::Packet {
                    port,
                    priority,
                    bytes: self.packet(line, spec)?,
                })
            }
        }
    }

    fn packet(&self, line: usize, spec: &str) -> Result<Vec<u8>, FormatError> {
        let layers = self.spec(line, spec)?;
        packet::build(&layers).map_err(|e| self.build_err(line, e))
    }

    /// `layer(...) / layer(...)`, `$template(layer.field=v, ...) / ...`, or `hex(...)`.
    fn spec(&self, line: usize, spec: &str) -> Result<Vec<Layer>, FormatError> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(self.err(line, "missing packet"));
        }
        let mut layers = Vec::new();
        for part in split_top(spec, '/') {
            let part = part.trim();
            let (head, args) = match part.find('(') {
                Some(open) => {
                    let inner = part[open + 1..]
                        .strip_suffix(')')
                        .ok_or_else(|| self.err(line, format!("missing `)` in {part:?}")))?;
                    (part[..open].trim(), split_args(inner))
                }
                None => (part, Vec::new()),
            };
            if let Some(name) = head.strip_prefix('$') {
                let mut t = self
                    .templates
                    .get(name)
                    .cloned()
                    .ok_or_else(|| self.err(line, format!("no packet named {name:?}")))?;
                for a in args {
                    let (k, v) = self.pair(line, &a)?;
                    let (lname, field) = k.split_once('.').ok_or_else(|| {
                        self.err(line, format!("override {k:?} needs layer.field"))
                    })?;
                    let kind = LayerKind::from_name(lname).map_err(|e| self.build_err(line, e))?;
                    let l = t
                        .iter_mut()
                        .find(|l| l.kind == kind)
                        .ok_or_else(|| self.err(line, format!("${name} has no {lname} layer")))?;
                    l.set(field, &v).map_err(|e| self.build_err(line, e))?;
                }
                layers.extend(t);
            } else if head == "hex" {
                let hex = args.concat();
                layers.push(Layer {
                    kind: LayerKind::Raw,
                    fields: vec![("hex".to_string(), hex)],
                });
            } else {
                let kind = LayerKind::from_name(head).map_err(|e| self.build_err(line, e))?;
                let fields = args
                    .iter()
                    .map(|a| self.pair(line, a))
                    .collect::<Result<Vec<_>, _>>()?;
                layers.push(Layer::new(kind, fields).map_err(|e| self.build_err(line, e))?);
            }
        }
        Ok(layers)
    }
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

/// Splits on `sep` outside parentheses.
fn split_top(s: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if c == sep && depth == 0 {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

/// Splits `a=1, b=2` (commas, surrounding spaces dropped, empty parts dropped).
fn split_args(s: &str) -> Vec<String> {
    s.split(',')
        .map(|a| a.split_whitespace().collect::<String>())
        .filter(|a| !a.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
# comment
default FmIngress.epoch_window -> FmIngress.set_epoch(current_epoch=10, retry_allowance=2)
entry FmIngress.classify meta.fmh_valid=1 hdr.fmh.msg_type=0x01&&&0xFF \
    -> FmIngress.set_class(class_id=0, prio=7) priority 10
packet ord = eth(dst=02:00:00:00:00:01, src=02:00:00:00:00:02) / ipv4(src=10.0.1.1, dst=10.0.2.1) \
             / udp() / fmh(msg_type=ORDER, epoch=10)
send 1 $ord(fmh.retry=2)
expect 2 [priority=7] $ord(fmh.retry=2, fmh.hop_limit=15, ipv4.ttl=63)
send 1 $ord(fmh.retry=3)
expect drop
packet_out [egress_port=2 flags=0] hex(00112233445566778899aabb0800)
expect 2 hex(00112233445566778899aabb0800)
delete FmIngress.classify meta.fmh_valid=1 hdr.fmh.msg_type=0x01&&&0xFF priority 10
counter FmIngress.drops[3] packets=1 bytes=74
"#;

    #[test]
    fn parses_every_statement() {
        let t = parse("sample", SAMPLE).unwrap();
        assert_eq!(t.steps.len(), 7);
        match &t.steps[1] {
            Step::Entry {
                line,
                matches,
                params,
                priority,
                ..
            } => {
                assert_eq!(*line, 4);
                assert_eq!(matches[1].1, "0x01&&&0xFF");
                assert_eq!(params[1], ("prio".to_string(), "7".to_string()));
                assert_eq!(*priority, Some(10));
            }
            s => panic!("{s:?}"),
        }
        match &t.steps[2] {
            Step::Send {
                port,
                bytes,
                expect,
                ..
            } => {
                assert_eq!(*port, 1);
                assert_eq!(bytes[14 + 20 + 8 + 2], 2);
                match &expect[0] {
                    Expect::Packet {
                        port,
                        priority,
                        bytes,
                    } => {
                        assert_eq!((*port, *priority), (2, Some(7)));
                        assert_eq!(bytes[14 + 8], 63);
                        assert_eq!(bytes[14 + 20 + 8 + 25], 15);
                    }
                    e => panic!("{e:?}"),
                }
            }
            s => panic!("{s:?}"),
        }
        assert!(matches!(&t.steps[3], Step::Send { expect, .. } if expect == &[Expect::Drop]));
        match &t.steps[4] {
            Step::PacketOut {
                metadata, bytes, ..
            } => {
                assert_eq!(metadata.len(), 2);
                assert_eq!(bytes.len(), 14);
            }
            s => panic!("{s:?}"),
        }
        assert!(
            matches!(&t.steps[5], Step::Delete { priority: Some(10), matches, .. } if matches.len() == 2)
        );
        assert!(matches!(
            &t.steps[6],
            Step::Counter {
                index: 3,
                packets: 1,
                bytes: Some(74),
                ..
            }
        ));
    }

    #[test]
    fn errors_carry_lines() {
        let e = parse("f", "send 1 hex(00)\nsend 1 hex(00)\nexpect drop\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse("f", "\nsend 1 $nope\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("nope"));
        let e = parse("f", "bogus\n").unwrap_err();
        assert!(e.to_string().starts_with("f:1:"));
        let e = parse("f", "send 1 hex(00)\nexpect drop\nexpect 1 hex(00)\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(parse("f", "send 1 udp(sport=70000)\nexpect drop\n").is_err());
        assert!(parse("f", "expect drop\n").is_err());
    }
}
