//! Workspace integration tests: whole-system tests and P4 packet test vectors.
