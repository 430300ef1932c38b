//! The policy bundle: what operators tell an anchor's controller, with a version, an expiry and
//! operator signatures. Encoded as TOML or JSON, for example:
//!
//! ```toml
//! [body]
//! version = 3
//! expires_at = 1800000000          # unix seconds
//! note = "spring tariffs"
//!
//! [body.settings]
//! retry_allowance = 2              # retransmissions let through per window
//! epoch_length_ms = 10000
//! probe_interval_ms = 10
//! probe_miss_count = 3             # misses before a link is down
//! penalty_secs = 60                # how long a penalised sender stays blocked
//! dedup_types = [1, 3]             # ORDER, CERTIFICATE through the duplicate filter
//!
//! [[body.settings.classes]]        # one per message type: class 0..2, queue priority 0..7
//! msg_type = 1
//! class = 0
//! priority = 7
//!
//! [[signatures]]                   # ed25519 over the domain-separated body digest
//! key = "8a88e3dd…"
//! signature = "e5fcd2ad…"
//! ```

use flashmesh_core::wire::{
    MSG_CERTIFICATE, MSG_DEPOSIT, MSG_HANDOFF, MSG_HANDOFF_CERTIFICATE, MSG_HEARTBEAT, MSG_ORDER,
    MSG_PAYMENT_DATA, MSG_PROBE, MSG_RECEIPT, MSG_SETTLEMENT, MSG_SYNC, MSG_VOTE, MSG_WITHDRAWAL,
    MSG_WITHDRAWAL_CERTIFICATE,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Class and queue priority for one FMH message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassRule {
    /// FMH `msg_type` (`flashmesh_core::wire::MsgType` number).
    pub msg_type: u8,
    /// Traffic class: 0 FastPay BCB, 1 payment data, 2 best effort.
    pub class: u8,
    /// Queue priority 0..=7 (7 is served first).
    pub priority: u8,
}

/// The settings a bundle carries: everything the controller is told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    /// Class and priority per message type.
    pub classes: Vec<ClassRule>,
    /// Retransmissions of one message allowed through within a window.
    pub retry_allowance: u8,
    /// Epoch length in milliseconds.
    pub epoch_length_ms: u64,
    /// Probe interval in milliseconds.
    pub probe_interval_ms: u64,
    /// Consecutive missed probes before a link is declared down.
    pub probe_miss_count: u32,
    /// How long a penalised sender stays blocked, in seconds.
    pub penalty_secs: u64,
    /// Message types put through the in-switch duplicate filter.
    pub dedup_types: Vec<u8>,
}

impl Default for PolicySettings {
    fn default() -> Self {
        let bcb = |t| ClassRule {
            msg_type: t,
            class: 0,
            priority: 7,
        };
        Self {
            classes: vec![
                bcb(MSG_ORDER),
                bcb(MSG_VOTE),
                bcb(MSG_CERTIFICATE),
                ClassRule {
                    msg_type: MSG_RECEIPT,
                    class: 1,
                    priority: 3,
                },
                ClassRule {
                    msg_type: MSG_PAYMENT_DATA,
                    class: 1,
                    priority: 3,
                },
                // link probes ride the top queue so congestion never fakes a link failure
                bcb(MSG_PROBE),
                // handoff, withdrawal and deposit settle like transfers
                bcb(MSG_HANDOFF),
                bcb(MSG_HANDOFF_CERTIFICATE),
                bcb(MSG_WITHDRAWAL),
                bcb(MSG_WITHDRAWAL_CERTIFICATE),
                bcb(MSG_DEPOSIT),
                ClassRule {
                    msg_type: MSG_SETTLEMENT,
                    class: 1,
                    priority: 3,
                },
                // heartbeats too, so congestion never fakes a partition
                bcb(MSG_HEARTBEAT),
                bcb(MSG_SYNC),
            ],
            retry_allowance: 2,
            epoch_length_ms: 10_000,
            probe_interval_ms: 10,
            probe_miss_count: 3,
            penalty_secs: 60,
            dedup_types: vec![
                MSG_ORDER,
                MSG_CERTIFICATE,
                MSG_HANDOFF,
                MSG_HANDOFF_CERTIFICATE,
                MSG_WITHDRAWAL,
                MSG_WITHDRAWAL_CERTIFICATE,
                MSG_DEPOSIT,
            ],
        }
    }
}

/// The signed part of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    /// Strictly increasing version.
    pub version: u64,
    /// Unix seconds after which the bundle is no longer accepted.
    pub expires_at: u64,
    /// Free-form note shown in the audit log.
    #[serde(default)]
    pub note: String,
    /// The settings.
    pub settings: PolicySettings,
}

