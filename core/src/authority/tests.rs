//! Tests of the authority state machine.
