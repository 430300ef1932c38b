//! Link-state flooding between anchors that run as separate processes: what this anchor's
//! probes find about its switches' links goes to the other anchors, and what theirs find comes
//! here, so that every controller routes around a link that is down anywhere in the mesh (a
//! controller probes only its own switches' ports). The in-process mesh does the same with one
//! relay task per controller; this is that relay over the anchors' admin APIs, on a management
//! network that does not depend on the mesh's links.
//!
//! * `GET /links`: the link ends this anchor's controller probes, `[{node, port, up}]`;
//! * `POST /links` (bearer token): `{"changes": [{node, port, up}]}`, learned by the
//!   controller (ends it probes itself are left to its probes).
//!
//! With a `[link_relay]` table (`peers = ["HOST:PORT", ...]`, the other anchors' admin
//! addresses, and their bearer `token`), a task posts every LinkDown/LinkUp of the controller
//! to each peer, and once its probes have settled it pushes its whole probed state and pulls
//! each peer's (so a restarted anchor catches up both ways).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use flashmesh_controller::{Controller, ControllerEvent};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::admin::AdminContext;

/// The `[link_relay]` table.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LinkRelayConfig {
    /// The other anchors' admin addresses, `HOST:PORT`.
    pub peers: Vec<String>,
    /// Bearer token of their `POST /links`.
    #[serde(default)]
    pub token: Option<String>,
    /// Milliseconds after start before the whole state is exchanged (the probes settle).
    #[serde(default = "default_settle_ms")]
    pub settle_ms: u64,
}

fn default_settle_ms() -> u64 {
    1000
}

/// One link end's state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LinkChange {
    /// Topology node.
    pub node: String,
    /// Its port.
    pub port: u16,
    /// Up (true) or down.
    pub up: bool,
}

/// Body of `POST /links`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LinkChanges {
    /// The changes.
    pub changes: Vec<LinkChange>,
}

fn no_controller() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"error": "no_controller"})),
    )
        .into_response()
}

fn changes(states: Vec<(String, u16, bool)>) -> Vec<LinkChange> {
    states
        .into_iter()
        .map(|(node, port, up)| LinkChange { node, port, up })
        .collect()
}

/// `GET /links`.
pub async fn get_links(State(ctx): State<AdminContext>) -> Response {
    let Some(c) = &ctx.controller else {
        return no_controller();
    };
    Json(changes(c.controller.probed_link_states().await)).into_response()
}

/// `POST /links`.
pub async fn post_links(
    State(ctx): State<AdminContext>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let c = match ctx.write_controller(&headers, no_controller) {
        Ok(c) => c,
        Err(answer) => return *answer,
    };
    let Ok(body) = serde_json::from_slice::<LinkChanges>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": "undecodable"})),
        )
            .into_response();
    };
    let mut learned = 0;
    for ch in &body.changes {
        if c.controller.learn_link(&ch.node, ch.port, ch.up).await {
            learned += 1;
        }
    }
    Json(serde_json::json!({"learned": learned})).into_response()
}

/// Why one exchange with a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Connecting, writing or reading.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Not an HTTP answer, or not a 2xx one.
    #[error("{0}")]
    Http(String),
    /// The body was not the JSON expected.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

/// One HTTP/1.1 request to `peer` (`HOST:PORT`); the body of a 2xx answer.
async fn request(
    peer: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> Result<Vec<u8>, RelayError> {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(peer).await?;
        let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {peer}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await?;
        s.write_all(body).await?;
        let mut answer = Vec::new();
        s.take(1 << 20).read_to_end(&mut answer).await?;
        Ok::<_, RelayError>(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .map_err(|_| RelayError::Http(format!("{peer}: no answer in 2 s")))??;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| RelayError::Http(format!("{peer}: not an HTTP answer")))?;
    let status_line = String::from_utf8_lossy(&answer[..split]);
    let code = status_line.split_whitespace().nth(1).unwrap_or("");
    if !code.starts_with('2') {
        return Err(RelayError::Http(format!(
            "{peer}: {method} {path} answered {code}"
        )));
    }
    Ok(answer[split + 4..].to_vec())
}

async fn push(peers: &[String], token: Option<&str>, changes: Vec<LinkChange>) {
    if changes.is_empty() {
        return;
    }
    let body = serde_json::to_vec(&LinkChanges { changes }).unwrap_or_default();
    for p in peers {
        if let Err(e) = request(p, "POST", "/links", token, &body).await {
            tracing::warn!(peer = %p, error = %e, "link state not relayed");
        }
    }
}

/// Starts the relay of `controller`'s link state to `cfg.peers`.
pub fn start(controller: Arc<Controller>, cfg: LinkRelayConfig) -> tokio::task::JoinHandle<()> {
    use tokio::sync::broadcast::error::RecvError;
    let mut events = controller.events();
    tokio::spawn(async move {
        let token = cfg.token.as_deref();
        let settle = tokio::time::sleep(Duration::from_millis(cfg.settle_ms));
        tokio::pin!(settle);
        let mut settled = false;
        loop {
            let batch = tokio::select! {
                () = &mut settle, if !settled => {
                    settled = true;
                    for p in &cfg.peers {
                        match request(p, "GET", "/links", None, b"").await.and_then(|b| {
                            Ok(serde_json::from_slice::<Vec<LinkChange>>(&b)?)
                        }) {
                            Ok(theirs) => {
                                for ch in theirs {
                                    controller.learn_link(&ch.node, ch.port, ch.up).await;
                                }
                            }
                            Err(e) => tracing::warn!(peer = %p, error = %e, "link state not fetched"),
                        }
                    }
                    changes(controller.probed_link_states().await)
                }
                ev = events.recv() => match ev {
                    Ok(ControllerEvent::LinkDown { node, port }) => {
                        vec![LinkChange { node, port, up: false }]
                    }
                    Ok(ControllerEvent::LinkUp { node, port }) => {
                        vec![LinkChange { node, port, up: true }]
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => changes(controller.probed_link_states().await),
                    Err(RecvError::Closed) => break,
                },
            };
            push(&cfg.peers, token, batch).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_with_defaults_and_refuses_unknown_fields() {
        let c: LinkRelayConfig = toml::from_str("peers = [\"10.0.0.1:8474\"]\n").unwrap();
        assert_eq!(c.settle_ms, 1000);
        assert!(c.token.is_none());
        assert!(toml::from_str::<LinkRelayConfig>("peers = []\nbogus = 1\n").is_err());
    }

    #[tokio::test]
    async fn a_request_to_nobody_is_an_error_not_a_panic() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        // a peer that answers garbage
        tokio::spawn(async move {
            if let Ok((mut s, _)) = l.accept().await {
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(b"garbage").await;
            }
        });
        assert!(request(&addr, "GET", "/links", None, b"").await.is_err());
        assert!(
            request("127.0.0.1:1", "GET", "/links", None, b"")
                .await
                .is_err()
        );
    }
}
