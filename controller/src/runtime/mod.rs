//! The controller at run time: configuration, multi-switch policy application with rollback,
//! and the running [`Controller`] with its epoch ticker, link monitor and penalties.

pub mod apply;
pub mod config;
pub mod controller;

pub use config::{ControllerConfig, ControllerSpec, SwitchSpec};
pub use controller::{Controller, ControllerEvent, LinkStatus, PolicyError, StartError};
