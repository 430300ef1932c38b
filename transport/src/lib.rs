//! Datagram transports for BCB messages: the trait, UDP sockets, and later the in-process mesh.
//!
//! The settlement layer (anchor and wallet) only ever sends and receives whole datagrams to and
//! from socket addresses. [`Transport`] captures exactly that, so the same authority server and
//! wallet code run over real UDP sockets ([`UdpTransport`]) or over any other carrier that can
//! move a datagram between two addresses (an in-process mesh, a P4 pipeline in front of a socket).

mod udp;

use std::net::SocketAddr;
use std::sync::Arc;

pub use udp::{UdpTransport, bind_reuseport_group};

/// Largest datagram a transport must carry: the 32-byte FMH header plus a body of at most
/// `u16::MAX` bytes, rounded to the UDP payload limit.
pub const MAX_DATAGRAM: usize = 65_507;

/// What can go wrong when moving a datagram.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The operating system refused the operation.
    #[error("transport i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The datagram is larger than the transport can carry.
    #[error("datagram of {len} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// Length of the rejected datagram.
        len: usize,
        /// The transport's limit.
        limit: usize,
    },
    /// The transport has been shut down.
    #[error("transport closed")]
    Closed,
}

/// Sends and receives whole datagrams to and from socket addresses.
///
/// Implementations must be cheap to share (`Arc<dyn Transport>`) and safe to use from many
/// tasks at once: one task may be blocked in [`Transport::recv_from`] while others send.
#[async_trait::async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Sends one datagram to `to`.
    async fn send_to(&self, datagram: &[u8], to: SocketAddr) -> Result<(), TransportError>;

    /// Waits for the next datagram, copies it into `buf` and returns its length and sender.
    /// A datagram longer than `buf` is truncated to `buf.len()`.
    async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), TransportError>;

    /// The address peers use to reach this endpoint.
    fn local_addr(&self) -> Result<SocketAddr, TransportError>;

    /// The next datagram if one is already waiting, without waiting (`Ok(None)` otherwise), so
    /// that a server can take the datagrams that arrived together as one batch. The default
    /// never has one waiting.
    fn try_recv_from(
        &self,
        _buf: &mut [u8],
    ) -> Result<Option<(usize, SocketAddr)>, TransportError> {
        Ok(None)
    }
}

/// A shareable transport handle.
pub type SharedTransport = Arc<dyn Transport>;

#[async_trait::async_trait]
impl<T: Transport + ?Sized> Transport for Arc<T> {
    async fn send_to(&self, datagram: &[u8], to: SocketAddr) -> Result<(), TransportError> {
        (**self).send_to(datagram, to).await
    }

    async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), TransportError> {
        (**self).recv_from(buf).await
    }

    fn local_addr(&self) -> Result<SocketAddr, TransportError> {
        (**self).local_addr()
    }

    fn try_recv_from(&self, buf: &mut [u8]) -> Result<Option<(usize, SocketAddr)>, TransportError> {
        (**self).try_recv_from(buf)
    }
}
