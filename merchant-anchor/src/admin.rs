//! The admin HTTP API: `GET /healthz`, `GET /status` (JSON) and `GET /metrics` (Prometheus).
//!
//! Read-only routes are open; state-changing routes (added by later features) must pass
//! [`authorised`], which checks the configured bearer token in constant time.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::metrics::Metrics;

/// Produces the `/status` document.
pub type StatusFn = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// Names a rejection reason code for the metrics labels.
pub type ReasonNameFn = fn(u8) -> Option<&'static str>;

/// What the admin routes read.
#[derive(Clone)]
pub struct AdminContext {
    /// The anchor's counters.
    pub metrics: Arc<Metrics>,
    /// Builds the status document.
    pub status: StatusFn,
    /// Names rejection codes.
    pub reason_name: ReasonNameFn,
    /// Bearer token for state-changing routes.
    pub token: Option<String>,
    /// Whether the anchor is healthy (its store still commits).
    pub healthy: Arc<dyn Fn() -> bool + Send + Sync>,
}

/// Builds the router.
pub fn router(ctx: AdminContext) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(ctx)
}

/// Binds `addr` and serves the admin API until the task is dropped. Returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    ctx: AdminContext,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = router(ctx);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "admin API stopped");
        }
    });
    Ok((local, task))
}

/// Whether `headers` carry `Authorization: Bearer <token>` matching the configured token.
/// With no token configured, nothing is authorised.
pub fn authorised(headers: &HeaderMap, token: Option<&str>) -> bool {
    let Some(expected) = token else { return false };
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn healthz(State(ctx): State<AdminContext>) -> impl IntoResponse {
    if (ctx.healthy)() {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "store failed\n")
    }
}

async fn status(State(ctx): State<AdminContext>) -> impl IntoResponse {
    axum::Json((ctx.status)())
}

async fn metrics(State(ctx): State<AdminContext>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        ctx.metrics.render(ctx.reason_name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_token_must_match_exactly() {
        let mut h = HeaderMap::new();
        assert!(!authorised(&h, Some("secret")));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer secret"),
        );
        assert!(authorised(&h, Some("secret")));
        assert!(!authorised(&h, Some("secreT")));
        assert!(!authorised(&h, Some("secret2")));
        assert!(!authorised(&h, None));
    }

    #[tokio::test]
    async fn serves_health_status_and_metrics() {
        let m = Arc::new(Metrics::default());
        crate::metrics::inc(&m.orders);
        let ctx = AdminContext {
            metrics: m,
            status: Arc::new(|| serde_json::json!({"name": "a0"})),
            reason_name: |_| None,
            token: None,
            healthy: Arc::new(|| true),
        };
        let (addr, task) = serve("127.0.0.1:0".parse().unwrap(), ctx).await.unwrap();
        let get = |path: &'static str| async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        };
        assert!(get("/healthz").await.starts_with("HTTP/1.1 200"));
        assert!(get("/status").await.contains("\"name\":\"a0\""));
        assert!(get("/metrics").await.contains("flashmesh_orders_total 1"));
        task.abort();
    }
}
