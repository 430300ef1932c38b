//! P4Info names as p4c writes them: fully qualified control-local names
//! (`MyIngress.ipv4_lpm`), `@name` overrides, aliases (shortest unique suffix), annotation
//! strings, and match-field names printed from key expressions.

use std::collections::HashMap;

use crate::front::ast::{Annotation, Expr, ExprKind, find_annotation};

/// Annotations that p4c never copies into P4Info.
const SKIPPED: &[&str] = &[
    "name",
    "id",
    "hidden",
    "brief",
    "description",
    "defaultonly",
    "tableonly",
];

/// The P4Info name of a declaration named `local` in control `scope` (`None` at top level).
pub fn qualified(annotations: &[Annotation], local: &str, scope: Option<&str>) -> String {
    if let Some(n) = find_annotation(annotations, "name").and_then(|a| a.string_arg.clone()) {
        if let Some(abs) = n.strip_prefix('.') {
            return abs.to_string();
        }
        return match scope {
            Some(s) => format!("{s}.{n}"),
            None => n,
        };
    }
    match scope {
        Some(s) => format!("{s}.{local}"),
        None => local.to_string(),
    }
}

/// `@a` or `@a(body)` as p4c prints an annotation.
pub fn annotation_text(a: &Annotation) -> String {
    match &a.body {
        None => format!("@{}", a.name),
        Some(b) => format!("@{}({})", a.name, b),
    }
}

/// The annotations of a preamble (everything except names, ids and documentation).
pub fn preamble_annotations(annotations: &[Annotation]) -> Vec<String> {
    annotations
        .iter()
        .filter(|a| !SKIPPED.contains(&a.name.as_str()))
        .map(annotation_text)
        .collect()
}

/// Aliases: for each name the shortest suffix of dot-separated components that no other name
/// (of the same kind) ends with.
pub fn aliases(names: &[String]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for n in names {
        let parts: Vec<&str> = n.split('.').collect();
        let mut alias = n.clone();
        for k in 1..=parts.len() {
            let suffix = parts[parts.len() - k..].join(".");
            let clash = names
                .iter()
                .any(|m| m != n && (m == &suffix || m.ends_with(&format!(".{suffix}"))));
            if !clash {
                alias = suffix;
                break;
            }
        }
        out.insert(n.clone(), alias);
    }
    out
}

/// The source form of a key expression (`hdr.ipv4.dstAddr`, `meta.x[7:0]`,
/// `hdr.h.isValid()`), as p4c names match fields.
pub fn expr_text(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Name(n) => n.name.clone(),
        ExprKind::ErrorType => "error".to_string(),
        ExprKind::Member { base, member } => format!("{}.{}", expr_text(base), member.name),
        ExprKind::Index { base, index } => format!("{}[{}]", expr_text(base), expr_text(index)),
        ExprKind::Slice { base, hi, lo } => {
            format!("{}[{}:{}]", expr_text(base), expr_text(hi), expr_text(lo))
        }
        ExprKind::Int(l) => match l.width {
            Some((w, s)) => format!("{w}{}{}", if s { "s" } else { "w" }, l.value),
            None => l.value.to_string(),
        },
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Call { callee, args, .. } => {
            let a: Vec<String> = args.iter().map(expr_text).collect();
            format!("{}({})", expr_text(callee), a.join(", "))
        }
        ExprKind::Cast { expr, .. } => expr_text(expr),
        ExprKind::Binary { op, lhs, rhs } => {
            format!("{} {} {}", expr_text(lhs), op.symbol(), expr_text(rhs))
        }
        _ => "expr".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_is_shortest_unique_suffix() {
        let names = vec![
            "MyIngress.nop".to_string(),
            "MyEgress.nop".to_string(),
            "MyIngress.fwd".to_string(),
            "NoAction".to_string(),
        ];
        let a = aliases(&names);
        assert_eq!(a["MyIngress.fwd"], "fwd");
        assert_eq!(a["MyIngress.nop"], "MyIngress.nop");
        assert_eq!(a["NoAction"], "NoAction");
    }

    #[test]
    fn qualified_names() {
        let ann = vec![Annotation {
            name: "name".into(),
            body: Some("\".top\"".into()),
            string_arg: Some(".top".into()),
            int_arg: None,
            span: Default::default(),
        }];
        assert_eq!(qualified(&ann, "x", Some("C")), "top");
        assert_eq!(qualified(&[], "x", Some("C")), "C.x");
        assert_eq!(qualified(&[], "NoAction", None), "NoAction");
    }
}
