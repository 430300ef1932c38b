//! The gateway's admin HTTP API: `GET /status` (JSON: identity, ledger totals, deposit
//! progress, counters), `GET /metrics` (Prometheus) and `POST /deposits` (JSON
//! `{"account": "<64 hex>", "token": 0, "amount": 100, "reference": "bank-tx-1"}`: money taken in
//! on the primary ledger; answered with the deposit's sequence and whether it is new). A
//! deposit needs the configured bearer token; without one configured, deposits are refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use flashmesh_core::{Keypair, PublicKey};
use serde::Deserialize;
use tokio::sync::Notify;

use crate::ledger::{DepositRequest, LedgerError};
use crate::metrics::{Metrics, inc};
use crate::worker::LedgerHandle;

/// What the routes use.
#[derive(Clone)]
pub struct AdminContext {
    pub name: String,
    pub key: Arc<Keypair>,
    pub committee_id: String,
    pub ledger: LedgerHandle,
    pub metrics: Arc<Metrics>,
    pub token: Option<String>,
    pub recorded: Arc<Notify>,
    pub confirmed_below: Arc<AtomicU64>,
}

/// The routes.
pub fn router(ctx: AdminContext) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/deposits", post(deposit))
        .with_state(ctx)
}

async fn metrics(State(ctx): State<AdminContext>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        ctx.metrics.render(),
    )
}

async fn status(State(ctx): State<AdminContext>) -> axum::response::Response {
    let totals = match ctx.ledger.totals().await {
        Ok(t) => t,
        Err(e) => {
            inc(&ctx.metrics.ledger_failures);
            return (StatusCode::SERVICE_UNAVAILABLE, format!("ledger: {e}\n")).into_response();
        }
    };
    let tokens: Vec<serde_json::Value> = totals
        .tokens
        .iter()
        .map(|(t, v)| {
            serde_json::json!({
                "token": t,
                "withdrawals_settled": v.settled_count,
                "withdrawn": v.settled_amount.to_string(),
                "deposits": v.deposited_count,
                "deposited": v.deposited_amount.to_string(),
            })
        })
        .collect();
    let m = &ctx.metrics;
    axum::Json(serde_json::json!({
        "name": ctx.name,
        "public_key": ctx.key.public().to_hex(),
        "committee": ctx.committee_id,
        "tokens": tokens,
        "deposits_confirmed_below": ctx.confirmed_below.load(Ordering::Relaxed),
        "settled": m.settled_first.load(Ordering::Relaxed),
        "settled_repeats": m.settled_repeat.load(Ordering::Relaxed),
        "malformed": m.malformed.load(Ordering::Relaxed),
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DepositBody {
    account: String,
    #[serde(default)]
    token: u32,
    amount: u64,
    reference: String,
}

fn authorised(headers: &HeaderMap, token: Option<&str>) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    flashmesh_core::host::token::matches(given, token)
}

async fn deposit(
    State(ctx): State<AdminContext>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    if !authorised(&headers, ctx.token.as_deref()) {
        inc(&ctx.metrics.admin_unauthorised);
        return (StatusCode::UNAUTHORIZED, "a valid bearer token is needed\n").into_response();
    }
    let bad = |m: String| (StatusCode::BAD_REQUEST, m + "\n").into_response();
    let b: DepositBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return bad(format!("deposit body: {e}")),
    };
    let account = match PublicKey::from_hex(&b.account) {
        Ok(k) if k.verifying_key().is_ok() => k,
        _ => return bad("account must be 64 hex characters of a valid public key".into()),
    };
    let req = DepositRequest {
        external_reference: b.reference.into_bytes(),
        account: *account.as_bytes(),
        token: b.token,
        amount: b.amount,
    };
    match ctx
        .ledger
        .record_deposit(req, flashmesh_core::host::clock::unix_millis())
        .await
    {
        Ok(d) => {
            if d.first {
                inc(&ctx.metrics.deposits_recorded);
            }
            ctx.recorded.notify_one();
            axum::Json(serde_json::json!({
                "sequence": d.sequence,
                "first": d.first,
                "created_at_ms": d.created_at_ms,
            }))
            .into_response()
        }
        Err(
            e @ (LedgerError::Invalid(_) | LedgerError::Conflict { .. } | LedgerError::Overflow(_)),
        ) => bad(format!("deposit refused: {e}")),
        Err(e) => {
            inc(&ctx.metrics.ledger_failures);
            (StatusCode::SERVICE_UNAVAILABLE, format!("ledger: {e}\n")).into_response()
        }
    }
}
