//! The wallet's data directory: its next nonce, the pending payment and the history.
//!
//! The pending order is written (atomically: temporary file, fsync, rename, fsync of the
//! directory) before the order is first sent, and the certificate as soon as it is assembled.
//! With them goes the payment's retry numbering, made durable before each copy of the order or
//! the certificate is sent, so that any later attempt continues it. A wallet restarted
//! mid-payment finds them and finishes that same payment; it never signs another order for a
//! nonce it already signed.

use std::io::Write;
use std::path::{Path, PathBuf};

use flashmesh_core::codec::{Decode, Encode};
use flashmesh_core::messages::{Certificate, SignedOrder};
use serde::{Deserialize, Serialize};

use crate::retry::Retries;

const STATE_FILE: &str = "wallet.json";
const HISTORY_FILE: &str = "history.jsonl";

/// Errors of the wallet's files.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file could not be read or written.
    #[error("wallet file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file's content is invalid.
    #[error("wallet file {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A payment that was signed but is not finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The signed order, canonical encoding in hex.
    pub order: String,
    /// The certificate once assembled, canonical encoding in hex.
    #[serde(default)]
    pub certificate: Option<String>,
    /// Retry numbers used so far by the order's and the certificate's copies.
    #[serde(default)]
    pub retries: Retries,
}

impl Pending {
    /// A pending payment for `order`.
    pub fn new(order: &SignedOrder) -> Self {
        Self {
            order: hex::encode(order.to_bytes()),
            certificate: None,
            retries: Retries::default(),
        }
    }

    /// The signed order.
    pub fn order(&self) -> Result<SignedOrder, String> {
        let bytes = hex::decode(&self.order).map_err(|e| e.to_string())?;
        SignedOrder::from_bytes(&bytes).map_err(|e| e.to_string())
    }

    /// The certificate, if assembled.
    pub fn certificate(&self) -> Result<Option<Certificate>, String> {
        let Some(hex_text) = &self.certificate else {
            return Ok(None);
        };
        let bytes = hex::decode(hex_text).map_err(|e| e.to_string())?;
        Certificate::from_bytes(&bytes)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

/// What `wallet.json` holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletState {
    /// The account's next nonce, once known.
    #[serde(default)]
    pub next_nonce: Option<u64>,
    /// The unfinished payment.
    #[serde(default)]
    pub pending: Option<Pending>,
}

/// One finished payment, a line of `history.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Milliseconds since the Unix epoch when the payment finished.
    pub finished_unix_ms: u64,
    /// Recipient public key (hex).
    pub recipient: String,
    /// Token.
    pub token: u32,
    /// Amount.
    pub amount: u64,
    /// Nonce used.
    pub nonce: u64,
    /// Certificate digest (hex).
    pub certificate: String,
    /// Finality latency in milliseconds (first ORDER to a quorum of receipts).
    pub finality_ms: f64,
}

/// The wallet's data directory.
#[derive(Debug, Clone)]
pub struct WalletDir {
    dir: PathBuf,
}

impl WalletDir {
    /// Uses (and creates) `dir`.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        std::fs::create_dir_all(dir).map_err(|source| StateError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Loads the state (default when absent).
    pub fn load(&self) -> Result<WalletState, StateError> {
        let path = self.dir.join(STATE_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
                path,
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(WalletState::default()),
            Err(source) => Err(StateError::Io { path, source }),
        }
    }

    /// Durably replaces the state.
    pub fn save(&self, state: &WalletState) -> Result<(), StateError> {
        self.write(state, true)
    }

    /// Replaces the state atomically but without waiting for the disk: for facts that can be
    /// rebuilt if lost (an assembled certificate can be assembled again from the same votes).
    pub fn save_relaxed(&self, state: &WalletState) -> Result<(), StateError> {
        self.write(state, false)
    }

    fn write(&self, state: &WalletState, durable: bool) -> Result<(), StateError> {
        let path = self.dir.join(STATE_FILE);
        let tmp = self.dir.join(format!("{STATE_FILE}.tmp"));
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| StateError::Io { path: p, source }
        };
        let text = serde_json::to_string_pretty(state).expect("wallet state serialises");
        {
            let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(text.as_bytes()).map_err(io(&tmp))?;
            if durable {
                f.sync_all().map_err(io(&tmp))?;
            }
        }
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        if durable && let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Appends a finished payment to the history.
    pub fn append_history(&self, entry: &HistoryEntry) -> Result<(), StateError> {
        let path = self.dir.join(HISTORY_FILE);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| StateError::Io {
                path: path.clone(),
                source,
            })?;
        let line = serde_json::to_string(entry).expect("history entry serialises");
        writeln!(f, "{line}").map_err(|source| StateError::Io { path, source })
    }

    /// Every finished payment, oldest first. Unreadable lines are skipped.
    pub fn history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        let path = self.dir.join(HISTORY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(text
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(StateError::Io { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashmesh_core::keys::Keypair;
    use flashmesh_core::messages::TransferOrder;

    fn order() -> SignedOrder {
        let k = Keypair::from_seed(&[1; 32]);
        let to = Keypair::from_seed(&[2; 32]).public();
        SignedOrder::sign(
            TransferOrder {
                sender: k.public(),
                recipient: to,
                token: 0,
                amount: 5,
                nonce: 3,
                epoch: 0,
                ttl: 8,
            },
            &k,
        )
    }

    #[test]
    fn pending_order_survives_reload() {
        let dir = tempfile::tempdir().unwrap();
        let w = WalletDir::open(dir.path()).unwrap();
        assert_eq!(w.load().unwrap(), WalletState::default());
        let o = order();
        let state = WalletState {
            next_nonce: Some(3),
            pending: Some(Pending::new(&o)),
        };
        w.save(&state).unwrap();
        let back = WalletDir::open(dir.path()).unwrap().load().unwrap();
        assert_eq!(back, state);
        assert_eq!(back.pending.unwrap().order().unwrap(), o);
        // A file written before retry counts were kept reads with none used.
        std::fs::write(
            dir.path().join(STATE_FILE),
            format!(
                r#"{{"next_nonce":3,"pending":{{"order":"{}"}}}}"#,
                hex::encode(o.to_bytes())
            ),
        )
        .unwrap();
        assert_eq!(w.load().unwrap(), state);
    }

    #[test]
    fn corrupt_state_is_an_error_and_history_appends() {
        let dir = tempfile::tempdir().unwrap();
        let w = WalletDir::open(dir.path()).unwrap();
        std::fs::write(dir.path().join(STATE_FILE), "{not json").unwrap();
        assert!(matches!(w.load(), Err(StateError::Corrupt { .. })));
        let e = HistoryEntry {
            finished_unix_ms: 1,
            recipient: "ab".into(),
            token: 0,
            amount: 2,
            nonce: 0,
            certificate: "cd".into(),
            finality_ms: 1.5,
        };
        w.append_history(&e).unwrap();
        w.append_history(&e).unwrap();
        assert_eq!(w.history().unwrap(), vec![e.clone(), e]);
    }
}
