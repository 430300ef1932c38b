//! The few host services the binaries and tests share, kept apart from the pure protocol:
//! wall-clock Unix time, files readable by their owner only (key files), Prometheus text, and
//! constant-time bearer token checks.
//! Nothing in the state machine uses them; the epoch and every time are still passed in.

pub mod clock;
pub mod files;
pub mod prometheus;
pub mod token;
