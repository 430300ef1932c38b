//! A PACKET_MMAP receive ring (TPACKET_V2) for an AF_PACKET socket.
//!
//! The kernel copies each received frame straight into a slot of a ring shared with the
//! switch, in the softirq that delivers it (on the sender's CPU for veth pairs), and marks the
//! slot as the user's. The datapath reads frames in place and hands the slots back, with no
//! system call per frame or per batch; it still sleeps in `poll` when the ring is empty.
//! Version 2 hands over every slot at once (version 3's blocks are handed over when full or
//! after a timeout of at least a millisecond, which would add latency at low rates).

use std::io;
use std::mem::size_of;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};

/// Size of one slot: the header plus a frame of up to about 1990 bytes (an Ethernet MTU of
/// 1500 fits with room to spare).
pub const SLOT_SIZE: usize = 2048;
/// Slots per ring.
pub const SLOTS: usize = 1024;

/// Header of a slot (`struct tpacket2_hdr`).
#[repr(C)]
struct Tpacket2Hdr {
    tp_status: u32,
    tp_len: u32,
    tp_snaplen: u32,
    tp_mac: u16,
    tp_net: u16,
    tp_sec: u32,
    tp_nsec: u32,
    tp_vlan_tci: u16,
    tp_vlan_tpid: u16,
    tp_padding: [u8; 4],
}

/// Offset of the `sockaddr_ll` that follows the header.
const ADDR_OFFSET: usize = (size_of::<Tpacket2Hdr>() + 15) & !15;

const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const TPACKET_V2: libc::c_int = 1;

/// A mapped receive ring.
pub struct RxRing {
    base: *mut u8,
    next: usize,
    _map: Arc<Mapping>,
}

// SAFETY: the ring's memory is owned through `_map` and only touched through `&mut self`.
unsafe impl Send for RxRing {}

/// What one slot held.
pub enum Slot<'a> {
    /// A complete incoming frame.
    Frame(&'a [u8]),
    /// A frame this host sent, or one longer than a slot: skip it.
    Skip {
        /// Whether it was cut short.
        truncated: bool,
    },
}

/// The memory shared with the kernel, unmapped when both rings are gone.
struct Mapping {
    base: *mut u8,
    len: usize,
}

// SAFETY: plain memory; access is coordinated by the rings.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping created in `rings`.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

