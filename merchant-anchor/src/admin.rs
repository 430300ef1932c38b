//! The admin HTTP API: `GET /healthz`, `GET /status` (JSON), `GET /metrics` (Prometheus) and
//! `POST /epoch` (JSON `{"epoch": N}`, bearer token required).
//!
//! Read-only routes are open; state-changing routes must pass [`authorised`], which checks the
//! configured bearer token in constant time. Without a configured token they are refused.
//! The epoch only moves forward.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};

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
    /// The anchor's current epoch.
    pub epoch: Arc<AtomicU32>,
}

/// Body of `POST /epoch`.
#[derive(Debug, Clone, Copy, serde::Deserialize, serde::Serialize)]
pub struct EpochUpdate {
    /// The new epoch (not below the current one).
    pub epoch: u32,
}

/// Builds the router.
pub fn router(ctx: AdminContext) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/epoch", post(set_epoch))
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

async fn set_epoch(
    State(ctx): State<AdminContext>,
    headers: HeaderMap,
    axum::Json(update): axum::Json<EpochUpdate>,
) -> impl IntoResponse {
    if !authorised(&headers, ctx.token.as_deref()) {
        return (
            StatusCode::UNAUTHORIZED,
            "bearer token required\n".to_string(),
        );
    }
    match ctx
        .epoch
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| {
            (update.epoch >= cur).then_some(update.epoch)
        }) {
        Ok(previous) => {
            tracing::info!(previous, epoch = update.epoch, "epoch changed");
            (StatusCode::OK, format!("epoch {}\n", update.epoch))
        }
        Err(current) => (
            StatusCode::CONFLICT,
            format!(
                "epoch {} is below the current epoch {current}\n",
                update.epoch
            ),
        ),
    }
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
    async fn serves_health_status_metrics_and_guards_the_epoch() {
        let m = Arc::new(Metrics::default());
        crate::metrics::inc(&m.orders);
        let epoch = Arc::new(AtomicU32::new(3));
        let ctx = AdminContext {
            metrics: m,
            status: Arc::new(|| serde_json::json!({"name": "a0"})),
            reason_name: |_| None,
            token: Some("secret".into()),
            healthy: Arc::new(|| true),
            epoch: epoch.clone(),
        };
        let (addr, task) = serve("127.0.0.1:0".parse().unwrap(), ctx).await.unwrap();
        let send = |request: String| async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(request.as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        };
        let get = |path: &str| {
            send(format!(
                "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            ))
        };
        let post_epoch = |token: &str, body: &str| {
            send(format!(
                "POST /epoch HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                 Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            ))
        };
        assert!(get("/healthz").await.starts_with("HTTP/1.1 200"));
        assert!(get("/status").await.contains("\"name\":\"a0\""));
        assert!(get("/metrics").await.contains("flashmesh_orders_total 1"));
        let r = post_epoch("wrong", r#"{"epoch":5}"#).await;
        assert!(r.starts_with("HTTP/1.1 401"), "{r}");
        assert_eq!(epoch.load(Ordering::SeqCst), 3);
        let r = post_epoch("secret", r#"{"epoch":5}"#).await;
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert_eq!(epoch.load(Ordering::SeqCst), 5);
        let r = post_epoch("secret", r#"{"epoch":4}"#).await;
        assert!(r.starts_with("HTTP/1.1 409"), "{r}");
        assert_eq!(epoch.load(Ordering::SeqCst), 5);
        task.abort();
    }
}
