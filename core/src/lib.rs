//! Flash-Mesh core: identities, signatures, the BCB wire format, FastPay messages, committees and the authority state machine.
