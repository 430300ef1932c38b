//! The P4Runtime client library: bytestrings, name-based entries, P4Info lookup, pipelines,
//! typed errors and sessions.

/// P4Runtime bytestrings: the codec shared with flash-switch.
pub use flashmesh_proto::bytestring as bytes;
pub mod derive;
pub mod error;
pub mod p4info;
pub mod pipeline;
pub mod session;
pub mod spec;

pub use error::{P4rtError, UpdateError};
pub use p4info::{P4InfoError, P4InfoIndex, P4InfoNames};
pub use pipeline::{Pipeline, TargetConfig};
pub use session::{Backoff, Mastership, PacketIn, PushOutcome, Session, SessionConfig};
pub use spec::{EntrySpec, EntryUpdate, FieldMatch, UpdateKind};
