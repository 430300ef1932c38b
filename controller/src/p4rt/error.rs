//! Errors of P4Runtime calls, with per-update errors of a write batch decoded from the
//! `google.rpc.Status` details (one `p4.v1.Error` per update, in order).

use flashmesh_proto::google::rpc;
use flashmesh_proto::p4::v1 as p4;
use prost::Message;
use thiserror::Error;

use super::p4info::P4InfoError;

/// The error of one update in a write batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateError {
    /// Position of the update in the batch.
    pub index: usize,
    /// gRPC canonical code of the failure.
    pub code: tonic::Code,
    /// The switch's message.
    pub message: String,
    /// What the update was (table and kind), for people.
    pub what: String,
}

impl std::fmt::Display for UpdateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "update {} ({}): {:?}: {}",
            self.index, self.what, self.code, self.message
        )
    }
}

/// An error talking P4Runtime to one switch.
#[derive(Debug, Error)]
pub enum P4rtError {
    /// The switch could not be reached.
    #[error("cannot connect to {addr}: {message}")]
    Connect {
        /// Address.
        addr: String,
        /// Why.
        message: String,
    },
    /// This client is not the primary controller, so the switch refused a write.
    #[error("not the primary controller of device {device_id}: {message}")]
    NotPrimary {
        /// Device.
        device_id: u64,
        /// The switch's message.
        message: String,
    },
    /// Some updates of a write batch failed (the others were applied).
    #[error("{} of {total} update(s) failed: {}", .errors.len(), .errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Batch {
        /// Updates in the batch.
        total: usize,
        /// The failed ones.
        errors: Vec<UpdateError>,
    },
    /// Any other RPC failure.
    #[error("{op} failed: {code:?}: {message}")]
    Rpc {
        /// Which RPC.
        op: &'static str,
        /// gRPC code.
        code: tonic::Code,
        /// Message.
        message: String,
    },
    /// A name or value that P4Info refuses.
    #[error(transparent)]
    P4Info(#[from] P4InfoError),
    /// No pipeline known yet (push or fetch one first).
    #[error("no P4Info loaded for this switch")]
    NoPipeline,
    /// The stream to the switch is closed.
    #[error("stream channel to the switch is closed")]
    StreamClosed,
    /// A pipeline file could not be read.
    #[error("pipeline file {path}: {message}")]
    PipelineFile {
        /// File.
        path: String,
        /// Why.
        message: String,
    },
}

impl P4rtError {
    /// The gRPC code behind this error, if any.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            Self::Rpc { code, .. } => Some(*code),
            Self::NotPrimary { .. } => Some(tonic::Code::PermissionDenied),
            _ => None,
        }
    }
}

/// Decodes the per-update errors of a failed write. `what` describes update `i`.
pub fn batch_errors(status: &tonic::Status, what: impl Fn(usize) -> String) -> Vec<UpdateError> {
    let Ok(st) = rpc::Status::decode(status.details()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, any) in st.details.iter().enumerate() {
        if !any.type_url.ends_with("p4.v1.Error") {
            continue;
        }
        let Ok(e) = p4::Error::decode(any.value.as_slice()) else {
            continue;
        };
        if e.canonical_code == 0 {
            continue;
        }
        out.push(UpdateError {
            index: i,
            code: tonic::Code::from_i32(e.canonical_code),
            message: e.message,
            what: what(i),
        });
    }
    out
}

/// Maps a failed write to a typed error.
pub fn write_error(
    status: tonic::Status,
    device_id: u64,
    total: usize,
    what: impl Fn(usize) -> String,
) -> P4rtError {
    if status.code() == tonic::Code::PermissionDenied {
        return P4rtError::NotPrimary {
            device_id,
            message: status.message().to_string(),
        };
    }
    let errors = batch_errors(&status, what);
    if errors.is_empty() {
        P4rtError::Rpc {
            op: "Write",
            code: status.code(),
            message: status.message().to_string(),
        }
    } else {
        P4rtError::Batch { total, errors }
    }
}

/// Maps any other failed RPC.
pub fn rpc_error(op: &'static str, status: tonic::Status) -> P4rtError {
    P4rtError::Rpc {
        op,
        code: status.code(),
        message: status.message().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(e: p4::Error) -> prost_types::Any {
        prost_types::Any {
            type_url: "type.googleapis.com/p4.v1.Error".into(),
            value: e.encode_to_vec(),
        }
    }

    #[test]
    fn decodes_per_update_errors() {
        let st = rpc::Status {
            code: 2,
            message: "Write failure.".into(),
            details: vec![
                any(p4::Error {
                    canonical_code: 0,
                    ..Default::default()
                }),
                any(p4::Error {
                    canonical_code: 6,
                    message: "Match entry exists".into(),
                    ..Default::default()
                }),
            ],
        };
        let status = tonic::Status::with_details(
            tonic::Code::Unknown,
            "Write failure.",
            st.encode_to_vec().into(),
        );
        let e = write_error(status, 0, 2, |i| format!("u{i}"));
        match e {
            P4rtError::Batch { total, errors } => {
                assert_eq!(total, 2);
                assert_eq!(errors.len(), 1);
                assert_eq!(errors[0].index, 1);
                assert_eq!(errors[0].code, tonic::Code::AlreadyExists);
                assert_eq!(errors[0].what, "u1");
            }
            other => panic!("{other:?}"),
        }
        let denied = tonic::Status::permission_denied("not primary");
        assert!(matches!(
            write_error(denied, 3, 1, |_| String::new()),
            P4rtError::NotPrimary { device_id: 3, .. }
        ));
        let plain = tonic::Status::unavailable("gone");
        assert!(matches!(
            write_error(plain, 3, 1, |_| String::new()),
            P4rtError::Rpc { .. }
        ));
    }
}
