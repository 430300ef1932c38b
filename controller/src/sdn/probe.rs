//! PROBE frames: Ethernet / IPv4 / UDP 47474 / FMH (msg_type 9) with a body that identifies the
//! sending node, port and sequence number and carries the send time. The FMH is core's
//! ([`HeaderRepr`]); the Ethernet/IPv4/UDP framing and the body are the probe's own. Building and
//! parsing are pure; a malformed frame is an error, never a panic.

use std::net::Ipv4Addr;

use flashmesh_core::codec::DecodeError;
use flashmesh_core::keys::Tag;
use flashmesh_core::wire::{
    BCB_UDP_PORT, FLAG_PROBE_REPLY, HEADER_LEN, Header, HeaderRepr, MSG_PROBE, MsgType,
};
use thiserror::Error;

use super::topology::Mac;

/// Magic at the start of a probe body.
pub const PROBE_MAGIC: [u8; 4] = *b"FMPB";
/// Probe body length: magic, origin tag, port, sequence, send time.
pub const PROBE_BODY_LEN: usize = 4 + 8 + 2 + 8 + 8;

/// What a probe carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// Tag of the controller that sent it (the FMH sender).
    pub origin: Tag,
    /// The port it was sent out of.
    pub port: u16,
    /// Sequence number on that port.
    pub seq: u64,
    /// Send time, nanoseconds on the sender's monotonic clock.
    pub sent_ns: u64,
    /// The sender's epoch.
    pub epoch: u32,
    /// Reply flag.
    pub reply: bool,
}

/// A frame that is not a probe.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProbeError {
    /// Shorter than the headers.
    #[error("frame of {0} bytes is too short for a probe")]
    Short(usize),
    /// Not IPv4/UDP to the BCB port.
    #[error("frame is not IPv4/UDP to port 47474")]
    NotBcb,
    /// FMH of another type.
    #[error("FMH message type {0} is not PROBE")]
    NotProbe(u8),
    /// A PROBE whose FMH is not valid (version, reserved bytes).
    #[error("probe FMH is malformed: {0}")]
    BadHeader(DecodeError),
    /// Body without the probe magic.
    #[error("probe body is malformed")]
    BadBody,
}

fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in h.chunks(2) {
        let w = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Builds a probe request frame.
pub fn build(p: &Probe, smac: Mac, dmac: Mac, src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let body_len = PROBE_BODY_LEN;
    let udp_len = 8 + HEADER_LEN + body_len;
    let ip_len = 20 + udp_len;
    let mut f = Vec::with_capacity(14 + ip_len);
    f.extend_from_slice(&dmac);
    f.extend_from_slice(&smac);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let ip_start = f.len();
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&(ip_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    let ck = ipv4_checksum(&f[ip_start..ip_start + 20]);
    f[ip_start + 10..ip_start + 12].copy_from_slice(&ck.to_be_bytes());
    f.extend_from_slice(&BCB_UDP_PORT.to_be_bytes());
    f.extend_from_slice(&BCB_UDP_PORT.to_be_bytes());
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]); // UDP checksum optional over IPv4
    HeaderRepr {
        msg_type: MsgType::Probe,
        retry: 0,
        flags: if p.reply { FLAG_PROBE_REPLY } else { 0 },
        epoch: p.epoch,
        sender: p.origin,
        nonce: p.seq,
        ttl: 255,     // in epochs
        hop_limit: 1, // one hop: the neighbour reflects it
        body_len: body_len as u16,
    }
    .emit_to(&mut f);
    // body
    f.extend_from_slice(&PROBE_MAGIC);
    f.extend_from_slice(&p.origin.0);
    f.extend_from_slice(&p.port.to_be_bytes());
    f.extend_from_slice(&p.seq.to_be_bytes());
    f.extend_from_slice(&p.sent_ns.to_be_bytes());
    f
}

