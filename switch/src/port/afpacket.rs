//! Linux interfaces as switch ports, through AF_PACKET raw sockets with batched system calls.
//!
//! One non-blocking `SOCK_RAW` packet socket per interface, bound to the interface, in
//! promiscuous mode, with `PACKET_IGNORE_OUTGOING` so that the switch never re-reads what it
//! sent (frames marked `PACKET_OUTGOING` are also skipped in case the kernel lacks the option).
//! Receiving uses `recvmmsg` into a fixed set of buffers and sending uses `sendmmsg`, so one
//! system call moves up to a whole batch of frames in either direction. Each received frame is
//! copied once by the kernel into our buffer; the pipeline reads it in place.

use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::ring::{RxRing, Slot, TxRing, rings};

/// Largest frame received; longer ones (GRO aggregates) are counted and dropped.
pub const MAX_FRAME: usize = 16 * 1024;

/// Errors opening a packet socket.
#[derive(Debug, thiserror::Error)]
pub enum AfPacketError {
    /// The interface does not exist.
    #[error("no interface named {0:?}")]
    NoSuchInterface(String),
    /// A system call failed.
    #[error("{what} on {iface}: {source}")]
    Sys {
        /// The failing call.
        what: &'static str,
        /// Interface name.
        iface: String,
        /// The OS error.
        source: io::Error,
    },
}

/// A packet socket bound to one interface.
pub struct AfPacketSocket {
    fd: OwnedFd,
    iface: String,
    /// Frames that were too large for a receive buffer.
    pub truncated: u64,
    ring: Option<RxRing>,
    tx_ring: Option<TxRing>,
    batch: Option<RxBatch>,
}

fn sys(what: &'static str, iface: &str, rc: libc::c_int) -> Result<libc::c_int, AfPacketError> {
    if rc < 0 {
        Err(AfPacketError::Sys {
            what,
            iface: iface.to_string(),
            source: io::Error::last_os_error(),
        })
    } else {
        Ok(rc)
    }
}

fn setopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &T) -> libc::c_int {
    // SAFETY: `value` points to a live `T` and its size is passed alongside.
    unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    }
}

/// The kernel index of an interface.
pub fn ifindex(iface: &str) -> Result<u32, AfPacketError> {
    let name =
        CString::new(iface).map_err(|_| AfPacketError::NoSuchInterface(iface.to_string()))?;
    // SAFETY: `name` is a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if idx == 0 {
        Err(AfPacketError::NoSuchInterface(iface.to_string()))
    } else {
        Ok(idx)
    }
}

impl AfPacketSocket {
    /// Opens a packet socket on `iface` (needs CAP_NET_RAW), receiving through a
    /// PACKET_MMAP ring when the kernel allows it.
    pub fn open(iface: &str) -> Result<Self, AfPacketError> {
        Self::open_with(iface, true)
    }

