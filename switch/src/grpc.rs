//! Starting the P4Runtime gRPC service ([`crate::p4rt`]) of a device from the command line's
//! `--grpc-server-addr HOST:PORT` (names are resolved; the first address is used).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::device::Device;
use crate::p4rt::{self, P4rtServer};

/// Resolves `HOST:PORT`.
pub async fn resolve(addr: &str) -> Result<SocketAddr> {
    if let Ok(a) = addr.parse() {
        return Ok(a);
    }
    tokio::net::lookup_host(addr)
        .await
        .with_context(|| format!("resolving {addr}"))?
        .next()
        .with_context(|| format!("{addr} resolves to no address"))
}

/// Starts the service on `addr`; `source` is the P4 source of the program the device was
/// started with, if any.
pub async fn start(device: Arc<Device>, addr: &str, source: Option<String>) -> Result<P4rtServer> {
    let sock = resolve(addr).await?;
    let server = p4rt::spawn_with_source(device, sock, source)
        .await
        .with_context(|| format!("starting the P4Runtime server on {addr}"))?;
    tracing::info!(addr = %server.local_addr(), "P4Runtime server started");
    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resolves_literal_and_named_addresses() {
        assert_eq!(resolve("0.0.0.0:9559").await.unwrap().port(), 9559);
        assert_eq!(resolve("localhost:50051").await.unwrap().port(), 50051);
        assert!(resolve("no port").await.is_err());
    }
}
