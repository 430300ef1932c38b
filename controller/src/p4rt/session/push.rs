//! Pipeline push with cookie reconciliation: the switch's cookie is asked for first, and the
//! pipeline is pushed only when it differs.

use flashmesh_proto::p4::v1 as p4;
use tracing::info;

use crate::p4rt::error::rpc_error;
use crate::p4rt::pipeline::Pipeline;

use super::{
    P4rtError, PIPELINE_DEADLINE, PushOutcome, RPC_DEADLINE, Session, deadline_error, election,
};

impl Session {
    /// The cookie of the switch's pipeline, or None if it has none.
    pub async fn pipeline_cookie(&self) -> Result<Option<u64>, P4rtError> {
        let req = p4::GetForwardingPipelineConfigRequest {
            device_id: self.inner.cfg.device_id,
            response_type: p4::get_forwarding_pipeline_config_request::ResponseType::CookieOnly
                as i32,
        };
        let mut client = self.inner.client.clone();
        let got = tokio::time::timeout(RPC_DEADLINE, client.get_forwarding_pipeline_config(req))
            .await
            .map_err(|_| deadline_error("GetForwardingPipelineConfig"))?;
        match got {
            Ok(r) => Ok(r
                .into_inner()
                .config
                .and_then(|c| c.cookie)
                .map(|c| c.cookie)),
            Err(s) if s.code() == tonic::Code::FailedPrecondition => Ok(None),
            Err(s) => Err(rpc_error("GetForwardingPipelineConfig", s)),
        }
    }

    /// Reconciles the switch with `pipeline`: asks for the cookie first and pushes only when it
    /// differs. Either way the P4Info becomes this session's index.
    pub async fn ensure_pipeline(&self, pipeline: &Pipeline) -> Result<PushOutcome, P4rtError> {
        let current = self.pipeline_cookie().await?;
        self.set_p4info(&pipeline.p4info);
        if current == Some(pipeline.cookie) {
            info!(addr = %self.inner.cfg.addr, cookie = pipeline.cookie, "pipeline already installed");
            return Ok(PushOutcome::AlreadyInstalled);
        }
        let req = p4::SetForwardingPipelineConfigRequest {
            device_id: self.inner.cfg.device_id,
            role: self.inner.cfg.role.clone(),
            election_id: Some(election(&self.inner.cfg)),
            action: p4::set_forwarding_pipeline_config_request::Action::VerifyAndCommit as i32,
            config: Some(p4::ForwardingPipelineConfig {
                p4info: Some(pipeline.p4info.clone()),
                p4_device_config: pipeline.device_config.clone(),
                cookie: Some(p4::forwarding_pipeline_config::Cookie {
                    cookie: pipeline.cookie,
                }),
            }),
            ..Default::default()
        };
        let mut client = self.inner.client.clone();
        let set = tokio::time::timeout(
            PIPELINE_DEADLINE,
            client.set_forwarding_pipeline_config(req),
        )
        .await
        .map_err(|_| deadline_error("SetForwardingPipelineConfig"))?;
        match set {
            Ok(_) => {
                info!(addr = %self.inner.cfg.addr, cookie = pipeline.cookie, "pipeline pushed");
                Ok(PushOutcome::Pushed)
            }
            Err(s) if s.code() == tonic::Code::PermissionDenied => Err(P4rtError::NotPrimary {
                device_id: self.inner.cfg.device_id,
                message: s.message().into(),
            }),
            Err(s) => Err(rpc_error("SetForwardingPipelineConfig", s)),
        }
    }
}
