//! P4Runtime client library and the Flash-Mesh SDN logic.
//!
//! * [`p4rt`]: the P4Runtime client: [`p4rt::Session`] (connect with retry and backoff,
//!   arbitration on the StreamChannel with primary/backup tracking and re-claim after a
//!   reconnect, pipeline reconciliation by cookie, name-based writes with per-update errors,
//!   wildcard reads of entries and counters, packet-out/in and digests by name), the name-based
//!   [`p4rt::P4InfoNames`] lookups and entry builders ([`p4rt::EntrySpec`]). Works against flash-switch
//!   (device config = P4 source) and BMv2 `simple_switch_grpc` (device config = p4c's JSON),
//!   chosen per switch by [`p4rt::TargetConfig`]. Never touches registers.
//! * [`sdn`]: pure SDN logic: topology, shortest-path routes with disjoint backups, the
//!   `flash_mesh.p4` entries, probe frames and the link monitor, penalties, metrics.
//! * [`policy`]: signed policy bundles (TOML/JSON), operator keys, verification against pinned
//!   keys with a threshold (typed refusals), and the append-only audit log.
//! * [`runtime`]: the running [`Controller`] that ties them together.
//!
//! # Embedding (what a merchant anchor does)
//!
//! ```text
//! let spec = ControllerConfig::from_toml(&text)?.into_spec()?;   // or build a ControllerSpec
//! let ctrl = Controller::start(spec).await?;                     // connect, arbitrate, reconcile
//! let epochs = ctrl.watch_epoch();                               // authority window follows it
//! ctrl.penalize(sender_tag, None).await?;                        // block for the policy's time
//! let verified = ctrl.apply_policy(&PolicyBundle::parse(&body)?).await?; // POST /policy
//! let (version, settings) = ctrl.policy().await;                 // GET /policy
//! let text = ctrl.metrics().await;                               // GET /metrics (Prometheus)
//! let mut events = ctrl.events();                                // link down/up, epochs, ...
//! ```
//!
//! Policy tooling (`flashmesh policy new|sign|verify`): [`policy::PolicyBundle::new`],
//! [`policy::OperatorKey::sign`], [`policy::PolicyVerifier::verify`],
//! [`policy::PolicyBundle::to_toml`] / [`policy::PolicyBundle::to_json`] /
//! [`policy::PolicyBundle::parse`].

pub mod p4rt;
pub mod policy;
pub mod runtime;
pub mod sdn;

pub use policy::{OperatorKey, PolicyBundle, PolicyRefusal, PolicySettings, PolicyVerifier};
pub use runtime::{
    Controller, ControllerConfig, ControllerEvent, ControllerSpec, PolicyError, StartError,
};
