//! The gateway's configuration file (TOML, unknown fields refused):
//!
//! ```toml
//! name = "gw"
//! key_file = "gw.key"
//! committee_file = "committee.toml"   # must pin this gateway's key under [[gateways]]
//! listen = "127.0.0.1:47480"          # UDP: withdrawal certificates in, settlements out
//! admin = "127.0.0.1:9480"            # HTTP: /status, /metrics, POST /deposits
//! admin_token = "…"                   # bearer token for POST /deposits
//! epoch = 0
//! [ledger]
//! kind = "sqlite"                     # or "postgres" with conninfo = "host=… user=…"
//! path = "gw-ledger.sqlite"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Which primary ledger the gateway settles on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum LedgerConfig {
    /// An embedded SQLite file (relative paths are relative to the config file).
    Sqlite { path: PathBuf },
    /// A PostgreSQL server, by libpq connection string.
    Postgres { conninfo: String },
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    pub name: String,
    pub key_file: PathBuf,
    pub committee_file: PathBuf,
    pub listen: SocketAddr,
    #[serde(default)]
    pub admin: Option<SocketAddr>,
    #[serde(default)]
    pub admin_token: Option<String>,
    #[serde(default)]
    pub epoch: u32,
    pub ledger: LedgerConfig,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
}

impl GatewayConfig {
    /// Reads `path`; relative file names inside are made relative to its directory.
    pub fn load(path: &Path) -> Result<GatewayConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut c: GatewayConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut c.key_file);
        fix(&mut c.committee_file);
        if let LedgerConfig::Sqlite { path } = &mut c.ledger {
            fix(path);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_parses_and_unknown_fields_are_refused() {
        let good = r#"
name = "gw"
key_file = "gw.key"
committee_file = "committee.toml"
listen = "127.0.0.1:47480"
[ledger]
kind = "postgres"
conninfo = "host=/run/postgresql"
"#;
        let c: GatewayConfig = toml::from_str(good).unwrap();
        assert_eq!(
            c.ledger,
            LedgerConfig::Postgres {
                conninfo: "host=/run/postgresql".into()
            }
        );
        assert!(toml::from_str::<GatewayConfig>(&format!("{good}\nextra = 1")).is_err());
        let bad = good.replace("postgres", "oracle");
        assert!(toml::from_str::<GatewayConfig>(&bad).is_err());
    }
}
