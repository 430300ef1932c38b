//! The ledger's typed errors.

/// Why a ledger call failed. A failed call changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The key (certificate digest or external reference) is already recorded with other
    /// fields: a bug or a forgery upstream, never retried.
    #[error("{kind} {key} is already recorded with a different {field}")]
    Conflict {
        /// "withdrawal" or "deposit".
        kind: &'static str,
        /// The key, in hex (digest) or as recorded (reference, lossy UTF-8).
        key: String,
        /// The first field that differs.
        field: &'static str,
    },
    /// The request is out of range; nothing was recorded.
    #[error("invalid request: {0}")]
    Invalid(&'static str),
    /// A row read from the database does not decode: the database was changed by hand or is
    /// damaged.
    #[error("corrupt ledger row: {0}")]
    Corrupt(String),
    /// The database cannot serve as a ledger as it is set up (e.g. no WAL on a SQLite file).
    #[error("ledger set-up: {0}")]
    Setup(String),
    /// A sum does not fit its type.
    #[error("overflow: {0}")]
    Overflow(&'static str),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),
}
