//! The merchant anchor: FastPay authority, durable store, BCB UDP server and admin API.
