//! Errors of the P4Runtime service and how they travel: a plain gRPC status for
//! whole-request failures, and for `Write` one `p4.v1.Error` per update, in order,
//! inside the `google.rpc.Status` details (overall code UNKNOWN when any failed).

use flashmesh_proto::google::rpc;
use flashmesh_proto::p4::v1 as p4v1;
use prost::{Message, Name};

/// A failure with its canonical code, for one update or one whole request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct P4rtError {
    pub code: tonic::Code,
    pub message: String,
}

impl P4rtError {
    pub fn new(code: tonic::Code, message: impl Into<String>) -> Self {
        P4rtError {
            code,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::InvalidArgument, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::NotFound, message)
    }
    pub fn exists(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::AlreadyExists, message)
    }
    pub fn unimplemented(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::Unimplemented, message)
    }
    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::FailedPrecondition, message)
    }
    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::PermissionDenied, message)
    }
    pub fn out_of_range(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::OutOfRange, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(tonic::Code::Internal, message)
    }
}

impl From<P4rtError> for tonic::Status {
    fn from(e: P4rtError) -> Self {
        tonic::Status::new(e.code, e.message)
    }
}

fn any_of<M: Message + Name>(msg: &M) -> prost_types::Any {
    prost_types::Any {
        type_url: format!("type.googleapis.com/{}", M::full_name()),
        value: msg.encode_to_vec(),
    }
}

/// The status of a `Write` whose updates had these outcomes; `Ok(())` when all succeeded.
pub fn write_status(outcomes: &[Result<(), P4rtError>]) -> Result<(), tonic::Status> {
    let failed = outcomes.iter().filter(|o| o.is_err()).count();
    if failed == 0 {
        return Ok(());
    }
    let details = outcomes
        .iter()
        .map(|o| {
            let error = match o {
                Ok(()) => p4v1::Error {
                    canonical_code: rpc::Code::Ok as i32,
                    ..Default::default()
                },
                Err(e) => p4v1::Error {
                    canonical_code: e.code as i32,
                    message: e.message.clone(),
                    ..Default::default()
                },
            };
            any_of(&error)
        })
        .collect();
    let message = if failed == 1 {
        outcomes
            .iter()
            .find_map(|o| o.as_ref().err())
            .map(|e| format!("Write failure: {}", e.message))
            .unwrap_or_default()
    } else {
        format!(
            "Write failure: {failed} of {} updates failed",
            outcomes.len()
        )
    };
    let status = rpc::Status {
        code: rpc::Code::Unknown as i32,
        message: message.clone(),
        details,
    };
    Err(tonic::Status::with_details(
        tonic::Code::Unknown,
        message,
        status.encode_to_vec().into(),
    ))
}

/// Decodes the per-update errors of a failed `Write` (client side; used by tests).
pub fn write_errors(status: &tonic::Status) -> Option<Vec<p4v1::Error>> {
    flashmesh_proto::write_errors(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_ok_is_ok() {
        assert!(write_status(&[Ok(()), Ok(())]).is_ok());
    }

    #[test]
    fn errors_are_reported_per_update_in_order() {
        let st = write_status(&[
            Ok(()),
            Err(P4rtError::exists("dup")),
            Err(P4rtError::not_found("gone")),
        ])
        .unwrap_err();
        assert_eq!(st.code(), tonic::Code::Unknown);
        let errs = write_errors(&st).unwrap();
        let codes: Vec<i32> = errs.iter().map(|e| e.canonical_code).collect();
        assert_eq!(codes, vec![0, 6, 5]);
        assert_eq!(errs[1].message, "dup");
        let outer = rpc::Status::decode(st.details()).unwrap();
        assert_eq!(outer.details[0].type_url, "type.googleapis.com/p4.v1.Error");
    }
}
