//! `GET /policy` and `POST /policy`: the policy in force, and pushing a signed bundle.
//!
//! `GET /policy` is public: `{"version": N|null, "settings": {...}, "counters": {...}}`.
//!
//! `POST /policy` needs the bearer token. The body is a bundle in TOML or JSON (JSON when it
//! starts with `{`). The controller verifies it against the pinned operator keys and threshold,
//! the version in force and the clock, writes it to every switch (rolled back if a write
//! fails), counts the decision and appends it to the audit log in the anchor's data directory.
//! Every answer is JSON: `{"accepted": true, "version", "digest", "signers"}` (200), or
//! `{"accepted": false, "refusal": KIND, "message": TEXT}` with the status of
//! [`refusal_status`]. Without a controller both routes answer 404.

use flashmesh_core::host::clock::unix_secs;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use flashmesh_controller::PolicyBundle;
use flashmesh_controller::policy::AuditRecord;
use flashmesh_controller::runtime::PolicyError;
use serde_json::json;

use crate::admin::AdminContext;
use crate::metrics::inc;

/// Refusal kind of a body that is not a policy bundle at all.
pub const UNDECODABLE: &str = "undecodable";

/// Refusal kind of a verified bundle whose switch writes failed (and were undone).
pub const WRITE_FAILED: &str = "write_failed";

/// The HTTP status for a refusal kind: 403 for signature problems (unsigned, below threshold,
/// unknown signer, tampered), 409 for a replayed version, 422 for an expired bundle or invalid
/// settings, 400 for a body that is not a bundle or a malformed signature entry, 502 when the
/// switches refused the writes.
pub fn refusal_status(kind: &str) -> StatusCode {
    match kind {
        "unsigned" | "below_threshold" | "unknown_signer" | "tampered" => StatusCode::FORBIDDEN,
        "replayed" => StatusCode::CONFLICT,
        "expired" | "invalid" => StatusCode::UNPROCESSABLE_ENTITY,
        WRITE_FAILED => StatusCode::BAD_GATEWAY,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn refused(kind: &str, message: String) -> Response {
    (
        refusal_status(kind),
        Json(json!({"accepted": false, "refusal": kind, "message": message})),
    )
        .into_response()
}

fn no_controller() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({
            "error": "no_controller",
            "message": "this anchor runs no controller, so it has no policy",
        })),
    )
        .into_response()
}

/// `GET /policy`.
pub async fn get_policy(State(ctx): State<AdminContext>) -> Response {
    let Some(c) = &ctx.controller else {
        return no_controller();
    };
    let (version, settings) = c.controller.policy().await;
    let counters = c.controller.policy_counters().await;
    Json(json!({"version": version, "settings": settings, "counters": counters})).into_response()
}

/// `POST /policy`.
pub async fn post_policy(
    State(ctx): State<AdminContext>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let c = match ctx.write_controller(&headers, no_controller) {
        Ok(c) => c,
        Err(answer) => return *answer,
    };
    let bundle = match std::str::from_utf8(&body)
        .map_err(|e| e.to_string())
        .and_then(|text| PolicyBundle::parse(text).map_err(|e| e.to_string()))
    {
        Ok(b) => b,
        Err(message) => {
            inc(&ctx.metrics.policy_undecodable);
            if let Some(audit) = &c.audit {
                let rec = AuditRecord {
                    at: unix_secs(),
                    outcome: "refused".into(),
                    reason: UNDECODABLE.into(),
                    detail: message.clone(),
                    version: 0,
                    digest: blake3::hash(&body).to_hex().to_string(),
                    signers: Vec::new(),
                    bundle: None,
                };
                if let Err(e) = audit.append(&rec) {
                    tracing::warn!("audit log {}: {e}", audit.path().display());
                }
            }
            return refused(
                UNDECODABLE,
                format!("refused: body is not a policy bundle: {message}"),
            );
        }
    };
    match c.controller.apply_policy(&bundle).await {
        Ok(v) => {
            tracing::info!(version = v.bundle.body.version, signers = ?v.signers, "policy accepted");
            Json(json!({
                "accepted": true,
                "version": v.bundle.body.version,
                "digest": v.digest,
                "signers": v.signers,
            }))
            .into_response()
        }
        Err(PolicyError::Refused(r)) => {
            tracing::warn!(kind = r.kind(), "policy refused: {r}");
            refused(r.kind(), r.to_string())
        }
        Err(PolicyError::WriteFailed(e)) => {
            tracing::warn!("policy writes failed: {e}");
            refused(WRITE_FAILED, format!("refused: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashmesh_controller::PolicyRefusal;

    #[test]
    fn every_refusal_kind_is_a_client_error_except_failed_writes() {
        for kind in PolicyRefusal::KINDS.into_iter().chain([UNDECODABLE]) {
            assert!(refusal_status(kind).is_client_error(), "{kind}");
        }
        assert_eq!(refusal_status("replayed"), StatusCode::CONFLICT);
        assert_eq!(refusal_status("tampered"), StatusCode::FORBIDDEN);
        assert_eq!(refusal_status(WRITE_FAILED), StatusCode::BAD_GATEWAY);
    }
}
