//! Writing a local committee to disk: committee file, genesis, one config and key per anchor,
//! one key per account. Used by `flashmesh committee init`, the demo and the tests.
//!
//! Layout of the output directory:
//!
//! ```text
//! committee.toml  genesis.toml
//! anchor-0/anchor.toml  anchor-0/anchor.key  (anchor-0/data/ once started)
//! ...
//! accounts/account-0.key ...
//! ```

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use flashmesh_core::host::files::{self, Existing};
use flashmesh_core::{AuthorityInfo, Committee, CommitteeError, Genesis, KeyError, Keypair};

use crate::config::{AnchorConfig, DEFAULT_BCB_PORT};

/// First admin port when ports are assigned from fixed bases.
pub const DEFAULT_ADMIN_BASE_PORT: u16 = 8474;

/// Errors writing a committee.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Key generation failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The committee is invalid (e.g. zero authorities).
    #[error(transparent)]
    Committee(#[from] CommitteeError),
}

/// How ports are chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ports {
    /// Anchor `i` gets BCB port `bcb + i` and admin port `admin + i`.
    Fixed {
        /// First BCB port.
        bcb: u16,
        /// First admin port.
        admin: u16,
    },
    /// Ports the operating system reports free right now (for tests and demos).
    Free,
    /// Anchor `i` gets BCB port `bcb[i]` (sockets the caller already bound, say) and an admin
    /// port chosen when it starts (port 0).
    Given {
        /// One BCB port per anchor.
        bcb: Vec<u16>,
    },
}

impl Default for Ports {
    fn default() -> Self {
        Ports::Fixed {
            bcb: DEFAULT_BCB_PORT,
            admin: DEFAULT_ADMIN_BASE_PORT,
        }
    }
}

/// What to write.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Number of authorities (weight 1 each).
    pub authorities: usize,
    /// Number of accounts.
    pub accounts: usize,
    /// Genesis balance of each account (default token).
    pub balance: u64,
    /// Address the anchors listen on.
    pub host: IpAddr,
    /// Port assignment.
    pub ports: Ports,
    /// Server workers per anchor (0 = one per core).
    pub workers: usize,
}

impl Default for InitOptions {
    fn default() -> Self {
        Self {
            authorities: 4,
            accounts: 8,
            balance: 1_000_000,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ports: Ports::default(),
            workers: 0,
        }
    }
}

/// A committee written to disk.
#[derive(Debug, Clone)]
pub struct LocalCommittee {
    /// The output directory.
    pub dir: PathBuf,
    /// The committee file.
    pub committee_file: PathBuf,
    /// The genesis file.
    pub genesis_file: PathBuf,
    /// The committee.
    pub committee: Committee,
    /// Each anchor's config file.
    pub anchor_config_files: Vec<PathBuf>,
    /// Each anchor's configuration (paths resolved).
    pub anchors: Vec<AnchorConfig>,
    /// Each anchor's key.
    pub anchor_keys: Vec<Keypair>,
    /// Each account's key file.
    pub account_key_files: Vec<PathBuf>,
    /// Each account's key.
    pub accounts: Vec<Keypair>,
}

