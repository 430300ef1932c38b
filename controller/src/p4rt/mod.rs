//! The P4Runtime client library: bytestrings, name-based entries, P4Info lookup, sessions.

pub mod bytes;
pub mod spec;
