//! Ethernet/IPv4/UDP framing of datagrams for the mesh's in-process switch ports.
//!
//! A host in the mesh hands each datagram to its node's switch as a whole frame: Ethernet to the
//! node's router MAC, IPv4 with a valid header checksum and TTL 64, UDP with checksum 0 (which
//! IPv4 allows). Frames coming back from the switch are checked and unwrapped the other way.

use std::net::{Ipv4Addr, SocketAddrV4};

use flash_switch::frames::{UdpFlow, internet_checksum, udp_frame};

/// Ethernet + IPv4 + UDP header bytes in front of the datagram.
pub const FRAME_OVERHEAD: usize = 14 + 20 + 8;

/// A 48-bit MAC address.
pub type Mac = [u8; 6];

/// A frame that is not an IPv4/UDP datagram this host can take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Shorter than the headers it claims.
    #[error("frame of {0} bytes is truncated")]
    Truncated(usize),
    /// Not IPv4 (EtherType or version).
    #[error("not an IPv4 frame")]
    NotIpv4,
    /// IPv4 but not UDP.
    #[error("IPv4 protocol {0} is not UDP")]
    NotUdp(u8),
    /// The IPv4 header checksum does not verify.
    #[error("bad IPv4 header checksum")]
    BadChecksum,
}

/// A datagram taken out of a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwrapped<'a> {
    /// Source address and port.
    pub src: SocketAddrV4,
    /// Destination address and port.
    pub dst: SocketAddrV4,
    /// The UDP payload.
    pub payload: &'a [u8],
}

/// Wraps `payload` from `src` (at `src_mac`) to `dst`, addressed to the router `gateway_mac`.
pub fn wrap(
    src_mac: Mac,
    gateway_mac: Mac,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    payload: &[u8],
) -> Vec<u8> {
    udp_frame(
        &UdpFlow {
            src_mac,
            dst_mac: gateway_mac,
            src_ip: *src.ip(),
            dst_ip: *dst.ip(),
            src_port: src.port(),
            dst_port: dst.port(),
        },
        payload,
    )
}

/// Checks and unwraps an Ethernet/IPv4/UDP frame.
pub fn unwrap(frame: &[u8]) -> Result<Unwrapped<'_>, FrameError> {
    if frame.len() < FRAME_OVERHEAD {
        return Err(FrameError::Truncated(frame.len()));
    }
    if frame[12..14] != [0x08, 0x00] || frame[14] >> 4 != 4 {
        return Err(FrameError::NotIpv4);
    }
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    if ihl < 20 || frame.len() < 14 + ihl + 8 {
        return Err(FrameError::Truncated(frame.len()));
    }
    let ip = &frame[14..14 + ihl];
    if internet_checksum(ip) != 0 {
        return Err(FrameError::BadChecksum);
    }
    if ip[9] != 17 {
        return Err(FrameError::NotUdp(ip[9]));
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let udp = &frame[14 + ihl..];
    let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    if udp_len < 8 || udp_len > udp.len() || total < ihl + udp_len {
        return Err(FrameError::Truncated(frame.len()));
    }
    let addr = |b: &[u8]| Ipv4Addr::new(b[0], b[1], b[2], b[3]);
    let port = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    Ok(Unwrapped {
        src: SocketAddrV4::new(addr(&ip[12..16]), port(&udp[0..2])),
        dst: SocketAddrV4::new(addr(&ip[16..20]), port(&udp[2..4])),
        payload: &udp[8..udp_len],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> (SocketAddrV4, SocketAddrV4) {
        (
            "10.0.4.2:40000".parse().unwrap(),
            "10.0.1.2:47474".parse().unwrap(),
        )
    }

    #[test]
    fn wrap_then_unwrap_round_trips() {
        let (src, dst) = addrs();
        let f = wrap([2, 0, 0, 0, 4, 2], [2, 0, 0, 0, 4, 1], src, dst, b"order");
        assert_eq!(f.len(), FRAME_OVERHEAD + 5);
        assert_eq!(&f[0..6], &[2, 0, 0, 0, 4, 1]);
        assert_eq!(internet_checksum(&f[14..34]), 0, "valid IPv4 checksum");
        let u = unwrap(&f).unwrap();
        assert_eq!((u.src, u.dst, u.payload), (src, dst, &b"order"[..]));
    }

    #[test]
    fn bad_frames_are_refused_not_panicked_on() {
        let (src, dst) = addrs();
        let f = wrap([0; 6], [0; 6], src, dst, b"x");
        assert_eq!(unwrap(&f[..20]), Err(FrameError::Truncated(20)));
        let mut bad = f.clone();
        bad[14 + 8] ^= 1; // TTL changed without fixing the checksum
        assert_eq!(unwrap(&bad), Err(FrameError::BadChecksum));
        let mut arp = f.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(unwrap(&arp), Err(FrameError::NotIpv4));
        let mut long = f.clone();
        long[14 + 20 + 4..14 + 20 + 6].copy_from_slice(&500u16.to_be_bytes());
        assert!(unwrap(&long).is_err());
        for n in 0..f.len() {
            let _ = unwrap(&f[..n]);
        }
    }
}
