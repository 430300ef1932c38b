//! Switch ports: Linux interfaces (AF_PACKET) and in-process ports for embedding.
//!
//! A port number is what the P4 program sees (`standard_metadata.ingress_port`,
//! `egress_spec`). Each port transmits either on a Linux interface or into a sink function
//! (an in-process port: a channel to a test, or the far end of an emulated link to another
//! switch in the same process). Frames for in-process ports, and packet-outs, reach the datapath
//! through an [`Injector`].

pub mod afpacket;
pub mod ring;
pub mod wake;

use std::sync::{Arc, Mutex};

use wake::Waker;

/// Where an in-process port delivers the frames it transmits.
pub type FrameSink = Arc<dyn Fn(Vec<u8>) + Send + Sync>;

/// How a port is attached.
pub enum PortBinding {
    /// A Linux interface, by name.
    Interface(String),
    /// An in-process port: transmitted frames go to the sink.
    InProcess(FrameSink),
}

impl std::fmt::Debug for PortBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Interface(name) => write!(f, "Interface({name})"),
            Self::InProcess(_) => write!(f, "InProcess"),
        }
    }
}

/// Something handed to the datapath from another thread.
pub enum Injected<O> {
    /// A frame arriving on an (in-process) port.
    Frame {
        /// Ingress port.
        port: u32,
        /// The frame.
        frame: Vec<u8>,
    },
    /// A packet-out from the controller.
    PacketOut(O),
    /// A frame that egress produced on another datapath thread, to transmit on a port this
    /// thread owns (through the port's link emulation).
    Transmit {
        /// Egress port.
        port: u32,
        /// The frame.
        frame: Vec<u8>,
    },
}

/// A queue into one datapath thread, with a wake-up.
pub struct Injector<O> {
    pending: Mutex<Vec<Injected<O>>>,
    limit: usize,
    waker: Waker,
}

impl<O> Injector<O> {
    /// A queue holding at most `limit` items between two datapath rounds.
    pub fn new(limit: usize) -> std::io::Result<Self> {
        Ok(Self {
            pending: Mutex::new(Vec::new()),
            limit,
            waker: Waker::new()?,
        })
    }

    /// Hands an item to the datapath. Returns `false` (and drops it) when the queue is full,
    /// as a NIC drops on a full receive ring.
    pub fn push(&self, item: Injected<O>) -> bool {
        {
            let mut q = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if q.len() >= self.limit {
                return false;
            }
            q.push(item);
        }
        self.waker.wake();
        true
    }

    /// Takes everything pending (called by the datapath).
    pub fn take(&self, into: &mut Vec<Injected<O>>) {
        self.waker.reset();
        let mut q = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::swap(&mut *q, into);
    }

    /// Wakes the datapath without handing it anything (after a configuration change).
    pub fn wake(&self) {
        self.waker.wake();
    }

    /// The waker's file descriptor, for polling.
    pub fn waker(&self) -> &Waker {
        &self.waker
    }
}
