//! The packet builder of the packet-test format: a frame is a stack of layers
//! (`eth(...) / ipv4(...) / udp(...) / fmh(...) / raw(...)`), each with named fields; fields left
//! out take defaults, and lengths and checksums are computed unless a test sets them.
//! `p4src/tests/README.md` documents every layer and field; the Python runner in
//! `bmv2-testbed/` implements the same rules.

use std::fmt;

/// Why a packet description could not be turned into bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A layer name that the builder does not know.
    #[error("unknown layer {0:?} (known: eth, ipv4, udp, fmh, raw)")]
    UnknownLayer(String),
    /// A field the layer does not have.
    #[error("layer {layer} has no field {field:?}")]
    UnknownField {
        /// The layer.
        layer: &'static str,
        /// The field.
        field: String,
    },
    /// A value that is not a number, address or known name.
    #[error("{layer}.{field}: cannot read value {value:?}")]
    BadValue {
        /// The layer.
        layer: &'static str,
        /// The field.
        field: String,
        /// The text.
        value: String,
    },
    /// A value wider than its field.
    #[error("{layer}.{field}: value {value:?} does not fit in {width} bits")]
    TooWide {
        /// The layer.
        layer: &'static str,
        /// The field.
        field: String,
        /// The text.
        value: String,
        /// The field width.
        width: u32,
    },
    /// A field that has no default here and must be given.
    #[error("{layer}.{field} must be given here")]
    Missing {
        /// The layer.
        layer: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A computed length that does not fit its field.
    #[error("{0} length overflows its field")]
    TooLong(&'static str),
}

/// The kinds of layer a packet description can stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// Ethernet II.
    Eth,
    /// IPv4 (with optional options bytes).
    Ipv4,
    /// UDP.
    Udp,
    /// The 32-byte Flash-Mesh header.
    Fmh,
    /// Raw bytes.
    Raw,
}

impl LayerKind {
    /// The layer's name in test files.
    pub fn name(self) -> &'static str {
        match self {
            LayerKind::Eth => "eth",
            LayerKind::Ipv4 => "ipv4",
            LayerKind::Udp => "udp",
            LayerKind::Fmh => "fmh",
            LayerKind::Raw => "raw",
        }
    }

    /// The layer named `name`.
    pub fn from_name(name: &str) -> Result<LayerKind, BuildError> {
        Ok(match name {
            "eth" => LayerKind::Eth,
            "ipv4" => LayerKind::Ipv4,
            "udp" => LayerKind::Udp,
            "fmh" => LayerKind::Fmh,
            "raw" => LayerKind::Raw,
            other => return Err(BuildError::UnknownLayer(other.to_string())),
        })
    }

    /// The layer's fields with their widths in bits, in wire order (`raw` and the IPv4
    /// `options` field hold byte strings and have width 0 here).
    pub fn fields(self) -> &'static [(&'static str, u32)] {
        match self {
            LayerKind::Eth => &[("dst", 48), ("src", 48), ("type", 16)],
            LayerKind::Ipv4 => &[
                ("version", 4),
                ("ihl", 4),
                ("tos", 8),
                ("len", 16),
                ("id", 16),
                ("flags", 3),
                ("frag", 13),
                ("ttl", 8),
                ("proto", 8),
                ("chksum", 16),
                ("src", 32),
                ("dst", 32),
                ("options", 0),
            ],
            LayerKind::Udp => &[("sport", 16), ("dport", 16), ("len", 16), ("chksum", 16)],
            LayerKind::Fmh => &[
                ("version", 8),
                ("msg_type", 8),
                ("retry", 8),
                ("flags", 8),
                ("epoch", 32),
                ("sender", 64),
                ("nonce", 64),
                ("ttl", 8),
                ("hop_limit", 8),
                ("body_len", 16),
                ("reserved", 32),
            ],
            LayerKind::Raw => &[("hex", 0), ("len", 32)],
        }
    }
}

/// FMH message type names accepted for `fmh.msg_type`, with their numbers.
pub const MSG_TYPE_NAMES: &[(&str, u8)] = &[
    ("ORDER", 1),
    ("VOTE", 2),
    ("CERTIFICATE", 3),
    ("RECEIPT", 4),
    ("QUERY", 5),
    ("QUERY_REPLY", 6),
    ("HANDOFF", 7),
    ("PAYMENT_DATA", 8),
    ("PROBE", 9),
    ("ERROR", 10),
];

