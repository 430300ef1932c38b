//! flash-switch: a software P4Runtime target standing in for BMv2 simple_switch_grpc.
//!
//! * [`tm`]: the traffic manager (strict-priority queues, BMv2 queue depth/rate semantics,
//!   shared port rate);
//! * [`link`]: link emulation after egress (delay, jitter, loss);
//! * [`sched`]: one switch's queues and links together, changed by [`control`] commands
//!   (served by [`control_server`], or read from a file by [`config`]);
//! * [`port`]: AF_PACKET and in-process ports;
//! * [`pipeline`]: what the datapath needs from a pipeline; [`engine`]: the P4 engine as one;
//!   [`datapath`]: the packet loop, one thread per port group;
//! * [`device`]: one switch as the P4Runtime service sees it; [`embed`]: many switches with
//!   in-process ports in one process;
//! * [`cli`]: the simple_switch_grpc-compatible command line; [`grpc`] starts the P4Runtime
//!   service ([`p4rt`]) for it;
//! * [`bench`], [`netns`], [`frames`]: the forwarding benchmark and its helpers (namespaces,
//!   veth pairs, UDP frames), also used by the namespace test.

pub mod bench;
pub mod cli;
pub mod config;
pub mod control;
pub mod control_server;
pub mod datapath;
pub mod device;
pub mod embed;
pub mod engine;
pub mod frames;
pub mod grpc;
pub mod link;
pub mod netns;
pub mod p4rt;
pub mod pipeline;
pub mod port;
pub mod sched;
pub mod tm;
