//! The run-time control language: a line-based text protocol modelled on BMv2's runtime CLI.
//!
//! One command per line; every command gets exactly one reply line, `ok` (optionally followed by
//! data) or `error: <reason>`. Commands:
//!
//! ```text
//! set_queue_depth DEPTH [PORT [PRIORITY]]     # BMv2: packets per queue, each queue on its own
//! set_queue_rate  PPS   [PORT [PRIORITY]]     # BMv2: packets/s per queue, each queue on its own (0: unlimited)
//! set_link PORT DELAY_MS JITTER_MS LOSS [RATE_PPS [RATE_BPS]]
//!                                             # link emulation: delay, ±jitter, loss in [0,1],
//!                                             # shared port rate in strict priority order (0: unlimited)
//! show_link PORT                              # prints the port's link parameters as JSON
//! stats [PORT]                                # prints queue and link counters as JSON
//! help
//! ```
//!
//! This module only parses; [`crate::datapath::Shared::control`] applies commands, and
//! [`crate::control_server`] serves them on a TCP or Unix socket.

use crate::link::LinkParams;

/// A parsed control command.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// `set_queue_depth`.
    SetQueueDepth {
        /// Packets.
        depth: usize,
        /// Port, or every port.
        port: Option<u32>,
        /// Queue, or every queue of the port.
        priority: Option<u8>,
    },
    /// `set_queue_rate`.
    SetQueueRate {
        /// Packets per second; `None` removes the limit.
        pps: Option<f64>,
        /// Port, or every port.
        port: Option<u32>,
        /// Queue, or every queue of the port.
        priority: Option<u8>,
    },
    /// `set_link`.
    SetLink {
        /// Egress port.
        port: u32,
        /// The link's new parameters.
        params: LinkParams,
    },
    /// `show_link`.
    ShowLink {
        /// Egress port.
        port: u32,
    },
    /// `stats`.
    Stats {
        /// One port, or all.
        port: Option<u32>,
    },
    /// `help`.
    Help,
}

/// Text printed by `help`.
pub const HELP: &str = "commands: set_queue_depth DEPTH [PORT [PRIORITY]] | set_queue_rate PPS [PORT [PRIORITY]] | \
set_link PORT DELAY_MS JITTER_MS LOSS [RATE_PPS [RATE_BPS]] | show_link PORT | stats [PORT] | help";