    /// Opens a packet socket; `use_ring: false` receives with `recvmmsg` only.
    pub fn open_with(iface: &str, use_ring: bool) -> Result<Self, AfPacketError> {
        let index = ifindex(iface)?;
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket(2) call.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                proto.into(),
            )
        };
        let raw = sys("socket(AF_PACKET)", iface, raw)?;
        // SAFETY: `raw` is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let (ring, tx_ring) = if use_ring {
            match rings(raw, true) {
                Ok((rx, tx)) => (Some(rx), tx),
                Err(e) => {
                    tracing::warn!(iface, error = %e, "no PACKET_MMAP rings; using recvmmsg/sendmmsg");
                    (None, None)
                }
            }
        } else {
            (None, None)
        };
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid start.
        let mut addr: libc::sockaddr_ll = unsafe { zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = proto;
        addr.sll_ifindex = index as i32;
        // SAFETY: `addr` is a valid sockaddr_ll and its size is given.
        let rc = unsafe {
            libc::bind(
                raw,
                (&addr as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        sys("bind", iface, rc)?;
        // SAFETY: packet_mreq is plain data.
        let mut mreq: libc::packet_mreq = unsafe { zeroed() };
        mreq.mr_ifindex = index as i32;
        mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
        sys(
            "PACKET_ADD_MEMBERSHIP",
            iface,
            setopt(raw, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq),
        )?;
        // Best effort: older kernels lack these; outgoing frames are also filtered by type.
        let one: libc::c_int = 1;
        setopt(raw, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &one);
        setopt(raw, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, &one);
        let buf: libc::c_int = 8 << 20;
        setopt(raw, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &buf);
        setopt(raw, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &buf);
        let batch = ring.is_none().then(|| RxBatch::new(64));
        let mut sock = Self {
            fd,
            iface: iface.to_string(),
            truncated: 0,
            ring,
            tx_ring,
            batch,
        };
        sock.drain();
        Ok(sock)
    }

    /// Discards frames queued before the socket was fully set up.
    fn drain(&mut self) {
        let mut buf = [0u8; 64];
        // SAFETY: `buf` is valid for its length; MSG_DONTWAIT never blocks.
        while unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        } >= 0
        {}
    }

    /// The interface name.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// Whether frames arrive through a PACKET_MMAP ring.
    pub fn has_ring(&self) -> bool {
        self.ring.is_some()
    }

    /// Calls `f` on up to `max` received frames without blocking (from the ring, or from one
    /// `recvmmsg`). Returns how many frames `f` saw.
    pub fn recv_with(&mut self, max: usize, mut f: impl FnMut(&[u8])) -> io::Result<usize> {
        if let Some(ring) = &mut self.ring {
            let mut seen = 0;
            let mut truncated = 0;
            ring.drain(max, |slot| match slot {
                Slot::Frame(frame) => {
                    seen += 1;
                    f(frame);
                }
                Slot::Skip { truncated: t } => truncated += u64::from(t),
            });
            self.truncated += truncated;
            return Ok(seen);
        }
        let mut batch = self.batch.take().unwrap_or_else(|| RxBatch::new(64));
        let result = self.recv_batch(&mut batch);
        if let Ok(n) = result {
            for i in 0..n.min(max) {
                f(batch.frame(i));
            }
        }
        self.batch = Some(batch);
        result
    }

    /// Receives up to `batch.capacity()` frames without blocking. Returns how many are in
    /// `batch` (0 when nothing is waiting).
    pub fn recv_batch(&mut self, batch: &mut RxBatch) -> io::Result<usize> {
        batch.prepare();
        let n = batch.slots;
        // SAFETY: the headers point into buffers owned by `batch`, valid for the call.
        let rc = unsafe {
            libc::recvmmsg(
                self.fd.as_raw_fd(),
                batch.hdrs.as_mut_ptr(),
                n as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            let err = io::Error::last_os_error();
            batch.len = 0;
            return match err.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(err),
            };
        }
        // Compact: keep only complete frames that were not sent by this host.
        let mut kept = 0;
        for i in 0..rc as usize {
            let hdr = &batch.hdrs[i];
            let len = hdr.msg_len as usize;
            let outgoing = batch.addrs[i].sll_pkttype == libc::PACKET_OUTGOING;
            if hdr.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                self.truncated += 1;
                continue;
            }
            if outgoing {
                continue;
            }
            batch.lens[kept] = len;
            batch.order[kept] = i;
            kept += 1;
        }
        batch.len = kept;
        Ok(kept)
    }

    /// Sends frames, one `sendmmsg` per up to 64 frames. Returns how many the kernel took;
    /// the rest are dropped (the port's transmit queue is full).
    pub fn send_batch<B: AsRef<[u8]>>(&mut self, frames: &[B]) -> io::Result<usize> {
        if let Some(tx) = &mut self.tx_ring {
            return tx.send_batch(frames);
        }
        const CHUNK: usize = 64;
        let mut sent = 0;
        // SAFETY: mmsghdr/iovec are plain data; all-zero is a valid start.
        let mut iov: [libc::iovec; CHUNK] = unsafe { zeroed() };
        let mut hdrs: [libc::mmsghdr; CHUNK] = unsafe { zeroed() };
        for chunk in frames.chunks(CHUNK) {
            for (i, f) in chunk.iter().enumerate() {
                let f = f.as_ref();
                iov[i] = libc::iovec {
                    iov_base: f.as_ptr() as *mut _,
                    iov_len: f.len(),
                };
                hdrs[i].msg_hdr.msg_iov = &mut iov[i];
                hdrs[i].msg_hdr.msg_iovlen = 1;
            }
            let mut off = 0;
            while off < chunk.len() {
                // SAFETY: headers point to iovecs over frames borrowed for the call.
                let rc = unsafe {
                    libc::sendmmsg(
                        self.fd.as_raw_fd(),
                        hdrs[off..].as_mut_ptr(),
                        (chunk.len() - off) as u32,
                        libc::MSG_DONTWAIT,
                    )
                };
                if rc < 0 {
                    let err = io::Error::last_os_error();
                    match err.kind() {
                        io::ErrorKind::Interrupted => continue,
                        io::ErrorKind::WouldBlock => return Ok(sent),
                        // A frame the interface refuses (too long, interface down): skip it.
                        _ if err.raw_os_error() == Some(libc::EMSGSIZE)
                            || err.raw_os_error() == Some(libc::ENETDOWN)
                            || err.raw_os_error() == Some(libc::ENXIO) =>
                        {
                            off += 1;
                            continue;
                        }
                        _ => return Err(err),
                    }
                }
                off += rc as usize;
                sent += rc as usize;
            }
        }
        Ok(sent)
    }
}

impl AsRawFd for AfPacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Receive buffers for one `recvmmsg` call.
pub struct RxBatch {
    slots: usize,
    bufs: Vec<Box<[u8]>>,
    iov: Vec<libc::iovec>,
    addrs: Vec<libc::sockaddr_ll>,
    hdrs: Vec<libc::mmsghdr>,
    lens: Vec<usize>,
    order: Vec<usize>,
    len: usize,
}

// SAFETY: the raw pointers inside point only into buffers owned by the same RxBatch.
unsafe impl Send for RxBatch {}

impl RxBatch {
    /// Buffers for `slots` frames of up to [`MAX_FRAME`] bytes.
    pub fn new(slots: usize) -> Self {
        let slots = slots.max(1);
        Self {
            slots,
            bufs: (0..slots)
                .map(|_| vec![0u8; MAX_FRAME].into_boxed_slice())
                .collect(),
            // SAFETY: iovec, sockaddr_ll and mmsghdr are plain data; all-zero is valid.
            iov: (0..slots).map(|_| unsafe { zeroed() }).collect(),
            addrs: (0..slots).map(|_| unsafe { zeroed() }).collect(),
            hdrs: (0..slots).map(|_| unsafe { zeroed() }).collect(),
            lens: vec![0; slots],
            order: vec![0; slots],
            len: 0,
        }
    }

    fn prepare(&mut self) {
        for i in 0..self.slots {
            self.iov[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr().cast(),
                iov_len: MAX_FRAME,
            };
            let h = &mut self.hdrs[i];
            // SAFETY: msghdr is plain data.
            h.msg_hdr = unsafe { zeroed() };
            h.msg_hdr.msg_iov = &mut self.iov[i];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_ll).cast();
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_ll>() as u32;
            h.msg_len = 0;
        }
    }

    /// Frames received by the last call.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the last call received nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `i`-th received frame.
    pub fn frame(&self, i: usize) -> &[u8] {
        &self.bufs[self.order[i]][..self.lens[i]]
    }
}
