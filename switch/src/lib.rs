//! flash-switch: a software P4Runtime target standing in for BMv2 simple_switch_grpc.
//!
//! * [`tm`]: the traffic manager (strict-priority queues, BMv2 queue depth/rate semantics,
//!   shared port rate);
//! * [`link`]: link emulation after egress (delay, jitter, loss);
//! * [`sched`]: one switch's queues and links together, changed by [`control`] commands;
//! * [`port`]: AF_PACKET and in-process ports;
//! * [`pipeline`]: what the datapath needs from a pipeline; [`datapath`]: the packet loop.

pub mod control;
pub mod datapath;
pub mod device;
pub mod engine;
pub mod link;
pub mod p4rt;
pub mod pipeline;
pub mod port;
pub mod sched;
pub mod tm;
