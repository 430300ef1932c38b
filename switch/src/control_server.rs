//! Serves the run-time control commands ([`crate::control`]) on a TCP or Unix socket: one
//! command per line, one reply line each. Try it with `nc 127.0.0.1 PORT` and `help`.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UnixListener};

use crate::control::parse;
use crate::device::Device;

/// Longest accepted command line.
const MAX_LINE: usize = 4096;

/// Where the control server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlAddr {
    /// TCP `HOST:PORT`.
    Tcp(String),
    /// Unix socket path (`unix:PATH`).
    Unix(std::path::PathBuf),
}

impl ControlAddr {
    /// Parses `HOST:PORT` or `unix:PATH`.
    pub fn parse(s: &str) -> Self {
        match s.strip_prefix("unix:") {
            Some(path) => Self::Unix(path.into()),
            None => Self::Tcp(s.to_string()),
        }
    }
}

/// Runs one connection: reads command lines, applies them, writes replies.
pub async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    device: Arc<Device>,
) -> std::io::Result<()> {
    let (read, mut write) = tokio::io::split(stream);
    let mut lines = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        let n = (&mut lines)
            .take(MAX_LINE as u64)
            .read_line(&mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let reply = match parse(trimmed) {
            Ok(cmd) => {
                tracing::info!(command = trimmed, "control command");
                device.control(&cmd)
            }
            Err(e) => format!("error: {e}"),
        };
        write.write_all(reply.as_bytes()).await?;
        write.write_all(b"\n").await?;
    }
}

use tokio::io::AsyncReadExt as _;

/// Binds the control socket; the returned future serves until dropped. Also returns the bound
/// TCP address, when TCP.
pub async fn bind(
    addr: &ControlAddr,
    device: Arc<Device>,
) -> std::io::Result<(
    Option<std::net::SocketAddr>,
    impl std::future::Future<Output = ()> + use<>,
)> {
    enum L {
        Tcp(TcpListener),
        Unix(UnixListener),
    }
    let (listener, local) = match addr {
        ControlAddr::Tcp(a) => {
            let l = TcpListener::bind(a).await?;
            let local = l.local_addr()?;
            (L::Tcp(l), Some(local))
        }
        ControlAddr::Unix(p) => {
            let _ = std::fs::remove_file(p);
            (L::Unix(UnixListener::bind(p)?), None)
        }
    };
    let fut = async move {
        loop {
            let dev = device.clone();
            match &listener {
                L::Tcp(l) => match l.accept().await {
                    Ok((s, _)) => drop(tokio::spawn(async move { serve_connection(s, dev).await })),
                    Err(e) => tracing::warn!(error = %e, "control accept failed"),
                },
                L::Unix(l) => match l.accept().await {
                    Ok((s, _)) => drop(tokio::spawn(async move { serve_connection(s, dev).await })),
                    Err(e) => tracing::warn!(error = %e, "control accept failed"),
                },
            }
        }
    };
    Ok((local, fut))
}
