//! A [`Transport`] over a flash-switch in-process port: each datagram is wrapped in an
//! Ethernet/IPv4/UDP frame and injected into the host's switch; frames the switch transmits on
//! that port are unwrapped and handed to `recv_from`.
//!
//! Every transport of one mesh shares a [`FlightRecorder`] that notes when each BCB message
//! (ORDER, VOTE, CERTIFICATE, RECEIPT) left its sender and when the receiver's switch handed it
//! to the receiver's host port (the fabric notes that), keyed by the FMH fields the switches
//! never rewrite. That gives the one-way BCB delay and loss of a
//! phase without touching the messages.

use std::collections::HashMap;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use flash_switch::device::Device;
use flashmesh_transport::{MAX_DATAGRAM, Transport, TransportError};
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::frame::{self, Mac};

/// Identity of one BCB message copy in flight: source, destination, type, sender, nonce, retry.
type FlightKey = (SocketAddrV4, SocketAddrV4, u8, [u8; 8], u64, u8);

/// One-way delays and losses of BCB messages, shared by every transport of a mesh.
#[derive(Debug, Default)]
pub struct FlightRecorder {
    inner: Mutex<Flights>,
    track: Option<fn(SocketAddrV4) -> bool>,
}

#[derive(Debug, Default)]
struct Flights {
    /// Copies in flight: when sent, and their place in `log`.
    in_flight: HashMap<FlightKey, (Instant, usize)>,
    sent: u64,
    delivered: u64,
    delays_ms: Vec<f64>,
    /// Every tracked copy by send time: its delay once delivered.
    log: Vec<(Instant, Option<f64>)>,
}

/// What the recorder saw since the last [`FlightRecorder::reset`].
#[derive(Debug, Clone, Default)]
pub struct FlightSummary {
    /// BCB messages sent.
    pub sent: u64,
    /// BCB messages delivered to their destination host.
    pub delivered: u64,
    /// One-way delays of the delivered ones, milliseconds.
    pub delays_ms: Vec<f64>,
}

impl FlightSummary {
    /// Fraction of sent BCB messages that never arrived (0 when nothing was sent).
    pub fn loss(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            1.0 - (self.delivered.min(self.sent) as f64 / self.sent as f64)
        }
    }
}

fn flight_key(src: SocketAddrV4, dst: SocketAddrV4, datagram: &[u8]) -> Option<FlightKey> {
    if datagram.len() < flashmesh_core::HEADER_LEN {
        return None;
    }
    let msg_type = datagram[1];
    if !(1..=4).contains(&msg_type) {
        return None;
    }
    let sender: [u8; 8] = datagram[8..16].try_into().ok()?;
    let nonce = u64::from_be_bytes(datagram[16..24].try_into().ok()?);
    Some((src, dst, msg_type, sender, nonce, datagram[2]))
}

impl FlightRecorder {
    /// A recorder that only follows messages whose both ends satisfy `track`.
    pub fn with_filter(track: fn(SocketAddrV4) -> bool) -> Self {
        Self {
            inner: Mutex::default(),
            track: Some(track),
        }
    }

    fn key(&self, src: SocketAddrV4, dst: SocketAddrV4, datagram: &[u8]) -> Option<FlightKey> {
        if let Some(track) = self.track
            && !(track(src) && track(dst))
        {
            return None;
        }
        flight_key(src, dst, datagram)
    }

    /// Notes a datagram leaving `src` for `dst`.
    pub fn on_send(&self, src: SocketAddrV4, dst: SocketAddrV4, datagram: &[u8]) {
        if let Some(k) = self.key(src, dst, datagram) {
            let mut f = self.inner.lock();
            f.sent += 1;
            let now = Instant::now();
            let at = f.log.len();
            f.log.push((now, None));
            f.in_flight.insert(k, (now, at));
        }
    }

    /// Notes a datagram arriving at `dst` from `src`.
    pub fn on_receive(&self, src: SocketAddrV4, dst: SocketAddrV4, datagram: &[u8]) {
        if let Some(k) = self.key(src, dst, datagram) {
            let mut f = self.inner.lock();
            if let Some((t, at)) = f.in_flight.remove(&k) {
                f.delivered += 1;
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                f.delays_ms.push(ms);
                if let Some(entry) = f.log.get_mut(at) {
                    entry.1 = Some(ms);
                }
            }
        }
    }

    /// Forgets everything (start of a phase).
    pub fn reset(&self) {
        *self.inner.lock() = Flights::default();
    }

    /// The copies sent in `[from, to)` since the last reset: how many, how many arrived, and
    /// their delays.
    pub fn window(&self, from: Instant, to: Instant) -> FlightSummary {
        let f = self.inner.lock();
        let mut out = FlightSummary::default();
        for (_, delay) in f.log.iter().filter(|(t, _)| *t >= from && *t < to) {
            out.sent += 1;
            if let Some(d) = delay {
                out.delivered += 1;
                out.delays_ms.push(*d);
            }
        }
        out
    }

    /// What was seen since the last reset.
    pub fn summary(&self) -> FlightSummary {
        let f = self.inner.lock();
        FlightSummary {
            sent: f.sent,
            delivered: f.delivered,
            delays_ms: f.delays_ms.clone(),
        }
    }
}

/// Counters of one frame transport.
#[derive(Debug, Default)]
pub struct TransportCounters {
    /// Datagrams sent.
    pub sent: AtomicU64,
    /// Datagrams the switch refused (injection queue full).
    pub refused: AtomicU64,
    /// Datagrams received.
    pub received: AtomicU64,
    /// Frames that were not for this host or not IPv4/UDP.
    pub foreign: AtomicU64,
}

