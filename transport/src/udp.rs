//! UDP datagram transport on tokio sockets, with `SO_REUSEPORT` groups for multi-core servers.

use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use crate::{MAX_DATAGRAM, Transport, TransportError};

/// Kernel buffer size requested for every socket (the kernel may cap it at `rmem_max`).
const SOCKET_BUFFER_BYTES: usize = 8 * 1024 * 1024;

/// A [`Transport`] over one tokio UDP socket.
#[derive(Debug)]
pub struct UdpTransport {
    socket: UdpSocket,
}

impl UdpTransport {
    /// Binds a UDP socket on `addr` (port 0 picks a free port). Must run inside a tokio runtime.
    pub async fn bind(addr: SocketAddr) -> Result<Self, TransportError> {
        let socket = new_socket(addr, false)?;
        Ok(Self {
            socket: UdpSocket::from_std(socket.into())?,
        })
    }

    /// Wraps an already bound tokio socket.
    pub fn from_socket(socket: UdpSocket) -> Self {
        Self { socket }
    }

    /// The underlying socket.
    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }
}

/// Binds `count` sockets on the same address with `SO_REUSEPORT`, so the kernel spreads
/// incoming datagrams across them (by the sender's address) and each can be served by its own
/// task or thread. If `addr` has port 0, the first socket picks the port and the others join it.
/// Must run inside a tokio runtime.
pub fn bind_reuseport_group(
    addr: SocketAddr,
    count: usize,
) -> Result<Vec<UdpTransport>, TransportError> {
    let count = count.max(1);
    let first = new_socket(addr, true)?;
    let bound: SocketAddr = first
        .local_addr()?
        .as_socket()
        .ok_or_else(|| std::io::Error::other("socket has no inet address"))?;
    let mut sockets = vec![first];
    for _ in 1..count {
        sockets.push(new_socket(bound, true)?);
    }
    sockets
        .into_iter()
        .map(|s| {
            Ok(UdpTransport {
                socket: UdpSocket::from_std(s.into())?,
            })
        })
        .collect()
}

fn new_socket(addr: SocketAddr, reuse_port: bool) -> Result<Socket, TransportError> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    // Larger buffers absorb bursts from many concurrent senders; failure here is harmless.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER_BYTES);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

#[async_trait::async_trait]
impl Transport for UdpTransport {
    async fn send_to(&self, datagram: &[u8], to: SocketAddr) -> Result<(), TransportError> {
        if datagram.len() > MAX_DATAGRAM {
            return Err(TransportError::TooLarge {
                len: datagram.len(),
                limit: MAX_DATAGRAM,
            });
        }
        self.socket.send_to(datagram, to).await?;
        Ok(())
    }

    async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), TransportError> {
        Ok(self.socket.recv_from(buf).await?)
    }

    fn local_addr(&self) -> Result<SocketAddr, TransportError> {
        Ok(self.socket.local_addr()?)
    }

    fn try_recv_from(&self, buf: &mut [u8]) -> Result<Option<(usize, SocketAddr)>, TransportError> {
        match self.socket.try_recv_from(buf) {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn loopback() -> SocketAddr {
        "127.0.0.1:0".parse().unwrap()
    }

    #[tokio::test]
    async fn datagram_round_trip() {
        let a = UdpTransport::bind(loopback()).await.unwrap();
        let b = UdpTransport::bind(loopback()).await.unwrap();
        a.send_to(b"order", b.local_addr().unwrap()).await.unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"order");
        assert_eq!(from, a.local_addr().unwrap());
    }

    #[tokio::test]
    async fn waiting_datagrams_are_taken_without_waiting() {
        let a = UdpTransport::bind(loopback()).await.unwrap();
        let b = UdpTransport::bind(loopback()).await.unwrap();
        let to = b.local_addr().unwrap();
        for d in [b"one", b"two", b"six"] {
            a.send_to(d, to).await.unwrap();
        }
        let mut buf = [0u8; 64];
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"one");
        let mut rest = Vec::new();
        // loopback delivery is immediate, but give it a bounded moment
        for _ in 0..100 {
            match b.try_recv_from(&mut buf).unwrap() {
                Some((n, _)) => rest.push(buf[..n].to_vec()),
                None if rest.len() == 2 => break,
                None => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
            }
        }
        assert_eq!(rest, [b"two".to_vec(), b"six".to_vec()]);
        assert!(b.try_recv_from(&mut buf).unwrap().is_none());
    }

    #[tokio::test]
    async fn oversized_datagram_is_refused() {
        let a = UdpTransport::bind(loopback()).await.unwrap();
        let big = vec![0u8; MAX_DATAGRAM + 1];
        let err = a.send_to(&big, a.local_addr().unwrap()).await.unwrap_err();
        assert!(matches!(err, TransportError::TooLarge { .. }));
    }

    #[tokio::test]
    async fn reuseport_group_shares_one_port_and_serves_all_senders() {
        let group = bind_reuseport_group(loopback(), 3).unwrap();
        let port = group[0].local_addr().unwrap().port();
        assert!(group.iter().all(|s| s.local_addr().unwrap().port() == port));
        let server = group[0].local_addr().unwrap();
        let group: Vec<Arc<UdpTransport>> = group.into_iter().map(Arc::new).collect();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for s in &group {
            let s = s.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 16];
                while let Ok((n, _)) = s.recv_from(&mut buf).await {
                    let _ = tx.send(buf[..n].to_vec());
                }
            });
        }
        let senders = 16;
        for i in 0..senders {
            let c = UdpTransport::bind(loopback()).await.unwrap();
            c.send_to(&[i as u8], server).await.unwrap();
        }
        let mut seen = Vec::new();
        for _ in 0..senders {
            let got = tokio::time::timeout(std::time::Duration::from_secs(2), rx.recv())
                .await
                .unwrap()
                .unwrap();
            seen.push(got[0]);
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..senders as u8).collect::<Vec<_>>());
    }
}
