//! Digest delivery (P4Runtime §16): a digest is streamed only once the controller
//! configured it with a `DigestEntry`; data already sent and not yet acknowledged
//! (nor timed out) is not sent again; every list carries a fresh list id.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use flashmesh_proto::p4::v1::{
    DigestEntry, DigestList, P4Data, digest_entry::Config, p4_data, update::Type as UpdateType,
};

use super::status::P4rtError;

/// A digest's data as sent: (digest id, member values).
type DigestKey = (u32, Vec<Vec<u8>>);

/// Digest configurations and the lists awaiting an acknowledgement.
#[derive(Debug, Default)]
pub struct Digests {
    configs: BTreeMap<u32, Config>,
    /// (digest id, members) -> (list id, when sent).
    outstanding: HashMap<DigestKey, (u64, Instant)>,
    next_list_id: u64,
}

impl Digests {
    /// Applies a DigestEntry update; `known` tells whether the digest id exists.
    pub fn write(
        &mut self,
        kind: UpdateType,
        entry: &DigestEntry,
        known: bool,
    ) -> Result<(), P4rtError> {
        if !known {
            return Err(P4rtError::not_found(format!(
                "no digest with id {}",
                entry.digest_id
            )));
        }
        let id = entry.digest_id;
        match kind {
            UpdateType::Insert | UpdateType::Modify => {
                let config = entry
                    .config
                    .ok_or_else(|| P4rtError::invalid("a digest entry needs a config"))?;
                if config.max_timeout_ns < 0
                    || config.max_list_size < 0
                    || config.ack_timeout_ns < 0
                {
                    return Err(P4rtError::invalid("negative digest config values"));
                }
                match (kind, self.configs.contains_key(&id)) {
                    (UpdateType::Insert, true) => {
                        return Err(P4rtError::exists(format!(
                            "digest {id} is already configured"
                        )));
                    }
                    (UpdateType::Modify, false) => {
                        return Err(P4rtError::not_found(format!(
                            "digest {id} is not configured"
                        )));
                    }
                    _ => {}
                }
                self.configs.insert(id, config);
            }
            UpdateType::Delete => {
                self.configs.remove(&id).ok_or_else(|| {
                    P4rtError::not_found(format!("digest {id} is not configured"))
                })?;
                self.outstanding.retain(|(d, _), _| *d != id);
            }
            UpdateType::Unspecified => {
                return Err(P4rtError::invalid("update type is unspecified"));
            }
        }
        Ok(())
    }

    /// Configured digests a read selects (id 0: all).
    pub fn read(&self, digest_id: u32) -> Vec<DigestEntry> {
        self.configs
            .iter()
            .filter(|(id, _)| digest_id == 0 || **id == digest_id)
            .map(|(id, c)| DigestEntry {
                digest_id: *id,
                config: Some(*c),
            })
            .collect()
    }

    /// A digest message from the data plane: the list to stream, if any.
    pub fn offer(
        &mut self,
        digest_id: u32,
        members: Vec<Vec<u8>>,
        now: Instant,
        timestamp_ns: i64,
    ) -> Option<DigestList> {
        let config = self.configs.get(&digest_id)?;
        let ack_timeout = Duration::from_nanos(config.ack_timeout_ns.max(0) as u64);
        let key = (digest_id, members);
        if let Some((_, sent)) = self.outstanding.get(&key)
            && (ack_timeout.is_zero() || now.duration_since(*sent) < ack_timeout)
        {
            return None;
        }
        self.next_list_id += 1;
        let list_id = self.next_list_id;
        let data = P4Data {
            data: Some(p4_data::Data::Struct(
                flashmesh_proto::p4::v1::P4StructLike {
                    members: key
                        .1
                        .iter()
                        .map(|m| P4Data {
                            data: Some(p4_data::Data::Bitstring(m.clone())),
                        })
                        .collect(),
                },
            )),
        };
        self.outstanding.insert(key, (list_id, now));
        Some(DigestList {
            digest_id,
            list_id,
            data: vec![data],
            timestamp: timestamp_ns,
        })
    }

    /// A controller's acknowledgement.
    pub fn ack(&mut self, digest_id: u32, list_id: u64) {
        self.outstanding
            .retain(|(d, _), (l, _)| !(*d == digest_id && *l == list_id));
    }

    /// Forgets everything (new pipeline).
    pub fn clear(&mut self) {
        *self = Digests::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u32, ack_ms: i64) -> DigestEntry {
        DigestEntry {
            digest_id: id,
            config: Some(Config {
                max_timeout_ns: 0,
                max_list_size: 1,
                ack_timeout_ns: ack_ms * 1_000_000,
            }),
        }
    }

    #[test]
    fn only_configured_digests_stream_and_duplicates_wait_for_ack() {
        let mut d = Digests::default();
        let now = Instant::now();
        assert!(d.offer(5, vec![vec![1]], now, 0).is_none());
        assert!(d.write(UpdateType::Insert, &entry(5, 1000), false).is_err());
        d.write(UpdateType::Insert, &entry(5, 1000), true).unwrap();
        assert_eq!(
            d.write(UpdateType::Insert, &entry(5, 1000), true)
                .unwrap_err()
                .code,
            tonic::Code::AlreadyExists
        );
        let l1 = d.offer(5, vec![vec![1]], now, 0).unwrap();
        assert!(
            d.offer(5, vec![vec![1]], now, 0).is_none(),
            "unacknowledged duplicate"
        );
        let l2 = d.offer(5, vec![vec![2]], now, 0).unwrap();
        assert_ne!(l1.list_id, l2.list_id);
        d.ack(5, l1.list_id);
        assert!(d.offer(5, vec![vec![1]], now, 0).is_some());
        // After the ack timeout the same data is sent again.
        assert!(
            d.offer(5, vec![vec![2]], now + Duration::from_secs(2), 0)
                .is_some()
        );
        assert_eq!(d.read(0).len(), 1);
        d.write(UpdateType::Delete, &entry(5, 0), true).unwrap();
        assert!(d.offer(5, vec![vec![3]], now, 0).is_none());
    }
}