/// Parses a probe (request or reply) out of a frame.
pub fn parse(frame: &[u8]) -> Result<Probe, ProbeError> {
    if frame.len() < 14 + 20 {
        return Err(ProbeError::Short(frame.len()));
    }
    if frame[12..14] != [0x08, 0x00] || frame[14] >> 4 != 4 || frame[23] != 17 {
        return Err(ProbeError::NotBcb);
    }
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    let udp = 14 + ihl;
    if ihl < 20 || frame.len() < udp + 8 + HEADER_LEN + PROBE_BODY_LEN {
        return Err(ProbeError::Short(frame.len()));
    }
    let dport = u16::from_be_bytes([frame[udp + 2], frame[udp + 3]]);
    if dport != BCB_UDP_PORT {
        return Err(ProbeError::NotBcb);
    }
    let fmh = Header::new_unchecked(&frame[udp + 8..udp + 8 + HEADER_LEN]);
    if fmh.msg_type_raw() != MSG_PROBE {
        return Err(ProbeError::NotProbe(fmh.msg_type_raw()));
    }
    let fmh = HeaderRepr::parse(&fmh).map_err(ProbeError::BadHeader)?;
    let body = &frame[udp + 8 + HEADER_LEN..udp + 8 + HEADER_LEN + PROBE_BODY_LEN];
    if body[0..4] != PROBE_MAGIC {
        return Err(ProbeError::BadBody);
    }
    let u64_at = |b: &[u8], i: usize| u64::from_be_bytes(b[i..i + 8].try_into().expect("8 bytes"));
    Ok(Probe {
        origin: Tag(body[4..12].try_into().expect("8 bytes")),
        port: u16::from_be_bytes([body[12], body[13]]),
        seq: u64_at(body, 14),
        sent_ns: u64_at(body, 22),
        epoch: fmh.epoch,
        reply: fmh.is_probe_reply(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe() -> Probe {
        Probe {
            origin: Tag([1, 2, 3, 4, 5, 6, 7, 8]),
            port: 3,
            seq: 42,
            sent_ns: 123_456_789,
            epoch: 5,
            reply: false,
        }
    }

    #[test]
    fn round_trip() {
        let f = build(
            &probe(),
            [2; 6],
            [0xff; 6],
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
        );
        assert_eq!(f.len(), 14 + 20 + 8 + 32 + PROBE_BODY_LEN);
        assert_eq!(ipv4_checksum(&f[14..34]), 0);
        assert_eq!(parse(&f).unwrap(), probe());
        let mut r = f.clone();
        r[14 + 20 + 8 + 3] |= FLAG_PROBE_REPLY;
        assert!(parse(&r).unwrap().reply);
    }

    #[test]
    fn garbage_is_rejected() {
        let f = build(
            &probe(),
            [2; 6],
            [0xff; 6],
            Ipv4Addr::LOCALHOST,
            Ipv4Addr::LOCALHOST,
        );
        for n in 0..f.len() {
            assert!(parse(&f[..n]).is_err());
        }
        let mut g = f.clone();
        g[14 + 20 + 8 + 1] = 1;
        assert_eq!(parse(&g), Err(ProbeError::NotProbe(1)));
        let mut g = f.clone();
        g[14 + 20 + 8 + 32] = b'X';
        assert_eq!(parse(&g), Err(ProbeError::BadBody));
        assert_eq!(parse(&[0u8; 3]), Err(ProbeError::Short(3)));
    }

    #[test]
    fn the_fmh_is_cores_header() {
        let p = Probe {
            reply: true,
            ..probe()
        };
        let f = build(
            &p,
            [2; 6],
            [0xff; 6],
            Ipv4Addr::LOCALHOST,
            Ipv4Addr::LOCALHOST,
        );
        let fmh = HeaderRepr::parse_bytes(&f[14 + 20 + 8..]).unwrap();
        assert_eq!(
            fmh,
            HeaderRepr {
                msg_type: MsgType::Probe,
                retry: 0,
                flags: FLAG_PROBE_REPLY,
                epoch: 5,
                sender: p.origin,
                nonce: 42,
                ttl: 255,
                hop_limit: 1,
                body_len: PROBE_BODY_LEN as u16,
            }
        );
        let mut g = f.clone();
        g[14 + 20 + 8] = 2;
        assert_eq!(
            parse(&g),
            Err(ProbeError::BadHeader(DecodeError::BadVersion(2)))
        );
        let mut g = f.clone();
        g[14 + 20 + 8 + 31] = 1;
        assert_eq!(
            parse(&g),
            Err(ProbeError::BadHeader(DecodeError::ReservedNotZero))
        );
        let mut g = f;
        g[14 + 20 + 8 + 1] = 11;
        assert_eq!(parse(&g), Err(ProbeError::NotProbe(11)));
    }
}