/// A command line that could not be understood.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CommandError {
    /// The line was empty.
    #[error("empty command")]
    Empty,
    /// The command name is not known.
    #[error("unknown command {0:?} (try help)")]
    Unknown(String),
    /// Wrong number of arguments.
    #[error("usage: {0}")]
    Usage(&'static str),
    /// An argument is not a valid number.
    #[error("bad {what}: {value:?}")]
    BadValue {
        /// Which argument.
        what: &'static str,
        /// The text given.
        value: String,
    },
    /// Link parameters out of range.
    #[error(transparent)]
    Link(#[from] crate::link::LinkError),
}

fn num<T: std::str::FromStr>(what: &'static str, s: &str) -> Result<T, CommandError> {
    s.parse().map_err(|_| CommandError::BadValue {
        what,
        value: s.to_string(),
    })
}

fn rate(what: &'static str, s: &str) -> Result<Option<f64>, CommandError> {
    let v: f64 = num(what, s)?;
    if !v.is_finite() || v < 0.0 {
        return Err(CommandError::BadValue {
            what,
            value: s.to_string(),
        });
    }
    Ok((v > 0.0).then_some(v))
}

fn priority(s: &str) -> Result<u8, CommandError> {
    let p: u8 = num("priority", s)?;
    if usize::from(p) >= crate::tm::MAX_PRIORITY_QUEUES {
        return Err(CommandError::BadValue {
            what: "priority",
            value: s.to_string(),
        });
    }
    Ok(p)
}

/// Parses one command line.
pub fn parse(line: &str) -> Result<Command, CommandError> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some((&name, args)) = words.split_first() else {
        return Err(CommandError::Empty);
    };
    match name {
        "set_queue_depth" | "set_queue_rate" => {
            let usage = if name == "set_queue_depth" {
                "set_queue_depth DEPTH [PORT [PRIORITY]]"
            } else {
                "set_queue_rate PPS [PORT [PRIORITY]]"
            };
            if args.is_empty() || args.len() > 3 {
                return Err(CommandError::Usage(usage));
            }
            let port = args.get(1).map(|p| num("port", p)).transpose()?;
            let priority = args.get(2).map(|p| priority(p)).transpose()?;
            if name == "set_queue_depth" {
                Ok(Command::SetQueueDepth {
                    depth: num("depth", args[0])?,
                    port,
                    priority,
                })
            } else {
                Ok(Command::SetQueueRate {
                    pps: rate("rate", args[0])?,
                    port,
                    priority,
                })
            }
        }
        "set_link" => {
            if !(4..=6).contains(&args.len()) {
                return Err(CommandError::Usage(
                    "set_link PORT DELAY_MS JITTER_MS LOSS [RATE_PPS [RATE_BPS]]",
                ));
            }
            let params = LinkParams {
                delay_ms: num("delay_ms", args[1])?,
                jitter_ms: num("jitter_ms", args[2])?,
                loss: num("loss", args[3])?,
                rate_pps: args
                    .get(4)
                    .map(|r| rate("rate_pps", r))
                    .transpose()?
                    .flatten(),
                rate_bps: args
                    .get(5)
                    .map(|r| rate("rate_bps", r))
                    .transpose()?
                    .flatten(),
            };
            params.validate()?;
            Ok(Command::SetLink {
                port: num("port", args[0])?,
                params,
            })
        }
        "show_link" => match args {
            [port] => Ok(Command::ShowLink {
                port: num("port", port)?,
            }),
            _ => Err(CommandError::Usage("show_link PORT")),
        },
        "stats" => match args {
            [] => Ok(Command::Stats { port: None }),
            [port] => Ok(Command::Stats {
                port: Some(num("port", port)?),
            }),
            _ => Err(CommandError::Usage("stats [PORT]")),
        },
        "help" => Ok(Command::Help),
        other => Err(CommandError::Unknown(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bmv2_queue_commands() {
        assert_eq!(
            parse("set_queue_rate 3000 2 1").unwrap(),
            Command::SetQueueRate {
                pps: Some(3000.0),
                port: Some(2),
                priority: Some(1)
            }
        );
        assert_eq!(
            parse("set_queue_depth 16").unwrap(),
            Command::SetQueueDepth {
                depth: 16,
                port: None,
                priority: None
            }
        );
        assert_eq!(
            parse("  set_queue_rate 0 3 ").unwrap(),
            Command::SetQueueRate {
                pps: None,
                port: Some(3),
                priority: None
            }
        );
    }

    #[test]
    fn parses_set_link() {
        let cmd = parse("set_link 2 10 2.5 0.01 5000").unwrap();
        let Command::SetLink { port, params } = cmd else {
            panic!("{cmd:?}")
        };
        assert_eq!(port, 2);
        assert_eq!(params.delay_ms, 10.0);
        assert_eq!(params.jitter_ms, 2.5);
        assert_eq!(params.loss, 0.01);
        assert_eq!(params.rate_pps, Some(5000.0));
        assert_eq!(params.rate_bps, None);
    }

    #[test]
    fn rejects_bad_input_without_panicking() {
        assert_eq!(parse(""), Err(CommandError::Empty));
        assert!(matches!(parse("frobnicate"), Err(CommandError::Unknown(_))));
        assert!(matches!(
            parse("set_queue_rate"),
            Err(CommandError::Usage(_))
        ));
        assert!(matches!(
            parse("set_queue_rate x"),
            Err(CommandError::BadValue { .. })
        ));
        assert!(matches!(
            parse("set_queue_rate -5"),
            Err(CommandError::BadValue { .. })
        ));
        assert!(matches!(
            parse("set_queue_depth 5 1 8"),
            Err(CommandError::BadValue { .. })
        ));
        assert!(matches!(
            parse("set_link 1 10 0 2"),
            Err(CommandError::Link(_))
        ));
        assert!(matches!(
            parse("set_link 1 10 0"),
            Err(CommandError::Usage(_))
        ));
        assert!(matches!(parse("stats 1 2"), Err(CommandError::Usage(_))));
        assert_eq!(parse("stats 4").unwrap(), Command::Stats { port: Some(4) });
    }
}
