//! The P4_16 v1model engine: front end, checker, IR, interpreter and P4Info derivation.
