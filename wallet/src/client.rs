//! Talking to a committee: the authorities' addresses, sending datagrams to them and receiving
//! their decoded replies over any [`Transport`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use flashmesh_core::committee::Committee;
use flashmesh_core::envelope::Envelope;
use flashmesh_core::keys::AuthorityTag;
use flashmesh_core::wire::MAX_DATAGRAM_LEN;
use flashmesh_transport::{Transport, TransportError};

/// Errors of the committee client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// An authority's address in the committee file is not `IP:PORT`.
    #[error("authority {name} has an invalid address {address:?}")]
    BadAddress {
        /// The authority.
        name: String,
        /// The address text.
        address: String,
    },
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// One authority as the client reaches it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Its name in the committee file.
    pub name: String,
    /// Its tag.
    pub tag: AuthorityTag,
    /// Its BCB address.
    pub addr: SocketAddr,
    /// Its voting weight.
    pub weight: u64,
}

/// A committee, its endpoints and a transport to reach them.
#[derive(Clone)]
pub struct CommitteeClient {
    committee: Arc<Committee>,
    endpoints: Arc<Vec<Endpoint>>,
    transport: Arc<dyn Transport>,
}

impl std::fmt::Debug for CommitteeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitteeClient")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

/// A reply received from the network.
#[derive(Debug)]
pub struct Incoming {
    /// The decoded datagram.
    pub envelope: Envelope,
    /// Where it came from.
    pub from: SocketAddr,
}

impl CommitteeClient {
    /// A client for `committee` sending through `transport`.
    pub fn new(committee: Committee, transport: Arc<dyn Transport>) -> Result<Self, ClientError> {
        let endpoints = committee
            .members()
            .iter()
            .map(|m| {
                let addr = m.address().parse().map_err(|_| ClientError::BadAddress {
                    name: m.name().to_string(),
                    address: m.address().to_string(),
                })?;
                Ok(Endpoint {
                    name: m.name().to_string(),
                    tag: m.tag(),
                    addr,
                    weight: m.weight(),
                })
            })
            .collect::<Result<Vec<_>, ClientError>>()?;
        Ok(Self {
            committee: Arc::new(committee),
            endpoints: Arc::new(endpoints),
            transport,
        })
    }

    /// The committee.
    pub fn committee(&self) -> &Committee {
        &self.committee
    }

    /// The authorities, in committee order.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The transport.
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// The index of the endpoint with address `addr`.
    pub fn endpoint_by_addr(&self, addr: SocketAddr) -> Option<usize> {
        self.endpoints.iter().position(|e| e.addr == addr)
    }

    /// The index of the endpoint with tag `tag`.
    pub fn endpoint_by_tag(&self, tag: &AuthorityTag) -> Option<usize> {
        self.endpoints.iter().position(|e| &e.tag == tag)
    }

    /// Sends `datagram` to the endpoints at `indices`. Send failures to single authorities are
    /// logged and skipped (an unreachable authority is the same as a silent one).
    pub async fn send_to_each(&self, datagram: &[u8], indices: impl IntoIterator<Item = usize>) {
        for i in indices {
            let e = &self.endpoints[i];
            if let Err(err) = self.transport.send_to(datagram, e.addr).await {
                tracing::debug!(authority = %e.name, error = %err, "send failed");
            }
        }
    }

    /// Sends `datagram` to an arbitrary address.
    pub async fn send_to_addr(&self, datagram: &[u8], addr: SocketAddr) -> Result<(), ClientError> {
        Ok(self.transport.send_to(datagram, addr).await?)
    }

    /// Waits for the next datagram that decodes, until `deadline`. Undecodable datagrams are
    /// skipped. Returns `Ok(None)` at the deadline.
    pub async fn recv_until(&self, deadline: Instant) -> Result<Option<Incoming>, ClientError> {
        let mut buf = vec![0u8; MAX_DATAGRAM_LEN + 1];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let got =
                tokio::time::timeout(deadline - now, self.transport.recv_from(&mut buf)).await;
            let (n, from) = match got {
                Err(_) => return Ok(None),
                Ok(r) => r?,
            };
            match Envelope::decode(&buf[..n]) {
                Ok(envelope) => return Ok(Some(Incoming { envelope, from })),
                Err(e) => tracing::debug!(%from, error = %e, "undecodable reply skipped"),
            }
        }
    }
}