fn setopt<T>(fd: RawFd, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live `T` whose size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_PACKET,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn request(slots: usize) -> libc::tpacket_req {
    libc::tpacket_req {
        tp_block_size: (SLOT_SIZE * 16) as u32,
        tp_block_nr: (slots / 16) as u32,
        tp_frame_size: SLOT_SIZE as u32,
        tp_frame_nr: slots as u32,
    }
}

/// Sets up a receive ring and, if `with_tx`, a transmit ring on `fd` (call before `bind`).
pub fn rings(fd: RawFd, with_tx: bool) -> io::Result<(RxRing, Option<TxRing>)> {
    setopt(fd, libc::PACKET_VERSION, &TPACKET_V2)?;
    setopt(fd, libc::PACKET_RX_RING, &request(SLOTS))?;
    let mut len = SLOT_SIZE * SLOTS;
    let with_tx = with_tx && {
        // Malformed frames are dropped instead of stopping the ring.
        let one: libc::c_int = 1;
        setopt(fd, libc::PACKET_LOSS, &one).is_ok()
            && setopt(fd, libc::PACKET_TX_RING, &request(TX_SLOTS)).is_ok()
    };
    if with_tx {
        len += SLOT_SIZE * TX_SLOTS;
    }
    // SAFETY: maps the rings the kernel just allocated for this socket (RX first, then TX).
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let map = Arc::new(Mapping {
        base: base.cast(),
        len,
    });
    let rx = RxRing {
        base: map.base,
        next: 0,
        _map: map.clone(),
    };
    // SAFETY: the TX ring follows the RX ring inside the mapping.
    let tx = with_tx.then(|| TxRing {
        base: unsafe { map.base.add(SLOT_SIZE * SLOTS) },
        next: 0,
        fd,
        _map: map,
    });
    Ok((rx, tx))
}

impl RxRing {
    fn header(&self, i: usize) -> *mut Tpacket2Hdr {
        // SAFETY: i < SLOTS, so the slot lies inside the mapping.
        unsafe { self.base.add(i * SLOT_SIZE).cast() }
    }

    /// Calls `f` on up to `max` waiting slots, handing each back to the kernel afterwards.
    /// Returns how many slots were consumed.
    pub fn drain(&mut self, max: usize, mut f: impl FnMut(Slot<'_>)) -> usize {
        let mut n = 0;
        while n < max {
            let hdr = self.header(self.next);
            // SAFETY: the status word is shared with the kernel; read it volatile, then
            // order the frame reads after it.
            let status = unsafe { std::ptr::read_volatile(&(*hdr).tp_status) };
            if status & TP_STATUS_USER == 0 {
                break;
            }
            fence(Ordering::Acquire);
            // SAFETY: the slot is ours until we write TP_STATUS_KERNEL; offsets come from
            // the kernel and are bounded by the slot size below.
            unsafe {
                let h = &*hdr;
                let addr = &*(hdr
                    .cast::<u8>()
                    .add(ADDR_OFFSET)
                    .cast::<libc::sockaddr_ll>());
                let start = usize::from(h.tp_mac);
                let snap = h.tp_snaplen as usize;
                let truncated = snap < h.tp_len as usize || start + snap > SLOT_SIZE;
                if addr.sll_pkttype == libc::PACKET_OUTGOING || truncated {
                    f(Slot::Skip { truncated });
                } else {
                    let data = std::slice::from_raw_parts(hdr.cast::<u8>().add(start), snap);
                    f(Slot::Frame(data));
                }
            }
            fence(Ordering::Release);
            // SAFETY: hands the slot back to the kernel.
            unsafe { std::ptr::write_volatile(&mut (*hdr).tp_status, TP_STATUS_KERNEL) };
            self.next = (self.next + 1) % SLOTS;
            n += 1;
        }
        n
    }
}

/// Slots in a transmit ring.
pub const TX_SLOTS: usize = 512;
/// Where frame data starts in a transmit slot (`TPACKET2_HDRLEN - sizeof(sockaddr_ll)`).
const TX_DATA: usize = ADDR_OFFSET;
const TP_STATUS_AVAILABLE: u32 = 0;
const TP_STATUS_SEND_REQUEST: u32 = 1;

/// A mapped transmit ring: frames are copied into slots and one `send` hands them all over.
pub struct TxRing {
    base: *mut u8,
    next: usize,
    fd: RawFd,
    _map: Arc<Mapping>,
}

// SAFETY: the ring's memory is owned through `_map` and only touched through `&mut self`.
unsafe impl Send for TxRing {}

impl TxRing {
    /// Largest frame a slot carries.
    pub const MAX_FRAME: usize = SLOT_SIZE - TX_DATA;

    fn header(&self, i: usize) -> *mut Tpacket2Hdr {
        // SAFETY: i < TX_SLOTS, so the slot lies inside the mapping.
        unsafe { self.base.add(i * SLOT_SIZE).cast() }
    }

    fn flush(&self) -> io::Result<()> {
        // SAFETY: a zero-length send on a socket with a TX ring transmits the queued slots.
        let rc = unsafe { libc::send(self.fd, std::ptr::null(), 0, libc::MSG_DONTWAIT) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::WouldBlock && err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
        Ok(())
    }

    /// Queues `frames` and transmits them with one system call. Returns how many were queued;
    /// the rest found the ring full (or were too long) and are dropped.
    pub fn send_batch<B: AsRef<[u8]>>(&mut self, frames: &[B]) -> io::Result<usize> {
        let mut queued = 0;
        let mut flushed_once = false;
        for frame in frames {
            let frame = frame.as_ref();
            if frame.len() > Self::MAX_FRAME {
                continue;
            }
            let hdr = self.header(self.next);
            // SAFETY: the status word is shared with the kernel.
            let mut status = unsafe { std::ptr::read_volatile(&(*hdr).tp_status) };
            if status != TP_STATUS_AVAILABLE && !flushed_once {
                self.flush()?;
                flushed_once = true;
                // SAFETY: as above.
                status = unsafe { std::ptr::read_volatile(&(*hdr).tp_status) };
            }
            if status != TP_STATUS_AVAILABLE {
                break;
            }
            fence(Ordering::Acquire);
            // SAFETY: the slot is ours while AVAILABLE; the frame fits (checked above).
            unsafe {
                let data = hdr.cast::<u8>().add(TX_DATA);
                std::ptr::copy_nonoverlapping(frame.as_ptr(), data, frame.len());
                (*hdr).tp_len = frame.len() as u32;
                fence(Ordering::Release);
                std::ptr::write_volatile(&mut (*hdr).tp_status, TP_STATUS_SEND_REQUEST);
            }
            self.next = (self.next + 1) % TX_SLOTS;
            queued += 1;
        }
        if queued > 0 {
            self.flush()?;
        }
        Ok(queued)
    }
}
