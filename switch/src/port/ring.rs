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
use std::sync::atomic::{Ordering, fence};

/// Size of one slot: the header plus a frame of up to about 4000 bytes.
pub const SLOT_SIZE: usize = 4096;
/// Slots per ring.
pub const SLOTS: usize = 2048;

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
    len: usize,
    next: usize,
}

// SAFETY: the mapping is owned by this value and only touched through `&mut self`.
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

impl RxRing {
    /// Sets up a ring on `fd` (must be done before the socket is bound for best results, but
    /// works after).
    pub fn new(fd: RawFd) -> io::Result<Self> {
        let version = TPACKET_V2;
        // SAFETY: PACKET_VERSION takes an int.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_PACKET,
                libc::PACKET_VERSION,
                (&version as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        let req = libc::tpacket_req {
            tp_block_size: (SLOT_SIZE * 16) as u32,
            tp_block_nr: (SLOTS / 16) as u32,
            tp_frame_size: SLOT_SIZE as u32,
            tp_frame_nr: SLOTS as u32,
        };
        // SAFETY: PACKET_RX_RING takes a tpacket_req for TPACKET_V2.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_PACKET,
                libc::PACKET_RX_RING,
                (&req as *const libc::tpacket_req).cast(),
                size_of::<libc::tpacket_req>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        let len = SLOT_SIZE * SLOTS;
        // SAFETY: maps the ring the kernel just allocated for this socket.
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
        Ok(Self {
            base: base.cast(),
            len,
            next: 0,
        })
    }

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

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping created in `new`.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}
