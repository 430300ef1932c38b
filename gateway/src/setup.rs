//! `gateway init`: a gateway for an existing committee in one step. It writes a new key and a
//! configuration file (embedded SQLite ledger, a fresh admin token) into a directory, and pins
//! the gateway in the committee file under `[[gateways]]` so that the anchors started afterwards
//! accept its funding certificates and wallets find it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use flashmesh_core::{Committee, CommitteeError, GatewayInfo, KeyError, Keypair};
use flashmesh_wallet::{KeyFileError, write_key};

/// What `gateway init` is asked for.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The committee file to pin the gateway in (rewritten in place).
    pub committee_file: PathBuf,
    /// The directory for the key, the configuration and the ledger file.
    pub out: PathBuf,
    pub name: String,
    /// UDP address for withdrawal certificates (also written to the committee file).
    pub listen: SocketAddr,
    /// HTTP address of `/status`, `/metrics` and `POST /deposits`.
    pub admin: SocketAddr,
}

/// What `gateway init` wrote.
#[derive(Debug, Clone)]
pub struct InitResult {
    pub config_file: PathBuf,
    pub key_file: PathBuf,
    pub admin_token: String,
    pub gateway: GatewayInfo,
}

/// Why the gateway could not be set up; nothing is written to the committee file then.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Committee {
        path: PathBuf,
        source: CommitteeError,
    },
    #[error("{0} already exists; choose another --out")]
    Exists(PathBuf),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InitError + '_ {
    move |source| InitError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The configuration file text (paths relative to the file's directory, except the committee
/// file, which is given as found).
pub fn config_text(o: &InitOptions, committee_file: &Path, token: &str) -> String {
    format!(
        "name = {name:?}\nkey_file = \"gateway.key\"\ncommittee_file = {committee:?}\n\
         listen = \"{listen}\"\nadmin = \"{admin}\"\nadmin_token = \"{token}\"\nepoch = 0\n\n\
         [ledger]\nkind = \"sqlite\"\npath = \"ledger.sqlite\"\n",
        name = o.name,
        committee = committee_file.display().to_string(),
        listen = o.listen,
        admin = o.admin,
    )
}

/// Sets the gateway up (see the module documentation).
pub fn init(o: &InitOptions) -> Result<InitResult, InitError> {
    let config_file = o.out.join("gateway.toml");
    if config_file.exists() {
        return Err(InitError::Exists(config_file));
    }
    let text = std::fs::read_to_string(&o.committee_file).map_err(io(&o.committee_file))?;
    let committee_err = |source| InitError::Committee {
        path: o.committee_file.clone(),
        source,
    };
    let committee = Committee::from_toml(&text).map_err(committee_err)?;
    let key = Keypair::generate()?;
    let gateway = GatewayInfo {
        name: o.name.clone(),
        public_key: key.public(),
        address: o.listen.to_string(),
    };
    let mut gateways = committee.gateways().to_vec();
    gateways.push(gateway.clone());
    let pinned = committee.with_gateways(gateways).map_err(committee_err)?;

    std::fs::create_dir_all(&o.out).map_err(io(&o.out))?;
    let key_file = o.out.join("gateway.key");
    write_key(&key_file, &key)?;
    let committee_path = std::fs::canonicalize(&o.committee_file).map_err(io(&o.committee_file))?;
    let admin_token = flashmesh_core::host::token::fresh()?;
    std::fs::write(&config_file, config_text(o, &committee_path, &admin_token))
        .map_err(io(&config_file))?;
    std::fs::write(&o.committee_file, pinned.to_toml()).map_err(io(&o.committee_file))?;
    Ok(InitResult {
        config_file,
        key_file,
        admin_token,
        gateway,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{GatewayConfig, LedgerConfig};

    fn committee_file(dir: &Path) -> PathBuf {
        let c = flashmesh_core::testing::committee_of(
            &flashmesh_core::testing::authority_keys(4, 1),
            47474,
        );
        let p = dir.join("committee.toml");
        std::fs::write(&p, c.to_toml()).unwrap();
        p
    }

    fn options(dir: &Path, name: &str) -> InitOptions {
        InitOptions {
            committee_file: dir.join("committee.toml"),
            out: dir.join(name),
            name: name.into(),
            listen: "127.0.0.1:47480".parse().unwrap(),
            admin: "127.0.0.1:9480".parse().unwrap(),
        }
    }

    #[test]
    fn pins_the_gateway_and_writes_a_config_that_loads() {
        let dir = tempfile::tempdir().unwrap();
        let file = committee_file(dir.path());
        let r = init(&options(dir.path(), "gw")).unwrap();
        let c = Committee::from_toml(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(c.gateways(), std::slice::from_ref(&r.gateway));
        let cfg = GatewayConfig::load(&r.config_file).unwrap();
        assert_eq!(cfg.key_file, r.key_file);
        assert_eq!(
            std::fs::canonicalize(&cfg.committee_file).unwrap(),
            std::fs::canonicalize(&file).unwrap()
        );
        assert_eq!(cfg.admin_token.as_deref(), Some(r.admin_token.as_str()));
        assert!(matches!(cfg.ledger, LedgerConfig::Sqlite { .. }));
        let key = flashmesh_wallet::read_key(&r.key_file).unwrap();
        assert_eq!(key.public(), r.gateway.public_key);
    }

    #[test]
    fn a_second_gateway_of_the_same_name_is_refused_and_nothing_changes() {
        let dir = tempfile::tempdir().unwrap();
        let file = committee_file(dir.path());
        init(&options(dir.path(), "gw")).unwrap();
        let before = std::fs::read_to_string(&file).unwrap();
        let mut again = options(dir.path(), "gw");
        again.out = dir.path().join("elsewhere");
        assert!(matches!(init(&again), Err(InitError::Committee { .. })));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
        assert!(!dir.path().join("elsewhere").exists());
        // The same directory twice is refused before anything is read.
        assert!(matches!(
            init(&options(dir.path(), "gw")),
            Err(InitError::Exists(_))
        ));
    }
}