/// One operator's signature over the body digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSignature {
    /// Operator public key, 32 bytes hex.
    pub key: String,
    /// ed25519 signature, 64 bytes hex.
    pub signature: String,
}

/// A policy bundle: a body and the operators' signatures over its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyBundle {
    /// What is signed.
    pub body: PolicyBody,
    /// Signatures, possibly none.
    #[serde(default)]
    pub signatures: Vec<OperatorSignature>,
}

/// A settings value that makes no sense.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SettingsError {
    /// Class outside 0..=2.
    #[error("message type {msg_type}: class {class} is not 0, 1 or 2")]
    BadClass {
        /// Message type.
        msg_type: u8,
        /// The class.
        class: u8,
    },
    /// Priority outside 0..=7.
    #[error("message type {msg_type}: priority {priority} is above 7")]
    BadPriority {
        /// Message type.
        msg_type: u8,
        /// The priority.
        priority: u8,
    },
    /// The same message type twice.
    #[error("message type {0} is classified twice")]
    DuplicateType(u8),
    /// A zero duration or count.
    #[error("{0} must be above zero")]
    Zero(&'static str),
}

impl PolicySettings {
    /// Checks the ranges of every value.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let mut seen = std::collections::BTreeSet::new();
        for r in &self.classes {
            if r.class > 2 {
                return Err(SettingsError::BadClass {
                    msg_type: r.msg_type,
                    class: r.class,
                });
            }
            if r.priority > 7 {
                return Err(SettingsError::BadPriority {
                    msg_type: r.msg_type,
                    priority: r.priority,
                });
            }
            if !seen.insert(r.msg_type) {
                return Err(SettingsError::DuplicateType(r.msg_type));
            }
        }
        if self.epoch_length_ms == 0 {
            return Err(SettingsError::Zero("epoch_length_ms"));
        }
        if self.probe_interval_ms == 0 {
            return Err(SettingsError::Zero("probe_interval_ms"));
        }
        if self.probe_miss_count == 0 {
            return Err(SettingsError::Zero("probe_miss_count"));
        }
        Ok(())
    }
}

/// A bundle that could not be decoded.
#[derive(Debug, Error)]
pub enum DecodeError {
    /// Bad TOML.
    #[error("policy bundle is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    /// Bad JSON.
    #[error("policy bundle is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl PolicyBundle {
    /// A new unsigned bundle.
    pub fn new(version: u64, expires_at: u64, settings: PolicySettings) -> Self {
        Self {
            body: PolicyBody {
                version,
                expires_at,
                note: String::new(),
                settings,
            },
            signatures: Vec::new(),
        }
    }

    /// The body digest operators sign, hex.
    pub fn digest_hex(&self) -> String {
        super::digest::body_digest(&self.body).to_hex()
    }

    /// TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("policy bundle always serialises")
    }

    /// JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("policy bundle always serialises")
    }

    /// Parses TOML.
    pub fn from_toml(s: &str) -> Result<Self, DecodeError> {
        Ok(toml::from_str(s)?)
    }

    /// Parses JSON.
    pub fn from_json(s: &str) -> Result<Self, DecodeError> {
        Ok(serde_json::from_str(s)?)
    }

    /// Parses JSON if the text starts with `{`, TOML otherwise.
    pub fn parse(s: &str) -> Result<Self, DecodeError> {
        if s.trim_start().starts_with('{') {
            Self::from_json(s)
        } else {
            Self::from_toml(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_and_json_round_trip() {
        let mut b = PolicyBundle::new(3, 2_000_000_000, PolicySettings::default());
        b.body.note = "spring".into();
        b.signatures.push(OperatorSignature {
            key: "00".repeat(32),
            signature: "11".repeat(64),
        });
        assert_eq!(PolicyBundle::parse(&b.to_toml()).unwrap(), b);
        assert_eq!(PolicyBundle::parse(&b.to_json()).unwrap(), b);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(PolicyBundle::parse("{ not json").is_err());
        assert!(PolicyBundle::parse("version = [").is_err());
        assert!(PolicyBundle::parse("[body]\nversion = 1\n").is_err());
    }

    #[test]
    fn settings_are_validated() {
        assert!(PolicySettings::default().validate().is_ok());
        let mut s = PolicySettings::default();
        s.classes[0].class = 3;
        assert!(matches!(s.validate(), Err(SettingsError::BadClass { .. })));
        let mut s = PolicySettings::default();
        s.classes[1].msg_type = s.classes[0].msg_type;
        assert_eq!(s.validate(), Err(SettingsError::DuplicateType(1)));
        let s = PolicySettings {
            probe_miss_count: 0,
            ..Default::default()
        };
        assert!(s.validate().is_err());
    }
}
