//! Mutated versions of the reference programs (tokens deleted, duplicated, swapped or
//! replaced) always give a checked program or diagnostics, never a panic. The number of
//! mutations is `FM_FRONT_MUTATIONS` (default 300) so a longer run is one variable away.

use std::panic;
use std::path::PathBuf;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Split source text into rough tokens (words, numbers, punctuation, whitespace runs).
fn pieces(src: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut kind = 0u8;
    for ch in src.chars() {
        let k = if ch.is_alphanumeric() || ch == '_' {
            1
        } else if ch.is_whitespace() {
            2
        } else {
            3
        };
        if k != kind || k == 3 {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            kind = k;
        }
        cur.push(ch);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[test]
fn mutated_programs_never_panic() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/bmv2-reference");
    let names = ["tables", "parse", "arith", "cpu", "hashes", "state"];
    let sources: Vec<String> = names
        .iter()
        .filter_map(|n| std::fs::read_to_string(dir.join(format!("{n}.p4"))).ok())
        .collect();
    if sources.is_empty() {
        eprintln!("skipping: corpus not present");
        return;
    }
    let count: usize = std::env::var("FM_FRONT_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let vocabulary = [
        "(",
        ")",
        "{",
        "}",
        "<",
        ">",
        ";",
        ",",
        ".",
        "[",
        "]",
        ":",
        "=",
        "&&&",
        "..",
        "_",
        "default",
        "bit",
        "int",
        "8w300",
        "0",
        "1",
        "-",
        "++",
        "|+|",
        "header",
        "struct",
        "table",
        "action",
        "apply",
        "transition",
        "select",
        "state",
        "#define X",
        "\n#if 1\n",
        "error",
        "exit",
        "return",
        "@name(\"x\")",
        "bit<129>",
        "hdr",
        "sm",
        "meta",
        "extract",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut failures = Vec::new();
    for i in 0..count {
        let src = &sources[i % sources.len()];
        let mut p = pieces(src);
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(p.len());
            match rng.below(4) {
                0 => {
                    p.remove(at);
                }
                1 => {
                    let t = p[at].clone();
                    p.insert(at, t);
                }
                2 => {
                    let b = rng.below(p.len());
                    p.swap(at, b);
                }
                _ => p[at] = vocabulary[rng.below(vocabulary.len())].to_string(),
            }
        }
        let text = p.concat();
        let r = panic::catch_unwind(|| {
            let _ = flashmesh_p4::front::check_source("mutant.p4", &text);
            let _ = flashmesh_p4::p4info::p4info_source("mutant.p4", &text);
        });
        if r.is_err() {
            failures.push(text);
        }
    }
    assert!(
        failures.is_empty(),
        "{} mutants panicked; first:\n{}",
        failures.len(),
        failures[0]
    );
}