/// A copy of every datagram a transport sends, for the replay attacker's capture.
pub type Tap = mpsc::UnboundedSender<(Vec<u8>, SocketAddr)>;

/// A host's datagram transport over its switch port.
pub struct FrameTransport {
    local: SocketAddrV4,
    mac: Mac,
    gateway: Mac,
    device: Arc<Device>,
    port: u32,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
    recorder: Arc<FlightRecorder>,
    counters: TransportCounters,
    tap: Mutex<Option<Tap>>,
}

impl std::fmt::Debug for FrameTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameTransport")
            .field("local", &self.local)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl FrameTransport {
    /// A transport for the host at `local` (MAC `mac`) on `port` of `device`, whose router MAC is
    /// `gateway`; `rx` yields the frames the switch transmits on that port.
    pub fn new(
        local: SocketAddrV4,
        mac: Mac,
        gateway: Mac,
        device: Arc<Device>,
        port: u32,
        rx: mpsc::UnboundedReceiver<Vec<u8>>,
        recorder: Arc<FlightRecorder>,
    ) -> Self {
        Self {
            local,
            mac,
            gateway,
            device,
            port,
            rx: tokio::sync::Mutex::new(rx),
            recorder,
            counters: TransportCounters::default(),
            tap: Mutex::new(None),
        }
    }

    /// This host's address.
    pub fn local_addr_v4(&self) -> SocketAddrV4 {
        self.local
    }

    /// The counters.
    pub fn counters(&self) -> &TransportCounters {
        &self.counters
    }

    /// Drops every frame that reached this host and was not read yet (a restarted process
    /// does not see what arrived while it was down).
    pub fn discard_pending(&self) -> usize {
        let Ok(mut rx) = self.rx.try_lock() else {
            return 0;
        };
        let mut n = 0;
        while rx.try_recv().is_ok() {
            n += 1;
        }
        n
    }

    /// Starts (or with `None` stops) copying every sent datagram to `tap`.
    pub fn set_tap(&self, tap: Option<Tap>) {
        *self.tap.lock() = tap;
    }

    /// Sends a datagram from an arbitrary source address of this host's port (the attacker
    /// uses its own address; this is the same path as [`Transport::send_to`]).
    fn inject(&self, datagram: &[u8], to: SocketAddrV4) -> Result<(), TransportError> {
        if datagram.len() > MAX_DATAGRAM {
            return Err(TransportError::TooLarge {
                len: datagram.len(),
                limit: MAX_DATAGRAM,
            });
        }
        let frame = frame::wrap(self.mac, self.gateway, self.local, to, datagram);
        self.recorder.on_send(self.local, to, datagram);
        if let Some(tap) = self.tap.lock().as_ref() {
            let _ = tap.send((datagram.to_vec(), SocketAddr::V4(to)));
        }
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
        if !self.device.inject_frame(self.port, frame) {
            // As a full NIC ring: the datagram is lost, which the protocol tolerates.
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

fn v4(addr: SocketAddr) -> Result<SocketAddrV4, TransportError> {
    match addr {
        SocketAddr::V4(a) => Ok(a),
        SocketAddr::V6(_) => Err(TransportError::Io(std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            "the mesh carries IPv4 only",
        ))),
    }
}

#[async_trait::async_trait]
impl Transport for FrameTransport {
    async fn send_to(&self, datagram: &[u8], to: SocketAddr) -> Result<(), TransportError> {
        self.inject(datagram, v4(to)?)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), TransportError> {
        let mut rx = self.rx.lock().await;
        loop {
            let frame = rx.recv().await.ok_or(TransportError::Closed)?;
            let Ok(u) = frame::unwrap(&frame) else {
                self.counters.foreign.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            if u.dst != self.local {
                self.counters.foreign.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            self.counters.received.fetch_add(1, Ordering::Relaxed);
            let n = u.payload.len().min(buf.len());
            buf[..n].copy_from_slice(&u.payload[..n]);
            return Ok((n, SocketAddr::V4(u.src)));
        }
    }

    fn local_addr(&self) -> Result<SocketAddr, TransportError> {
        Ok(SocketAddr::V4(self.local))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(msg_type: u8, nonce: u64, retry: u8) -> Vec<u8> {
        let mut d = vec![0u8; 40];
        d[0] = 1;
        d[1] = msg_type;
        d[2] = retry;
        d[8..16].copy_from_slice(&[7; 8]);
        d[16..24].copy_from_slice(&nonce.to_be_bytes());
        d
    }

    #[test]
    fn recorder_pairs_sends_with_deliveries() {
        let r = FlightRecorder::default();
        let a: SocketAddrV4 = "10.0.4.2:1".parse().unwrap();
        let b: SocketAddrV4 = "10.0.1.2:47474".parse().unwrap();
        r.on_send(a, b, &header(1, 5, 0));
        r.on_send(a, b, &header(1, 6, 0));
        r.on_send(a, b, &header(9, 6, 0)); // a probe: not BCB
        r.on_receive(a, b, &header(1, 5, 0));
        r.on_receive(a, b, &header(1, 5, 0)); // a duplicate is not a second delivery
        let s = r.summary();
        assert_eq!((s.sent, s.delivered, s.delays_ms.len()), (2, 1, 1));
        assert!((s.loss() - 0.5).abs() < 1e-9);
        r.reset();
        assert_eq!(r.summary().sent, 0);
        assert_eq!(r.summary().loss(), 0.0);
    }
}
