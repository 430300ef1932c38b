//! Applying a set of desired entries to several switches as one change, undone on every switch
//! if any write fails: the entries in force before are written back.

use std::collections::BTreeMap;

use crate::p4rt::P4rtError;
use crate::p4rt::spec::{EntrySpec, EntryUpdate, diff};

/// Reads and writes entries of one node's switch.
pub trait EntryStore {
    /// The current entries of `tables` (and their default entries when `defaults` is true).
    fn read(
        &self,
        node: &str,
        tables: &[&str],
    ) -> impl std::future::Future<Output = Result<Vec<EntrySpec>, P4rtError>> + Send;
    /// Writes one batch.
    fn write(
        &self,
        node: &str,
        updates: &[EntryUpdate],
    ) -> impl std::future::Future<Output = Result<(), P4rtError>> + Send;
}

/// A change that failed and was undone.
#[derive(Debug, thiserror::Error)]
#[error("writing to {node} failed ({error}); {}", if *.rolled_back { "previous entries restored".to_string() } else { format!("restoring previous entries failed too: {}", .rollback_errors.join("; ")) })]
pub struct ApplyError {
    /// The node whose write failed.
    pub node: String,
    /// The write error.
    pub error: P4rtError,
    /// True when every touched switch is back to its previous entries.
    pub rolled_back: bool,
    /// Errors met while rolling back.
    pub rollback_errors: Vec<String>,
}

/// Makes the entries of `tables` on each node equal to `desired[node]` (default entries in
/// `desired` are written as modifies). On the first failure, every node already touched
/// (including the failing one) gets its previous entries back.
pub async fn apply_all<S: EntryStore>(
    store: &S,
    tables: &[&str],
    desired: &BTreeMap<String, Vec<EntrySpec>>,
) -> Result<usize, ApplyError> {
    let mut before: Vec<(String, Vec<EntrySpec>)> = Vec::new();
    let mut written = 0;
    for (node, want) in desired {
        let current = match store.read(node, tables).await {
            Ok(c) => c,
            Err(error) => {
                let (rolled_back, rollback_errors) = restore(store, tables, &before).await;
                return Err(ApplyError {
                    node: node.clone(),
                    error,
                    rolled_back,
                    rollback_errors,
                });
            }
        };
        let updates = diff(&current, want);
        before.push((node.clone(), current));
        if let Err(error) = store.write(node, &updates).await {
            let (rolled_back, rollback_errors) = restore(store, tables, &before).await;
            return Err(ApplyError {
                node: node.clone(),
                error,
                rolled_back,
                rollback_errors,
            });
        }
        written += updates.len();
    }
    Ok(written)
}

async fn restore<S: EntryStore>(
    store: &S,
    tables: &[&str],
    before: &[(String, Vec<EntrySpec>)],
) -> (bool, Vec<String>) {
    let mut errors = Vec::new();
    for (node, old) in before.iter().rev() {
        match store.read(node, tables).await {
            Ok(now) => {
                let back = diff(&now, old);
                if let Err(e) = store.write(node, &back).await {
                    errors.push(format!("{node}: {e}"));
                }
            }
            Err(e) => errors.push(format!("{node}: {e}")),
        }
    }
    (errors.is_empty(), errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::p4rt::spec::{FieldMatch, UpdateKind};
    use std::sync::Mutex;

    /// An in-memory store that fails the n-th write (counting from 0), applying updates before
    /// the failing one in that batch as a CONTINUE_ON_ERROR switch would.
    struct Fake {
        tables: Mutex<BTreeMap<String, Vec<EntrySpec>>>,
        writes: Mutex<usize>,
        fail_write: Option<usize>,
    }

    impl EntryStore for Fake {
        async fn read(&self, node: &str, _tables: &[&str]) -> Result<Vec<EntrySpec>, P4rtError> {
            Ok(self
                .tables
                .lock()
                .unwrap()
                .get(node)
                .cloned()
                .unwrap_or_default())
        }
        async fn write(&self, node: &str, updates: &[EntryUpdate]) -> Result<(), P4rtError> {
            let n = {
                let mut w = self.writes.lock().unwrap();
                *w += 1;
                *w - 1
            };
            let mut t = self.tables.lock().unwrap();
            let v = t.entry(node.to_string()).or_default();
            for (i, u) in updates.iter().enumerate() {
                if Some(n) == self.fail_write && i == updates.len() - 1 {
                    return Err(P4rtError::Batch {
                        total: updates.len(),
                        errors: vec![],
                    });
                }
                let k = u.entry.key();
                match u.kind {
                    UpdateKind::Insert => v.push(u.entry.clone()),
                    UpdateKind::Modify => {
                        v.retain(|e| e.key() != k);
                        v.push(u.entry.clone());
                    }
                    UpdateKind::Delete => v.retain(|e| e.key() != k),
                }
            }
            Ok(())
        }
    }

    fn e(k: u128, a: u128) -> EntrySpec {
        EntrySpec::new("T", "A")
            .matching("k", FieldMatch::exact(k))
            .param("a", a)
    }

    fn fake(fail_write: Option<usize>) -> Fake {
        let mut t = BTreeMap::new();
        t.insert("n1".to_string(), vec![e(1, 1), e(2, 2)]);
        t.insert("n2".to_string(), vec![e(1, 1), e(2, 2)]);
        Fake {
            tables: Mutex::new(t),
            writes: Mutex::new(0),
            fail_write,
        }
    }

    fn sorted(mut v: Vec<EntrySpec>) -> Vec<EntrySpec> {
        v.sort_by_key(|x| x.key());
        v
    }

    #[tokio::test]
    async fn applies_everywhere() {
        let f = fake(None);
        let mut want = BTreeMap::new();
        want.insert("n1".to_string(), vec![e(1, 5), e(3, 3)]);
        want.insert("n2".to_string(), vec![e(1, 5), e(3, 3)]);
        assert_eq!(apply_all(&f, &["T"], &want).await.unwrap(), 6);
        for n in ["n1", "n2"] {
            assert_eq!(
                sorted(f.tables.lock().unwrap()[n].clone()),
                sorted(vec![e(1, 5), e(3, 3)])
            );
        }
    }

    #[tokio::test]
    async fn a_failure_on_the_second_switch_restores_both() {
        let f = fake(Some(1)); // write 0 = n1 succeeds, write 1 = n2 fails half-way
        let mut want = BTreeMap::new();
        want.insert("n1".to_string(), vec![e(1, 5), e(3, 3)]);
        want.insert("n2".to_string(), vec![e(1, 5), e(3, 3)]);
        let err = apply_all(&f, &["T"], &want).await.unwrap_err();
        assert_eq!(err.node, "n2");
        assert!(err.rolled_back, "{err}");
        for n in ["n1", "n2"] {
            assert_eq!(
                sorted(f.tables.lock().unwrap()[n].clone()),
                sorted(vec![e(1, 1), e(2, 2)]),
                "{n}"
            );
        }
    }
}