/// One layer of a packet description: its kind and the fields the test set (as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// What the layer is.
    pub kind: LayerKind,
    /// Field assignments in the order written; a later one for the same field wins.
    pub fields: Vec<(String, String)>,
}

impl Layer {
    /// A layer of `kind`; checks each field name.
    pub fn new(kind: LayerKind, fields: Vec<(String, String)>) -> Result<Layer, BuildError> {
        for (f, _) in &fields {
            if !kind.fields().iter().any(|(n, _)| n == f) {
                return Err(BuildError::UnknownField {
                    layer: kind.name(),
                    field: f.clone(),
                });
            }
        }
        Ok(Layer { kind, fields })
    }

    /// Sets (or replaces) one field.
    pub fn set(&mut self, field: &str, value: &str) -> Result<(), BuildError> {
        if !self.kind.fields().iter().any(|(n, _)| *n == field) {
            return Err(BuildError::UnknownField {
                layer: self.kind.name(),
                field: field.to_string(),
            });
        }
        self.fields.retain(|(f, _)| f != field);
        self.fields.push((field.to_string(), value.to_string()));
        Ok(())
    }

    fn text(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v.as_str())
    }

    /// The numeric value of `field`, or `None` when the test left it out.
    fn num(&self, field: &'static str) -> Result<Option<u128>, BuildError> {
        let Some(text) = self.text(field) else {
            return Ok(None);
        };
        let width = self
            .kind
            .fields()
            .iter()
            .find(|(n, _)| *n == field)
            .map(|(_, w)| *w)
            .unwrap_or(0);
        let bad = || BuildError::BadValue {
            layer: self.kind.name(),
            field: field.to_string(),
            value: text.to_string(),
        };
        let v = if self.kind == LayerKind::Fmh && field == "msg_type" {
            match MSG_TYPE_NAMES.iter().find(|(n, _)| *n == text) {
                Some((_, v)) => *v as u128,
                None => parse_number(text).ok_or_else(bad)?,
            }
        } else {
            parse_number(text).ok_or_else(bad)?
        };
        if width < 128 && v >> width != 0 {
            return Err(BuildError::TooWide {
                layer: self.kind.name(),
                field: field.to_string(),
                value: text.to_string(),
                width,
            });
        }
        Ok(Some(v))
    }

    fn num_or(&self, field: &'static str, default: u128) -> Result<u128, BuildError> {
        Ok(self.num(field)?.unwrap_or(default))
    }

    fn bytes(&self, field: &'static str) -> Result<Vec<u8>, BuildError> {
        match self.text(field) {
            None => Ok(Vec::new()),
            Some(t) => parse_hex(t).ok_or_else(|| BuildError::BadValue {
                layer: self.kind.name(),
                field: field.to_string(),
                value: t.to_string(),
            }),
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.kind.name())?;
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{k}={v}")?;
        }
        write!(f, ")")
    }
}

/// Reads a number: decimal, `0x` hex, a MAC address (`aa:bb:cc:dd:ee:ff`) or a dotted quad.
pub fn parse_number(text: &str) -> Option<u128> {
    let t = text.trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u128::from_str_radix(&h.replace('_', ""), 16).ok();
    }
    if t.contains(':') {
        let parts: Vec<&str> = t.split(':').collect();
        if parts.len() != 6 || parts.iter().any(|p| p.is_empty() || p.len() > 2) {
            return None;
        }
        let mut acc = 0u128;
        for p in parts {
            acc = (acc << 8) | u8::from_str_radix(p, 16).ok()? as u128;
        }
        return Some(acc);
    }
    if t.contains('.') {
        let ip: std::net::Ipv4Addr = t.parse().ok()?;
        return Some(u32::from(ip) as u128);
    }
    t.parse::<u128>().ok()
}

