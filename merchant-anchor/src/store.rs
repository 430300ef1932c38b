//! The anchor's durable store: an append-only journal of authority state changes in redb.
//!
//! Why redb rather than SQLite: the anchor only needs "append these records atomically and
//! durably" and "read them all back in order", which is a single ordered key-value table.
//! redb is a pure-Rust, copy-on-write B-tree store with ACID transactions whose commit is
//! durable (fsync, two-phase with checksummed roots) when it returns, and it recovers to the
//! last committed transaction after a crash or `kill -9` without a separate WAL replay step.
//! Being pure Rust it needs no C toolchain and adds no SQL layer to a hot path that is a plain
//! append. Durability cost is amortised by group commit (see `commit.rs`): one transaction,
//! one fsync, for every change produced while the previous transaction was being written.
//!
//! The journal is keyed by a dense sequence number starting at 0. Records are opaque bytes;
//! what they mean is decided by the authority state machine that produced them.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

const JOURNAL: TableDefinition<u64, &[u8]> = TableDefinition::new("journal");

/// File name of the database inside the anchor's data directory.
pub const DB_FILE: &str = "anchor.redb";

/// Errors from the durable store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The embedded database failed.
    #[error("database error: {0}")]
    Db(#[from] redb::Error),
}

impl StoreError {
    fn db(e: impl Into<redb::Error>) -> Self {
        Self::Db(e.into())
    }
}

/// The durable journal of one anchor.
#[derive(Debug)]
pub struct Store {
    db: Database,
    next_seq: u64,
}

impl Store {
    /// Opens (or creates) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let db = Database::create(data_dir.join(DB_FILE)).map_err(StoreError::db)?;
        // Make sure the table exists so readers never see "table does not exist".
        let txn = db.begin_write().map_err(StoreError::db)?;
        txn.open_table(JOURNAL).map_err(StoreError::db)?;
        txn.commit().map_err(StoreError::db)?;
        let next_seq = {
            let txn = db.begin_read().map_err(StoreError::db)?;
            let table = txn.open_table(JOURNAL).map_err(StoreError::db)?;
            match table.last().map_err(StoreError::db)? {
                Some((k, _)) => k.value() + 1,
                None => 0,
            }
        };
        Ok(Self { db, next_seq })
    }

    /// Number of records in the journal.
    pub fn len(&self) -> u64 {
        self.next_seq
    }

    /// Whether the journal is empty.
    pub fn is_empty(&self) -> bool {
        self.next_seq == 0
    }

    /// Reads every record, in the order it was appended.
    pub fn load(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(StoreError::db)?;
        let table = txn.open_table(JOURNAL).map_err(StoreError::db)?;
        let mut out = Vec::with_capacity(table.len().map_err(StoreError::db)? as usize);
        for entry in table.iter().map_err(StoreError::db)? {
            let (_, v) = entry.map_err(StoreError::db)?;
            out.push(v.value().to_vec());
        }
        Ok(out)
    }

    /// Appends `records` in one durable transaction: when this returns `Ok`, all of them are
    /// on disk; on `Err`, none of them are.
    pub fn append<R: AsRef<[u8]>>(&mut self, records: &[R]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(StoreError::db)?;
        {
            let mut table = txn.open_table(JOURNAL).map_err(StoreError::db)?;
            for (i, r) in records.iter().enumerate() {
                table
                    .insert(self.next_seq + i as u64, r.as_ref())
                    .map_err(StoreError::db)?;
            }
        }
        txn.commit().map_err(StoreError::db)?;
        self.next_seq += records.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen_in_order() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = Store::open(dir.path()).unwrap();
            assert!(s.is_empty());
            s.append(&[b"a".to_vec(), b"b".to_vec()]).unwrap();
            s.append(&[b"c".as_slice()]).unwrap();
            assert_eq!(s.len(), 3);
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(
            s.load().unwrap(),
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
    }

    #[test]
    fn empty_append_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        s.append::<Vec<u8>>(&[]).unwrap();
        assert!(s.load().unwrap().is_empty());
    }
}
