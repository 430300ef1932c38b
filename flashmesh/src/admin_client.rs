//! A small HTTP/1.1 client for an anchor's admin API (`http://host:port`), on hyper: one
//! connection per request, an optional bearer token, the answer's status and body.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;

/// How long one request may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The admin address is not `http://host:port[/path]`.
    #[error("admin address {0:?} is not http://host:port")]
    Address(String),
    /// No TCP connection.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// host:port.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("HTTP exchange with {addr} failed: {message}")]
    Http {
        /// host:port.
        addr: String,
        /// What went wrong.
        message: String,
    },
    /// No answer in time.
    #[error("no answer from {0} within {TIMEOUT:?}")]
    Timeout(String),
}

/// An answer from the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

/// Splits `http://host:port[/base]` into the authority (`host:port`, port 80 when absent) and
/// the base path without a trailing slash.
pub fn parse_admin(admin: &str) -> Result<(String, String), ClientError> {
    let uri: hyper::Uri = admin
        .parse()
        .map_err(|_| ClientError::Address(admin.into()))?;
    if uri.scheme_str() != Some("http") {
        return Err(ClientError::Address(admin.into()));
    }
    let host = uri
        .host()
        .ok_or_else(|| ClientError::Address(admin.into()))?;
    let port = uri.port_u16().unwrap_or(80);
    let base = uri.path().trim_end_matches('/').to_string();
    Ok((format!("{host}:{port}"), base))
}

/// Sends `method path` to the admin API at `admin` with `body` and an optional bearer token.
pub async fn request(
    admin: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> Result<Answer, ClientError> {
    let (addr, base) = parse_admin(admin)?;
    tokio::time::timeout(
        TIMEOUT,
        exchange(&addr, &base, method, path, token, content_type, body),
    )
    .await
    .map_err(|_| ClientError::Timeout(addr.clone()))?
}

async fn exchange(
    addr: &str,
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> Result<Answer, ClientError> {
    let http = |e: &dyn std::fmt::Display| ClientError::Http {
        addr: addr.to_string(),
        message: e.to_string(),
    };
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|source| ClientError::Connect {
            addr: addr.to_string(),
            source,
        })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| http(&e))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header(HOST, addr)
        .header(CONTENT_TYPE, content_type);
    if let Some(t) = token {
        req = req.header(AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| http(&e))?;
    let res = sender.send_request(req).await.map_err(|e| http(&e))?;
    let status = res.status().as_u16();
    let bytes = res
        .into_body()
        .collect()
        .await
        .map_err(|e| http(&e))?
        .to_bytes();
    driver.abort();
    Ok(Answer {
        status,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_addresses() {
        assert_eq!(
            parse_admin("http://127.0.0.1:8474").unwrap(),
            ("127.0.0.1:8474".into(), String::new())
        );
        assert_eq!(
            parse_admin("http://localhost/anchor/").unwrap(),
            ("localhost:80".into(), "/anchor".into())
        );
        assert!(parse_admin("https://127.0.0.1:8474").is_err());
        assert!(parse_admin("127.0.0.1:8474").is_err());
        assert!(parse_admin("http://").is_err());
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let r = request(
            &format!("http://{addr}"),
            "GET",
            "/policy",
            None,
            "text/plain",
            vec![],
        )
        .await;
        assert!(matches!(r, Err(ClientError::Connect { .. })), "{r:?}");
    }
}
