//! The P4Runtime gRPC service of flash-switch (P4Runtime 1.4 over tonic).
//!
//! * [`serve`] runs the service for a [`Device`] on an address until a shutdown future
//!   completes; [`spawn`] binds (port 0 allowed), starts it in the background and returns a
//!   [`P4rtServer`] handle with the bound address. The `_with_source` variants adopt a
//!   program the device was started with (its P4Info derived from the source).
//! * [`service`]: the RPCs. `SetForwardingPipelineConfig` takes the P4_16 source as the
//!   device config and requires the P4Info to match the program ([`pipeline`], [`compare`]);
//!   `Write` applies updates in order with CONTINUE_ON_ERROR and reports one `p4.v1.Error`
//!   per update ([`write`], [`status`]); `Read` answers with wildcards ([`read`]);
//!   `StreamChannel` arbitrates ([`arbitration`]), carries packet-out/in and digests
//!   ([`digest`]).
//! * [`translate`] maps protobuf entities onto the engine's state API; P4Info ids are looked
//!   up in [`flashmesh_proto::p4info_index`]; [`bytes`] reads P4Runtime bytestrings with the
//!   shared codec; [`replication`] keeps multicast groups and clone sessions.
//!
//! Not supported (answered UNIMPLEMENTED): action profiles, value sets, extern entries,
//! role configurations, ROLLBACK_ON_ERROR and DATAPLANE_ATOMIC writes (as BMv2).
//! Idle-timeout notifications are not generated (the engine keeps no per-entry hit time);
//! multicast groups and clone sessions are stored and read back, but the engine does not
//! replicate packets yet.

pub mod arbitration;
pub mod bytes;
pub mod compare;
pub mod digest;
pub mod pipeline;
pub mod read;
pub mod replication;
pub mod service;
pub mod status;
pub mod translate;
pub mod write;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use flashmesh_proto::p4::v1::p4_runtime_server::P4RuntimeServer;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

pub use service::P4RuntimeService;
pub use status::P4rtError;

use crate::device::Device;

/// Largest gRPC message accepted or sent (P4Info and sources can be large).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot bind the P4Runtime server to {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("P4Runtime server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("P4Runtime server task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Serves P4Runtime for `device` on `addr` until `shutdown` completes.
pub async fn serve(
    device: Arc<Device>,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_with_source(device, addr, None, shutdown).await
}

/// [`serve`] for a device started with a program: `source` is its P4 source, whose
/// derived P4Info the service then serves without a push (a controller may still push
/// another pipeline).
pub async fn serve_with_source(
    device: Arc<Device>,
    addr: SocketAddr,
    source: Option<String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    serve_listener(device, listener, source, shutdown).await
}

/// Serves P4Runtime for `device` on an already bound listener until `shutdown` completes.
/// `source`: the P4 source of the program the device was started with, if any; that
/// pipeline is then served with its derived P4Info without a push.
pub async fn serve_listener(
    device: Arc<Device>,
    listener: TcpListener,
    source: Option<String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let service = P4RuntimeService::new(device, stop_rx, source.as_deref());
    let fanout = service.spawn_event_fanout();
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "P4Runtime server listening");
    }
    let server = P4RuntimeServer::new(service)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    // Small gRPC messages (writes, packet-outs) must not wait for Nagle's algorithm and the
    // peer's delayed ACK (about 40 ms each on loopback).
    let incoming = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        |conn| {
            conn.inspect(|s| {
                let _ = s.set_nodelay(true);
            })
        },
    );
    let signal = async move {
        shutdown.await;
        // End the open streams so that the server can finish.
        let _ = stop_tx.send(true);
    };
    let result = tonic::transport::Server::builder()
        .add_service(server)
        .serve_with_incoming_shutdown(incoming, signal)
        .await;
    fanout.abort();
    result.map_err(ServeError::from)
}

/// A P4Runtime server running in the background.
pub struct P4rtServer {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), ServeError>>,
}

impl P4rtServer {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await?
    }
}

impl Drop for P4rtServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds `addr` (port 0 picks a free port), starts serving in the background and
/// returns the handle with the bound address.
pub async fn spawn(device: Arc<Device>, addr: SocketAddr) -> Result<P4rtServer, ServeError> {
    spawn_with_source(device, addr, None).await
}

/// [`spawn`] for a device started with a program: `source` is its P4 source, whose
/// derived P4Info the service then serves without a push.
pub async fn spawn_with_source(
    device: Arc<Device>,
    addr: SocketAddr,
    source: Option<String>,
) -> Result<P4rtServer, ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_listener(device, listener, source, async move {
        let _ = stopped.await;
    }));
    Ok(P4rtServer {
        local_addr,
        stop: Some(stop),
        task,
    })
}
