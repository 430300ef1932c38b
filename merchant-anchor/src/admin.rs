//! The admin HTTP API: `GET /healthz` (JSON: store and controller health), `GET /status`
//! (JSON), `GET /metrics` (Prometheus: the anchor's counters, then the controller's),
//! `POST /epoch` (JSON `{"epoch": N}`), `GET /policy` / `POST /policy` (see
//! [`crate::policy_api`]) and `GET /links` / `POST /links` (see [`crate::link_relay`]).
//!
//! Read-only routes are open; state-changing routes (`POST /epoch`, `POST /policy`) must pass
//! [`authorised`], which checks the configured bearer token in constant time; without a
//! configured token they are refused. Refusals are 401 and counted. The epoch only moves
//! forward; with a controller it is the controller's epoch (written to every switch, and the
//! authority's window follows it).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::control::AnchorController;
use crate::metrics::{Metrics, inc};

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
    /// The anchor's controller, if it runs one.
    pub controller: Option<Arc<AnchorController>>,
    /// The anchor's peer view and liveness counters, if it keeps them.
    pub liveness: Option<Arc<crate::liveness::LivenessState>>,
}

impl AdminContext {
    /// Checks the bearer token of a state-changing request: `None` when authorised, else the
    /// refusal to answer (401, counted).
    pub fn refuse_unauthorised(&self, headers: &HeaderMap) -> Option<axum::response::Response> {
        if authorised(headers, self.token.as_deref()) {
            return None;
        }
        inc(&self.metrics.admin_unauthorised);
        Some(
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                axum::Json(serde_json::json!({
                    "error": "unauthorised",
                    "message": "a valid bearer token is required for this route",
                })),
            )
                .into_response(),
        )
    }

    /// The controller for a state-changing controller route: the refusal to answer when the
    /// bearer token is wrong, or `missing()` when the anchor runs no controller.
    pub fn write_controller(
        &self,
        headers: &HeaderMap,
        missing: impl FnOnce() -> axum::response::Response,
    ) -> Result<&Arc<AnchorController>, Box<axum::response::Response>> {
        if let Some(refusal) = self.refuse_unauthorised(headers) {
            return Err(Box::new(refusal));
        }
        self.controller.as_ref().ok_or_else(|| Box::new(missing()))
    }
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
        .route(
            "/policy",
            get(crate::policy_api::get_policy).post(crate::policy_api::post_policy),
        )
        .route(
            "/links",
            get(crate::link_relay::get_links).post(crate::link_relay::post_links),
        )
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
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    flashmesh_core::host::token::matches(given, token)
}

async fn set_epoch(
    State(ctx): State<AdminContext>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    if let Some(refused) = ctx.refuse_unauthorised(&headers) {
        return refused;
    }
    let update: EpochUpdate = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("expected {{\"epoch\": N}}: {e}\n"),
            )
                .into_response();
        }
    };
    let result = match &ctx.controller {
        // the controller's epoch is the truth: the switches get the new one, and the
        // authority's window follows through the controller's epoch channel
        Some(c) => {
            let current = c.controller.epoch();
            if update.epoch >= current {
                c.controller.set_epoch(update.epoch).await;
                ctx.epoch.fetch_max(update.epoch, Ordering::SeqCst);
                Ok(current)
            } else {
                Err(current)
            }
        }
        None => ctx
            .epoch
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| {
                (update.epoch >= cur).then_some(update.epoch)
            }),
    };
    match result {
        Ok(previous) => {
            tracing::info!(previous, epoch = update.epoch, "epoch changed");
            (StatusCode::OK, format!("epoch {}\n", update.epoch)).into_response()
        }
        Err(current) => (
            StatusCode::CONFLICT,
            format!(
                "epoch {} is below the current epoch {current}\n",
                update.epoch
            ),
        )
            .into_response(),
    }
}

async fn healthz(State(ctx): State<AdminContext>) -> impl IntoResponse {
    let store = (ctx.healthy)();
    let controller = ctx.controller.as_ref().map(|c| c.health());
    let control_ok = controller.as_ref().is_none_or(|c| c.healthy());
    let ok = store && control_ok;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let problem = match (store, control_ok) {
        (true, true) => None,
        (false, _) => Some("store failed"),
        (true, false) => Some("not the primary controller of every switch"),
    };
    (
        status,
        axum::Json(serde_json::json!({
            "status": if ok { "ok" } else { "unhealthy" },
            "problem": problem,
            "store_healthy": store,
            "epoch": ctx.epoch.load(Ordering::Relaxed),
            "controller": controller,
        })),
    )
}

async fn status(State(ctx): State<AdminContext>) -> impl IntoResponse {
    axum::Json((ctx.status)())
}

async fn metrics(State(ctx): State<AdminContext>) -> impl IntoResponse {
    let mut text = ctx.metrics.render(ctx.reason_name);
    if let Some(l) = &ctx.liveness {
        l.render_metrics(&mut text);
    }
    if let Some(c) = &ctx.controller {
        text.push_str(&c.controller.metrics().await);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
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
            controller: None,
            liveness: None,
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
        let h = get("/healthz").await;
        assert!(h.starts_with("HTTP/1.1 200"), "{h}");
        assert!(
            h.contains("\"status\":\"ok\"") && h.contains("\"controller\":null"),
            "{h}"
        );
        assert!(get("/status").await.contains("\"name\":\"a0\""));
        assert!(get("/metrics").await.contains("flashmesh_orders_total 1"));
        let r = post_epoch("wrong", r#"{"epoch":5}"#).await;
        assert!(r.starts_with("HTTP/1.1 401"), "{r}");
        let r = post_epoch("secret", "five").await;
        assert!(r.starts_with("HTTP/1.1 400"), "{r}");
        // no controller: the policy routes say so
        assert!(get("/policy").await.starts_with("HTTP/1.1 404"));
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
