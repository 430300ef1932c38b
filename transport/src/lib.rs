//! Datagram transports for BCB messages: the trait, UDP sockets, and later the in-process mesh.
