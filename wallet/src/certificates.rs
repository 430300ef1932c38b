//! The certificates of the wallet's own finished payments, kept so that an authority that
//! missed some (it was down, cut off, or dropped them) can be sent them and catch up.
//!
//! `certificates.log` in the data directory is append-only: each record is a u32 big-endian
//! length, the first 8 bytes of blake3 of the certificate's canonical encoding, then that
//! encoding; each append is flushed to disk. A record torn by a crash fails its length or its
//! checksum and ends the read there, so everything before it stays readable. Reads are bounded:
//! a record longer than a datagram is refused, and at most the asked-for number of
//! certificates is kept while scanning.

use std::io::{BufReader, Read, Write};

use flashmesh_core::codec::{Decode, Encode};
use flashmesh_core::digest::{DOMAIN_CERTIFICATE, Digest};
use flashmesh_core::messages::Certificate;
use flashmesh_core::wire::MAX_BODY_LEN;

use crate::state::{StateError, WalletDir};

const CERTIFICATES_FILE: &str = "certificates.log";

/// Where catch-up finds the wallet's own certificates.
pub trait CatchUp: Send + Sync {
    /// Certificates of this account with nonces `from` and up, in nonce order, at most `max`.
    fn certificates_from(&self, from: u64, max: usize) -> Vec<Certificate>;
}

/// No certificates: catch-up disabled.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCatchUp;

impl CatchUp for NoCatchUp {
    fn certificates_from(&self, _from: u64, _max: usize) -> Vec<Certificate> {
        Vec::new()
    }
}

fn checksum(bytes: &[u8]) -> [u8; 8] {
    let d = Digest::of(DOMAIN_CERTIFICATE, bytes);
    let mut c = [0u8; 8];
    c.copy_from_slice(&d.0[..8]);
    c
}

impl WalletDir {
    /// Appends a finished payment's certificate, durably.
    pub fn append_certificate(&self, certificate: &Certificate) -> Result<(), StateError> {
        let path = self.path().join(CERTIFICATES_FILE);
        let io = |source| StateError::Io {
            path: path.clone(),
            source,
        };
        let bytes = certificate.to_bytes();
        let mut record = Vec::with_capacity(12 + bytes.len());
        record.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        record.extend_from_slice(&checksum(&bytes));
        record.extend_from_slice(&bytes);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        f.write_all(&record).map_err(io)?;
        f.sync_data().map_err(io)
    }

    /// The kept certificates with nonces `from` and up, in nonce order (one per nonce), at
    /// most `max`. A torn or corrupt record ends the read.
    pub fn read_certificates(&self, from: u64, max: usize) -> Result<Vec<Certificate>, StateError> {
        let path = self.path().join(CERTIFICATES_FILE);
        let f = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(StateError::Io { path, source }),
        };
        let mut r = BufReader::new(f);
        let mut kept: std::collections::BTreeMap<u64, Certificate> = Default::default();
        let mut head = [0u8; 12];
        let mut body = Vec::new();
        while r.read_exact(&mut head).is_ok() {
            let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
            if len > MAX_BODY_LEN {
                break;
            }
            body.resize(len, 0);
            if r.read_exact(&mut body).is_err() || checksum(&body) != head[4..12] {
                break;
            }
            let Ok(c) = <Certificate>::from_bytes(&body) else {
                break;
            };
            let nonce = c.order.order().nonce;
            if nonce >= from {
                kept.entry(nonce).or_insert(c);
                if kept.len() > max {
                    kept.pop_last();
                }
            }
        }
        Ok(kept.into_values().collect())
    }
}

impl CatchUp for WalletDir {
    fn certificates_from(&self, from: u64, max: usize) -> Vec<Certificate> {
        self.read_certificates(from, max).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "certificates for catch-up unreadable");
            Vec::new()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashmesh_core::keys::Keypair;
    use flashmesh_core::messages::{SignedOrder, TransferOrder};

    fn cert(nonce: u64) -> Certificate {
        let k = Keypair::from_seed(&[3; 32]);
        let o = SignedOrder::sign(
            TransferOrder {
                sender: k.public(),
                recipient: k.public(),
                token: 0,
                amount: 1,
                nonce,
                epoch: 0,
                ttl: 1,
            },
            &k,
        );
        Certificate::new(o, [])
    }

    #[test]
    fn appends_reads_in_range_and_survives_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let w = WalletDir::open(dir.path()).unwrap();
        assert!(w.read_certificates(0, 10).unwrap().is_empty());
        for n in [0, 1, 2, 2, 3, 4] {
            w.append_certificate(&cert(n)).unwrap();
        }
        let nonces =
            |v: Vec<Certificate>| -> Vec<u64> { v.iter().map(|c| c.order.order().nonce).collect() };
        assert_eq!(nonces(w.read_certificates(1, 3).unwrap()), vec![1, 2, 3]);
        assert_eq!(nonces(w.read_certificates(4, 9).unwrap()), vec![4]);
        // a crash in the middle of an append
        let path = dir.path().join(CERTIFICATES_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let one = 12 + cert(5).to_bytes().len();
        bytes.extend_from_slice(&(one as u32).to_be_bytes());
        bytes.extend_from_slice(&[0xab; 20]);
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(
            nonces(w.read_certificates(0, 99).unwrap()),
            vec![0, 1, 2, 3, 4]
        );
        // a flipped byte ends the read at that record
        let mut bad = bytes.clone();
        bad[12 + 5] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert!(w.read_certificates(0, 99).unwrap().is_empty());
    }
}
