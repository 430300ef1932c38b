//! The link-emulation config file (`--link-config FILE`, TOML) and `--link` options, turned
//! into the same control commands that can be sent at run time.
//!
//! ```toml
//! seed = 42                       # link randomness (optional)
//! queue_depth = 64                # every queue of every port (BMv2 set_queue_depth)
//! queue_rate_pps = 3000           # every queue of every port (BMv2 set_queue_rate)
//!
//! [[queue]]                       # one port, one queue or all its queues
//! port = 2
//! priority = 7                    # optional
//! depth = 128                     # optional
//! rate_pps = 1000                 # optional, 0 = unlimited
//!
//! [[link]]                        # link emulation on an egress port
//! port = 2
//! delay_ms = 10.0
//! jitter_ms = 2.0
//! loss = 0.01
//! rate_pps = 5000                 # shared by the port's queues, strict priority
//! rate_bps = 2_000_000
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::control::Command;
use crate::link::{LinkError, LinkParams};

/// One `[[queue]]` table.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QueueEntry {
    /// Egress port.
    pub port: u32,
    /// One queue, or all queues of the port.
    pub priority: Option<u8>,
    /// Depth in packets.
    pub depth: Option<usize>,
    /// Rate in packets/s (0: unlimited).
    pub rate_pps: Option<f64>,
}

/// One `[[link]]` table.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkEntry {
    /// Egress port.
    pub port: u32,
    /// Delay, ms.
    #[serde(default)]
    pub delay_ms: f64,
    /// Jitter, ± ms.
    #[serde(default)]
    pub jitter_ms: f64,
    /// Loss probability.
    #[serde(default)]
    pub loss: f64,
    /// Shared rate, packets/s.
    pub rate_pps: Option<f64>,
    /// Shared rate, bits/s.
    pub rate_bps: Option<f64>,
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkConfig {
    /// Seed of link randomness.
    pub seed: Option<u64>,
    /// Depth of every queue.
    pub queue_depth: Option<usize>,
    /// Rate of every queue, packets/s.
    pub queue_rate_pps: Option<f64>,
    /// Per-port queue settings.
    #[serde(default, rename = "queue")]
    pub queues: Vec<QueueEntry>,
    /// Per-port links.
    #[serde(default, rename = "link")]
    pub links: Vec<LinkEntry>,
}

/// A config that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// File.
        path: String,
        /// OS error.
        source: std::io::Error,
    },
    /// Not valid TOML for this schema.
    #[error("{path}: {source}")]
    Parse {
        /// File.
        path: String,
        /// Parser error.
        source: toml::de::Error,
    },
    /// A value out of range.
    #[error("{0}")]
    Invalid(String),
    /// Bad link parameters.
    #[error(transparent)]
    Link(#[from] LinkError),
}

fn rate(v: Option<f64>) -> Result<Option<f64>, ConfigError> {
    match v {
        Some(r) if !r.is_finite() || r < 0.0 => Err(ConfigError::Invalid(format!("bad rate {r}"))),
        Some(r) => Ok((r > 0.0).then_some(r)),
        None => Ok(None),
    }
}

impl LinkConfig {
    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: p.clone(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse { path: p, source })
    }

    /// The commands that establish this configuration, in order.
    pub fn commands(&self) -> Result<Vec<Command>, ConfigError> {
        let mut cmds = Vec::new();
        if let Some(depth) = self.queue_depth {
            cmds.push(Command::SetQueueDepth {
                depth,
                port: None,
                priority: None,
            });
        }
        if self.queue_rate_pps.is_some() {
            cmds.push(Command::SetQueueRate {
                pps: rate(self.queue_rate_pps)?,
                port: None,
                priority: None,
            });
        }
        for q in &self.queues {
            if q.priority
                .is_some_and(|p| usize::from(p) >= crate::tm::MAX_PRIORITY_QUEUES)
            {
                return Err(ConfigError::Invalid(format!(
                    "queue priority {:?} out of range",
                    q.priority
                )));
            }
            if let Some(depth) = q.depth {
                cmds.push(Command::SetQueueDepth {
                    depth,
                    port: Some(q.port),
                    priority: q.priority,
                });
            }
            if q.rate_pps.is_some() {
                cmds.push(Command::SetQueueRate {
                    pps: rate(q.rate_pps)?,
                    port: Some(q.port),
                    priority: q.priority,
                });
            }
        }
        for l in &self.links {
            let params = LinkParams {
                delay_ms: l.delay_ms,
                jitter_ms: l.jitter_ms,
                loss: l.loss,
                rate_pps: rate(l.rate_pps)?,
                rate_bps: rate(l.rate_bps)?,
            };
            params.validate()?;
            cmds.push(Command::SetLink {
                port: l.port,
                params,
            });
        }
        Ok(cmds)
    }
}

/// Parses a `--link PORT:DELAY_MS:JITTER_MS:LOSS[:RATE_PPS[:RATE_BPS]]` value.
pub fn parse_link_option(s: &str) -> Result<Command, crate::control::CommandError> {
    crate::control::parse(&format!("set_link {}", s.replace(':', " ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_becomes_commands() {
        let cfg: LinkConfig = toml::from_str(
            r#"
            seed = 9
            queue_depth = 32
            [[queue]]
            port = 2
            priority = 1
            rate_pps = 3000
            [[link]]
            port = 2
            delay_ms = 10
            loss = 0.1
            rate_pps = 500
            "#,
        )
        .unwrap();
        let cmds = cfg.commands().unwrap();
        assert_eq!(cmds.len(), 3);
        assert_eq!(
            cmds[0],
            Command::SetQueueDepth {
                depth: 32,
                port: None,
                priority: None
            }
        );
        assert_eq!(
            cmds[1],
            Command::SetQueueRate {
                pps: Some(3000.0),
                port: Some(2),
                priority: Some(1)
            }
        );
        let Command::SetLink { port: 2, params } = &cmds[2] else {
            panic!()
        };
        assert_eq!(params.delay_ms, 10.0);
        assert_eq!(params.rate_pps, Some(500.0));
    }

    #[test]
    fn bad_config_is_an_error() {
        assert!(toml::from_str::<LinkConfig>("[[link]]\nport = 1\ndelay = 3\n").is_err());
        let cfg: LinkConfig = toml::from_str("[[link]]\nport = 1\nloss = 2.0\n").unwrap();
        assert!(cfg.commands().is_err());
        let cfg: LinkConfig = toml::from_str("[[queue]]\nport = 1\npriority = 9\n").unwrap();
        assert!(cfg.commands().is_err());
        assert!(LinkConfig::load(Path::new("/nonexistent/x.toml")).is_err());
    }

    #[test]
    fn example_file_is_valid() {
        let cfg: LinkConfig = toml::from_str(include_str!("../examples/links.toml")).unwrap();
        assert_eq!(cfg.seed, Some(42));
        let cmds = cfg.commands().unwrap();
        assert_eq!(cmds.len(), 3);
        assert!(matches!(cmds[2], Command::SetLink { port: 2, .. }));
    }

    #[test]
    fn link_option_parses() {
        let cmd = parse_link_option("3:20:5:0.02:1000").unwrap();
        let Command::SetLink { port: 3, params } = cmd else {
            panic!()
        };
        assert_eq!(
            (params.delay_ms, params.jitter_ms, params.loss),
            (20.0, 5.0, 0.02)
        );
        assert!(parse_link_option("3:20").is_err());
    }
}
