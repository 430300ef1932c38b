//! Signed policy bundles: format, canonical digest, operator keys, verification, audit log.

pub mod audit;
pub mod bundle;
pub mod digest;
pub mod keys;
pub mod verify;

pub use audit::{AuditLog, AuditRecord};
pub use bundle::{ClassRule, PolicyBody, PolicyBundle, PolicySettings};
pub use keys::OperatorKey;
pub use verify::{PolicyRefusal, PolicyVerifier, VerifiedPolicy};