/// Reads a hex byte string (an optional `0x`, even length; `_` separators allowed).
pub fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    let t = t.strip_prefix("0x").unwrap_or(t).replace('_', "");
    if !t.len().is_multiple_of(2) {
        return None;
    }
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(t.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The Internet checksum (RFC 1071) of `data`, an odd last byte padded with zero.
pub fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = if chunk.len() == 2 {
            u16::from_be_bytes([chunk[0], chunk[1]])
        } else {
            u16::from_be_bytes([chunk[0], 0])
        };
        sum += word as u32;
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

fn put(out: &mut Vec<u8>, v: u128, bytes: usize) {
    let be = v.to_be_bytes();
    out.extend_from_slice(&be[16 - bytes..]);
}

/// Builds the frame that `layers` describe.
pub fn build(layers: &[Layer]) -> Result<Vec<u8>, BuildError> {
    build_from(layers, None)
}

/// Builds `layers`; `ip` carries the enclosing IPv4 addresses for the UDP pseudo-header.
fn build_from(layers: &[Layer], ip: Option<(u32, u32)>) -> Result<Vec<u8>, BuildError> {
    let Some((layer, rest)) = layers.split_first() else {
        return Ok(Vec::new());
    };
    let next = rest.first().map(|l| l.kind);
    let mut out = Vec::new();
    match layer.kind {
        LayerKind::Eth => {
            let ty = match (layer.num("type")?, next) {
                (Some(t), _) => t,
                (None, Some(LayerKind::Ipv4)) => 0x0800,
                (None, _) => {
                    return Err(BuildError::Missing {
                        layer: "eth",
                        field: "type",
                    });
                }
            };
            put(&mut out, layer.num_or("dst", 0)?, 6);
            put(&mut out, layer.num_or("src", 0)?, 6);
            put(&mut out, ty, 2);
            out.extend(build_from(rest, None)?);
        }
        LayerKind::Ipv4 => {
            let options = layer.bytes("options")?;
            let src = layer.num_or("src", 0)? as u32;
            let dst = layer.num_or("dst", 0)? as u32;
            let body = build_from(rest, Some((src, dst)))?;
            let ihl = layer.num_or("ihl", (5 + options.len().div_ceil(4)) as u128)?;
            let total = 20 + options.len() + body.len();
            let len = match layer.num("len")? {
                Some(l) => l,
                None => u16::try_from(total).map_err(|_| BuildError::TooLong("ipv4"))? as u128,
            };
            let proto = match (layer.num("proto")?, next) {
                (Some(p), _) => p,
                (None, Some(LayerKind::Udp)) => 17,
                (None, _) => {
                    return Err(BuildError::Missing {
                        layer: "ipv4",
                        field: "proto",
                    });
                }
            };
            out.push(((layer.num_or("version", 4)? << 4) | ihl) as u8);
            put(&mut out, layer.num_or("tos", 0)?, 1);
            put(&mut out, len, 2);
            put(&mut out, layer.num_or("id", 0)?, 2);
            let ff = (layer.num_or("flags", 0)? << 13) | layer.num_or("frag", 0)?;
            put(&mut out, ff, 2);
            put(&mut out, layer.num_or("ttl", 64)?, 1);
            put(&mut out, proto, 1);
            put(&mut out, 0, 2);
            put(&mut out, src as u128, 4);
            put(&mut out, dst as u128, 4);
            out.extend_from_slice(&options);
            let ck = match layer.num("chksum")? {
                Some(c) => c as u16,
                None => internet_checksum(&out),
            };
            out[10..12].copy_from_slice(&ck.to_be_bytes());
            out.extend(body);
        }
        LayerKind::Udp => {
            let body = build_from(rest, None)?;
            let total = 8 + body.len();
            let len = match layer.num("len")? {
                Some(l) => l,
                None => u16::try_from(total).map_err(|_| BuildError::TooLong("udp"))? as u128,
            };
            put(&mut out, layer.num_or("sport", 47474)?, 2);
            put(&mut out, layer.num_or("dport", 47474)?, 2);
            put(&mut out, len, 2);
            put(&mut out, 0, 2);
            out.extend(body);
            let ck = match (layer.num("chksum")?, ip) {
                (Some(c), _) => c as u16,
                (None, None) => 0,
                (None, Some((s, d))) => {
                    let mut pseudo = Vec::with_capacity(12 + out.len());
                    pseudo.extend_from_slice(&s.to_be_bytes());
                    pseudo.extend_from_slice(&d.to_be_bytes());
                    pseudo.extend_from_slice(&[0, 17]);
                    pseudo.extend_from_slice(&(out.len() as u16).to_be_bytes());
                    pseudo.extend_from_slice(&out);
                    match internet_checksum(&pseudo) {
                        0 => 0xFFFF,
                        c => c,
                    }
                }
            };
            out[6..8].copy_from_slice(&ck.to_be_bytes());
        }
        LayerKind::Fmh => {
            let body = build_from(rest, None)?;
            let body_len = match layer.num("body_len")? {
                Some(l) => l,
                None => {
                    u16::try_from(body.len()).map_err(|_| BuildError::TooLong("fmh body"))? as u128
                }
            };
            put(&mut out, layer.num_or("version", 1)?, 1);
            let msg_type = layer.num("msg_type")?.ok_or(BuildError::Missing {
                layer: "fmh",
                field: "msg_type",
            })?;
            put(&mut out, msg_type, 1);
            put(&mut out, layer.num_or("retry", 0)?, 1);
            put(&mut out, layer.num_or("flags", 0)?, 1);
            put(&mut out, layer.num_or("epoch", 0)?, 4);
            put(&mut out, layer.num_or("sender", 0)?, 8);
            put(&mut out, layer.num_or("nonce", 0)?, 8);
            put(&mut out, layer.num_or("ttl", 1)?, 1);
            put(&mut out, layer.num_or("hop_limit", 16)?, 1);
            put(&mut out, body_len, 2);
            put(&mut out, layer.num_or("reserved", 0)?, 4);
            out.extend(body);
        }
        LayerKind::Raw => {
            out.extend(layer.bytes("hex")?);
            let n = layer.num_or("len", 0)? as usize;
            out.extend((0..n).map(|i| i as u8));
            out.extend(build_from(rest, None)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(kind: LayerKind, fields: &[(&str, &str)]) -> Layer {
        Layer::new(
            kind,
            fields
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn ipv4_checksum_matches_known_header() {
        // The classic example header from RFC 1071 discussions: checksum 0xb861.
        let hdr = parse_hex("450000730000400040110000c0a80001c0a800c7").unwrap();
        assert_eq!(internet_checksum(&hdr), 0xb861);
    }

    #[test]
    fn full_bcb_frame_has_valid_checksums() {
        let frame = build(&[
            layer(
                LayerKind::Eth,
                &[("dst", "02:00:00:00:00:01"), ("src", "02:00:00:00:00:02")],
            ),
            layer(
                LayerKind::Ipv4,
                &[("src", "10.0.1.1"), ("dst", "10.0.2.1"), ("ttl", "64")],
            ),
            layer(LayerKind::Udp, &[]),
            layer(
                LayerKind::Fmh,
                &[("msg_type", "ORDER"), ("epoch", "7"), ("nonce", "0x10")],
            ),
            layer(LayerKind::Raw, &[("len", "5")]),
        ])
        .unwrap();
        assert_eq!(frame.len(), 14 + 20 + 8 + 32 + 5);
        assert_eq!(&frame[12..14], &[0x08, 0x00]);
        assert_eq!(internet_checksum(&frame[14..34]), 0);
        // UDP: the pseudo-header plus the datagram sums to 0xFFFF.
        let udp = &frame[34..];
        let mut pseudo = frame[26..34].to_vec();
        pseudo.extend_from_slice(&[0, 17]);
        pseudo.extend_from_slice(&(udp.len() as u16).to_be_bytes());
        pseudo.extend_from_slice(udp);
        assert_eq!(internet_checksum(&pseudo), 0);
        assert_eq!(u16::from_be_bytes([udp[4], udp[5]]) as usize, udp.len());
        // FMH: type, epoch, nonce, defaults for ttl, hop_limit, body_len.
        let fmh = &udp[8..40];
        assert_eq!(fmh[0], 1);
        assert_eq!(fmh[1], 1);
        assert_eq!(&fmh[4..8], &7u32.to_be_bytes());
        assert_eq!(&fmh[16..24], &0x10u64.to_be_bytes());
        assert_eq!((fmh[24], fmh[25]), (1, 16));
        assert_eq!(&fmh[26..28], &5u16.to_be_bytes());
    }

    #[test]
    fn values_must_fit_and_parse() {
        let l = layer(LayerKind::Fmh, &[("msg_type", "ORDER"), ("retry", "256")]);
        assert!(matches!(build(&[l]), Err(BuildError::TooWide { .. })));
        let l = layer(LayerKind::Fmh, &[("msg_type", "NOPE")]);
        assert!(matches!(build(&[l]), Err(BuildError::BadValue { .. })));
        assert!(Layer::new(LayerKind::Udp, vec![("nope".into(), "1".into())]).is_err());
        assert!(matches!(
            build(&[layer(LayerKind::Eth, &[])]),
            Err(BuildError::Missing { .. })
        ));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0x1F"), Some(31));
        assert_eq!(parse_number("10.0.0.1"), Some(0x0A00_0001));
        assert_eq!(parse_number("02:00:00:00:00:01"), Some(0x0200_0000_0001));
        assert_eq!(parse_number("x"), None);
        assert_eq!(parse_hex("0a0B"), Some(vec![10, 11]));
        assert_eq!(parse_hex("abc"), None);
    }
}