fn write_file(path: &Path, text: &str, private: bool) -> Result<(), SetupError> {
    let io = |source| SetupError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut f = files::create(path, Existing::Replace, private).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

fn free_port_pair(host: IpAddr) -> Result<(u16, u16), SetupError> {
    let io = |source| SetupError::Io {
        path: PathBuf::from("<port probe>"),
        source,
    };
    let udp = std::net::UdpSocket::bind(SocketAddr::new(host, 0)).map_err(io)?;
    let tcp = std::net::TcpListener::bind(SocketAddr::new(host, 0)).map_err(io)?;
    Ok((
        udp.local_addr().map_err(io)?.port(),
        tcp.local_addr().map_err(io)?.port(),
    ))
}

/// Writes a committee of `opts.authorities` anchors and `opts.accounts` funded accounts to
/// `out`. Existing files there are overwritten.
pub fn init_committee(out: &Path, opts: &InitOptions) -> Result<LocalCommittee, SetupError> {
    let anchor_keys = (0..opts.authorities)
        .map(|_| Keypair::generate())
        .collect::<Result<Vec<_>, _>>()?;
    let accounts = (0..opts.accounts)
        .map(|_| Keypair::generate())
        .collect::<Result<Vec<_>, _>>()?;
    let mut infos = Vec::new();
    let mut anchors = Vec::new();
    let mut anchor_config_files = Vec::new();
    for (i, key) in anchor_keys.iter().enumerate() {
        let (bcb, admin) = match &opts.ports {
            Ports::Fixed { bcb, admin } => (bcb + i as u16, admin + i as u16),
            Ports::Free => free_port_pair(opts.host)?,
            Ports::Given { bcb } => (bcb.get(i).copied().unwrap_or(0), 0),
        };
        let name = format!("anchor-{i}");
        let listen = SocketAddr::new(opts.host, bcb);
        infos.push(AuthorityInfo {
            name: name.clone(),
            public_key: key.public(),
            weight: 1,
            address: listen.to_string(),
        });
        let cfg = AnchorConfig {
            name: name.clone(),
            listen,
            admin: SocketAddr::new(opts.host, admin),
            data_dir: "data".into(),
            key_file: "anchor.key".into(),
            committee_file: "../committee.toml".into(),
            genesis_file: "../genesis.toml".into(),
            admin_token: Some(flashmesh_core::host::token::fresh()?),
            workers: opts.workers,
            epoch: 0,
            controller: None,
            liveness: Default::default(),
            link_relay: None,
        };
        let anchor_dir = out.join(&name);
        let cfg_path = anchor_dir.join("anchor.toml");
        write_file(&cfg_path, &cfg.to_toml(), true)?;
        write_file(
            &anchor_dir.join("anchor.key"),
            &format!("{}\n", key.to_hex()),
            true,
        )?;
        let mut resolved = cfg;
        resolved.resolve_paths(&anchor_dir);
        anchors.push(resolved);
        anchor_config_files.push(cfg_path);
    }
    let committee = Committee::new(infos)?;
    let committee_file = out.join("committee.toml");
    write_file(&committee_file, &committee.to_toml(), false)?;
    let genesis = Genesis::uniform(accounts.iter().map(Keypair::public), opts.balance);
    let genesis_file = out.join("genesis.toml");
    write_file(&genesis_file, &genesis.to_toml(), false)?;
    let mut account_key_files = Vec::new();
    for (j, key) in accounts.iter().enumerate() {
        let path = out.join("accounts").join(format!("account-{j}.key"));
        write_file(&path, &format!("{}\n", key.to_hex()), true)?;
        account_key_files.push(path);
    }
    Ok(LocalCommittee {
        dir: out.to_path_buf(),
        committee_file,
        genesis_file,
        committee,
        anchor_config_files,
        anchors,
        anchor_keys,
        account_key_files,
        accounts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_loadable_committee() {
        let dir = tempfile::tempdir().unwrap();
        let opts = InitOptions {
            authorities: 3,
            accounts: 2,
            balance: 50,
            ports: Ports::Fixed {
                bcb: 5000,
                admin: 6000,
            },
            ..InitOptions::default()
        };
        let lc = init_committee(dir.path(), &opts).unwrap();
        assert_eq!(lc.committee.len(), 3);
        assert_eq!(lc.committee.quorum(), 3);
        let cfg = AnchorConfig::load(&lc.anchor_config_files[2]).unwrap();
        assert_eq!(cfg.listen.port(), 5002);
        assert_eq!(cfg.admin.port(), 6002);
        assert_eq!(cfg, lc.anchors[2]);
        let key = std::fs::read_to_string(&cfg.key_file).unwrap();
        assert_eq!(
            Keypair::from_hex(key.trim()).unwrap().public(),
            lc.anchor_keys[2].public()
        );
        let committee =
            Committee::from_toml(&std::fs::read_to_string(&cfg.committee_file).unwrap()).unwrap();
        assert_eq!(committee.members()[2].address(), "127.0.0.1:5002");
        let genesis =
            Genesis::from_toml(&std::fs::read_to_string(&cfg.genesis_file).unwrap()).unwrap();
        assert_eq!(genesis.balances.len(), 2);
        assert_eq!(genesis.balances[0].amount, 50);
        assert_eq!(lc.account_key_files.len(), 2);
    }
}
