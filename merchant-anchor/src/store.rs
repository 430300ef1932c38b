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
//!
//! Bounded recovery: a snapshot of the authority's state (also opaque bytes) may be written
//! with the journal position it covers; in the same transaction the records before that
//! position are deleted. A restart then loads the snapshot and replays only the records after
//! it, so restart time follows the snapshot interval and the number of accounts, not history.
//! A snapshot may also reflect changes that are still queued for the journal (it is taken from
//! the live state): replaying a change already reflected is a no-op for the authority.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

const JOURNAL: TableDefinition<u64, &[u8]> = TableDefinition::new("journal");
/// One row: the journal position a snapshot covers → the snapshot.
const SNAPSHOT: TableDefinition<u64, &[u8]> = TableDefinition::new("snapshot");

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
    /// The journal position the snapshot covers (0: none).
    snapshot_at: u64,
}

/// What a restart starts from: the latest snapshot, if any, and the records after it.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The snapshot and the journal position it covers.
    pub snapshot: Option<(u64, Vec<u8>)>,
    /// The records after the snapshot (all of them without one), in order.
    pub records: Vec<Vec<u8>>,
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
        txn.open_table(SNAPSHOT).map_err(StoreError::db)?;
        txn.commit().map_err(StoreError::db)?;
        let (next_seq, snapshot_at) = {
            let txn = db.begin_read().map_err(StoreError::db)?;
            let snap = txn.open_table(SNAPSHOT).map_err(StoreError::db)?;
            let at = snap
                .last()
                .map_err(StoreError::db)?
                .map_or(0, |(k, _)| k.value());
            let table = txn.open_table(JOURNAL).map_err(StoreError::db)?;
            let next = match table.last().map_err(StoreError::db)? {
                Some((k, _)) => k.value() + 1,
                None => at,
            };
            (next, at)
        };
        Ok(Self {
            db,
            next_seq,
            snapshot_at,
        })
    }

    /// The journal position the latest snapshot covers (0 without one).
    pub fn snapshot_at(&self) -> u64 {
        self.snapshot_at
    }

    /// Records appended since the latest snapshot.
    pub fn since_snapshot(&self) -> u64 {
        self.next_seq - self.snapshot_at
    }

    /// Writes `snapshot` as covering the first `upto` records and deletes them, in one durable
    /// transaction (on `Err` nothing changed). `upto` may not pass the journal's end.
    pub fn write_snapshot(&mut self, upto: u64, snapshot: &[u8]) -> Result<(), StoreError> {
        let upto = upto.min(self.next_seq);
        let txn = self.db.begin_write().map_err(StoreError::db)?;
        {
            let mut snap = txn.open_table(SNAPSHOT).map_err(StoreError::db)?;
            snap.retain(|_, _| false).map_err(StoreError::db)?;
            snap.insert(upto, snapshot).map_err(StoreError::db)?;
            let mut journal = txn.open_table(JOURNAL).map_err(StoreError::db)?;
            journal
                .retain_in(..upto, |_, _| false)
                .map_err(StoreError::db)?;
        }
        txn.commit().map_err(StoreError::db)?;
        self.snapshot_at = upto;
        Ok(())
    }

    /// The latest snapshot and the records after it.
    pub fn recover(&self) -> Result<Recovered, StoreError> {
        let txn = self.db.begin_read().map_err(StoreError::db)?;
        let snap = txn.open_table(SNAPSHOT).map_err(StoreError::db)?;
        let snapshot = snap
            .last()
            .map_err(StoreError::db)?
            .map(|(k, v)| (k.value(), v.value().to_vec()));
        let from = snapshot.as_ref().map_or(0, |(at, _)| *at);
        let table = txn.open_table(JOURNAL).map_err(StoreError::db)?;
        let mut records = Vec::new();
        for entry in table.range(from..).map_err(StoreError::db)? {
            let (_, v) = entry.map_err(StoreError::db)?;
            records.push(v.value().to_vec());
        }
        Ok(Recovered { snapshot, records })
    }

    /// The journal's length: records ever appended (those a snapshot replaced included).
    pub fn len(&self) -> u64 {
        self.next_seq
    }

    /// Whether the journal is empty.
    pub fn is_empty(&self) -> bool {
        self.next_seq == 0
    }

    /// Reads every record still in the journal (after the snapshot), in the order appended.
    pub fn load(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self.recover()?.records)
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
    fn a_snapshot_replaces_the_records_it_covers_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = Store::open(dir.path()).unwrap();
            s.append(&[b"a".as_slice(), b"b", b"c"]).unwrap();
            s.write_snapshot(2, b"state after a, b").unwrap();
            s.append(&[b"d".as_slice()]).unwrap();
            assert_eq!(s.since_snapshot(), 2);
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!((s.len(), s.snapshot_at()), (4, 2));
        let r = s.recover().unwrap();
        assert_eq!(r.snapshot, Some((2, b"state after a, b".to_vec())));
        assert_eq!(r.records, vec![b"c".to_vec(), b"d".to_vec()]);
        assert_eq!(s.load().unwrap(), r.records, "the covered records are gone");
    }

    #[test]
    fn a_snapshot_of_everything_leaves_an_empty_journal_that_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = Store::open(dir.path()).unwrap();
            s.append(&[b"a".as_slice(), b"b"]).unwrap();
            s.write_snapshot(99, b"all").unwrap();
        }
        {
            let mut s = Store::open(dir.path()).unwrap();
            assert_eq!((s.len(), s.snapshot_at(), s.since_snapshot()), (2, 2, 0));
            s.append(&[b"c".as_slice()]).unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        let r = s.recover().unwrap();
        assert_eq!(r.snapshot.unwrap().0, 2);
        assert_eq!(r.records, vec![b"c".to_vec()]);
    }

    #[test]
    fn empty_append_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        s.append::<Vec<u8>>(&[]).unwrap();
        assert!(s.load().unwrap().is_empty());
    }
}
