//! Protobuf text format for the generated messages, through reflection: what p4c
//! writes as `.p4info.txtpb` and what `flash-switch compile --p4info` prints.

use std::fmt::Write as _;

use prost::{Message, Name};
use prost_reflect::{DynamicMessage, Kind, MapKey, Value};

use crate::{descriptor_pool, p4::config::v1::P4Info};

/// Why a text-format document could not be turned into a message.
#[derive(Debug, thiserror::Error)]
pub enum TextFormatError {
    /// The message type is not among this crate's descriptors.
    #[error("unknown message type {0}")]
    UnknownType(String),
    /// The text is not valid text format for the message type.
    #[error("text format parse error: {0}")]
    Parse(#[from] prost_reflect::text_format::ParseError),
    /// The parsed message could not be converted to the generated type.
    #[error("decode error: {0}")]
    Decode(#[from] prost::DecodeError),
}

fn descriptor<M: Name>() -> Result<prost_reflect::MessageDescriptor, TextFormatError> {
    let name = M::full_name();
    descriptor_pool()
        .get_message_by_name(&name)
        .ok_or(TextFormatError::UnknownType(name))
}

/// Prints `msg` in multi-line protobuf text format, laid out as protobuf's own
/// text printer does (fields in number order, one line per repeated element,
/// two-space indentation, C-style escaped strings).
pub fn to_text<M: Message + Name>(msg: &M) -> String {
    let desc = descriptor::<M>().expect("generated messages have descriptors");
    let dynamic = DynamicMessage::decode(desc, msg.encode_to_vec().as_slice())
        .expect("a generated message re-decodes with its own descriptor");
    let mut out = String::new();
    print_message(&dynamic, 0, &mut out);
    out
}

fn print_message(msg: &DynamicMessage, depth: usize, out: &mut String) {
    let mut fields: Vec<_> = msg.fields().collect();
    fields.sort_by_key(|(f, _)| f.number());
    for (field, value) in fields {
        match value {
            Value::List(items) => {
                for item in items {
                    print_field(field.name(), &field.kind(), item, depth, out);
                }
            }
            Value::Map(map) => {
                let entry = field.kind();
                let entry = entry.as_message().expect("map fields have entry messages");
                let (key_kind, value_kind) = (
                    entry.map_entry_key_field().kind(),
                    entry.map_entry_value_field().kind(),
                );
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| map_key_order(a.0, b.0));
                for (key, value) in entries {
                    indent(depth, out);
                    out.push_str(field.name());
                    out.push_str(" {\n");
                    print_field("key", &key_kind, &key.clone().into(), depth + 1, out);
                    print_field("value", &value_kind, value, depth + 1, out);
                    indent(depth, out);
                    out.push_str("}\n");
                }
            }
            value => print_field(field.name(), &field.kind(), value, depth, out),
        }
    }
}

fn map_key_order(a: &MapKey, b: &MapKey) -> std::cmp::Ordering {
    a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal)
}

fn indent(depth: usize, out: &mut String) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn print_field(name: &str, kind: &Kind, value: &Value, depth: usize, out: &mut String) {
    indent(depth, out);
    out.push_str(name);
    match value {
        Value::Message(m) => {
            out.push_str(" {\n");
            print_message(m, depth + 1, out);
            indent(depth, out);
            out.push_str("}\n");
            return;
        }
        _ => out.push_str(": "),
    }
    match value {
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::I32(v) => write!(out, "{v}").expect("write to string"),
        Value::I64(v) => write!(out, "{v}").expect("write to string"),
        Value::U32(v) => write!(out, "{v}").expect("write to string"),
        Value::U64(v) => write!(out, "{v}").expect("write to string"),
        Value::F32(v) => write!(out, "{v}").expect("write to string"),
        Value::F64(v) => write!(out, "{v}").expect("write to string"),
        Value::String(s) => escape(s.as_bytes(), out),
        Value::Bytes(b) => escape(b, out),
        Value::EnumNumber(n) => match kind.as_enum().and_then(|e| e.get_value(*n)) {
            Some(v) => out.push_str(v.name()),
            None => write!(out, "{n}").expect("write to string"),
        },
        Value::Message(_) | Value::List(_) | Value::Map(_) => {}
    }
    out.push('\n');
}

/// C-style escaping as protobuf's text printer does it: printable ASCII as is,
/// everything else as a three-digit octal escape.
fn escape(bytes: &[u8], out: &mut String) {
    out.push('"');
    for &b in bytes {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'"' => out.push_str("\\\""),
            b'\'' => out.push_str("\\'"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => write!(out, "\\{b:03o}").expect("write to string"),
        }
    }
    out.push('"');
}

/// Parses protobuf text format (comments allowed) into `M`.
pub fn from_text<M: Message + Name + Default>(text: &str) -> Result<M, TextFormatError> {
    let dynamic = DynamicMessage::parse_text_format(descriptor::<M>()?, text)?;
    Ok(M::decode(dynamic.encode_to_vec().as_slice())?)
}

/// Prints a P4Info in text format exactly as p4c writes a `.p4info.txtpb` file
/// (with its two header comment lines).
pub fn p4info_to_text(p4info: &P4Info) -> String {
    format!(
        "# proto-file: p4/config/v1/p4info.proto\n# proto-message: {}\n\n{}",
        P4Info::full_name(),
        to_text(p4info)
    )
}

/// Parses a `.p4info.txtpb` document.
pub fn p4info_from_text(text: &str) -> Result<P4Info, TextFormatError> {
    from_text(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::p4::config::v1::{Preamble, Table};

    #[test]
    fn p4info_round_trips_through_text() {
        let p4info = P4Info {
            tables: vec![Table {
                preamble: Some(Preamble {
                    id: 0x0200_0001,
                    name: "MyIngress.ipv4_lpm".into(),
                    alias: "ipv4_lpm".into(),
                    ..Default::default()
                }),
                size: 1024,
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = p4info_to_text(&p4info);
        assert!(text.contains("name: \"MyIngress.ipv4_lpm\""), "{text}");
        assert_eq!(p4info_from_text(&text).unwrap(), p4info);
    }

    #[test]
    fn bad_text_is_an_error() {
        assert!(p4info_from_text("tables { no_such_field: 1 }").is_err());
        assert!(p4info_from_text("tables {").is_err());
    }
}
