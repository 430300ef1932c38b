//! Reading P4Runtime errors out of a gRPC status: a failed `Write` carries a
//! `google.rpc.Status` in the status details whose `details` hold one `p4.v1.Error`
//! per update, in request order.

use prost::Message;

use crate::google::rpc;
use crate::p4::v1::Error;

/// The per-update errors of a failed `Write`, or `None` when the status carries none
/// (or they do not decode).
pub fn write_errors(status: &tonic::Status) -> Option<Vec<Error>> {
    write_errors_from_details(status.details())
}

/// [`write_errors`] on the raw `grpc-status-details-bin` bytes.
pub fn write_errors_from_details(details: &[u8]) -> Option<Vec<Error>> {
    if details.is_empty() {
        return None;
    }
    let outer = rpc::Status::decode(details).ok()?;
    outer
        .details
        .iter()
        .map(|any| {
            any.type_url
                .ends_with("/p4.v1.Error")
                .then(|| Error::decode(any.value.as_slice()).ok())
                .flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_errors_in_order() {
        let errs = [
            Error {
                canonical_code: 0,
                ..Default::default()
            },
            Error {
                canonical_code: 6,
                message: "dup".into(),
                ..Default::default()
            },
        ];
        let outer = rpc::Status {
            code: 2,
            message: "Write failure".into(),
            details: errs
                .iter()
                .map(|e| prost_types::Any {
                    type_url: "type.googleapis.com/p4.v1.Error".into(),
                    value: e.encode_to_vec(),
                })
                .collect(),
        };
        let status =
            tonic::Status::with_details(tonic::Code::Unknown, "x", outer.encode_to_vec().into());
        assert_eq!(write_errors(&status).unwrap(), errs.to_vec());
        assert!(write_errors(&tonic::Status::unknown("no details")).is_none());
        assert!(write_errors_from_details(b"\xff\xff").is_none());
    }
}
