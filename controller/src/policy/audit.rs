//! The persisted policy audit log: one JSON object per line, appended for every bundle accepted
//! or refused. Records are built purely; only [`AuditLog`] touches the file.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::bundle::PolicyBundle;
use super::digest::body_digest;
use super::verify::PolicyRefusal;

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Unix seconds when the decision was taken.
    pub at: u64,
    /// "accepted", "refused" or "rolled_back".
    pub outcome: String,
    /// Refusal kind, empty when accepted.
    pub reason: String,
    /// Human-readable detail.
    pub detail: String,
    /// The bundle's version.
    pub version: u64,
    /// The bundle body digest, hex.
    pub digest: String,
    /// Keys that signed it (as claimed in the bundle).
    pub signers: Vec<String>,
    /// The whole bundle, kept for accepted ones so that a restart can restore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<PolicyBundle>,
}

impl AuditRecord {
    fn base(bundle: &PolicyBundle, now: u64) -> Self {
        Self {
            at: now,
            outcome: String::new(),
            reason: String::new(),
            detail: String::new(),
            version: bundle.body.version,
            digest: body_digest(&bundle.body).to_hex(),
            signers: bundle.signatures.iter().map(|s| s.key.clone()).collect(),
            bundle: None,
        }
    }

    /// A record of an accepted bundle.
    pub fn accepted(bundle: &PolicyBundle, now: u64) -> Self {
        Self {
            outcome: "accepted".into(),
            detail: format!("version {} in force", bundle.body.version),
            bundle: Some(bundle.clone()),
            ..Self::base(bundle, now)
        }
    }

    /// A record of a refused bundle.
    pub fn refused(bundle: &PolicyBundle, refusal: &PolicyRefusal, now: u64) -> Self {
        Self {
            outcome: "refused".into(),
            reason: refusal.kind().into(),
            detail: refusal.to_string(),
            ..Self::base(bundle, now)
        }
    }

    /// A record of a verified bundle whose writes failed and were undone.
    pub fn rolled_back(bundle: &PolicyBundle, error: &str, now: u64) -> Self {
        Self {
            outcome: "rolled_back".into(),
            reason: "write_failed".into(),
            detail: error.into(),
            ..Self::base(bundle, now)
        }
    }
}

/// An append-only JSON-lines file.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    /// The log at `path` (created on first append).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Where the log lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and syncs it to disk.
    pub fn append(&self, rec: &AuditRecord) -> std::io::Result<()> {
        let mut line = serde_json::to_string(rec).map_err(std::io::Error::other)?;
        line.push('\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        f.write_all(line.as_bytes())?;
        f.sync_data()
    }

    /// All records so far; lines that do not parse are skipped and counted.
    pub fn read_all(&self) -> std::io::Result<(Vec<AuditRecord>, usize)> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(e) => return Err(e),
        };
        let mut bad = 0;
        let mut recs = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str(line) {
                Ok(r) => recs.push(r),
                Err(_) => bad += 1,
            }
        }
        Ok((recs, bad))
    }

    /// The last accepted record (with its bundle), to restore the policy after a restart.
    pub fn last_accepted(&self) -> std::io::Result<Option<AuditRecord>> {
        let (recs, _) = self.read_all()?;
        Ok(recs
            .into_iter()
            .filter(|r| r.outcome == "accepted")
            .max_by_key(|r| r.version))
    }

    /// The highest accepted version in the log, to restore the replay floor after a restart.
    pub fn last_accepted_version(&self) -> std::io::Result<Option<u64>> {
        let (recs, _) = self.read_all()?;
        Ok(recs
            .iter()
            .filter(|r| r.outcome == "accepted")
            .map(|r| r.version)
            .max())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        assert_eq!(log.last_accepted_version().unwrap(), None);
        let b = PolicyBundle::new(4, 100, Default::default());
        log.append(&AuditRecord::accepted(&b, 1)).unwrap();
        log.append(&AuditRecord::refused(&b, &PolicyRefusal::Unsigned, 2))
            .unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(b"garbage\n")
            .unwrap();
        let (recs, bad) = log.read_all().unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(bad, 1);
        assert_eq!(recs[1].reason, "unsigned");
        assert_eq!(log.last_accepted_version().unwrap(), Some(4));
        assert_eq!(log.last_accepted().unwrap().unwrap().bundle, Some(b));
    }
}
