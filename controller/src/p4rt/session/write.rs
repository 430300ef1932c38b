//! Writes: raw update batches (CONTINUE_ON_ERROR) with per-update errors, name-based entry
//! updates, and digest configuration.

use flashmesh_proto::p4::v1 as p4;

use crate::p4rt::error::write_error;
use crate::p4rt::spec::{EntryUpdate, UpdateKind};

use super::{P4rtError, RPC_DEADLINE, Session, deadline_error, election};
use crate::p4rt::p4info::P4InfoNames;

impl Session {
    /// Sends raw updates in one batch (CONTINUE_ON_ERROR, the mode BMv2 supports).
    pub async fn write_raw(
        &self,
        updates: Vec<p4::Update>,
        what: impl Fn(usize) -> String,
    ) -> Result<(), P4rtError> {
        if updates.is_empty() {
            return Ok(());
        }
        let total = updates.len();
        let req = p4::WriteRequest {
            device_id: self.inner.cfg.device_id,
            role: self.inner.cfg.role.clone(),
            election_id: Some(election(&self.inner.cfg)),
            updates,
            atomicity: p4::write_request::Atomicity::ContinueOnError as i32,
            ..Default::default()
        };
        let mut client = self.inner.client.clone();
        match tokio::time::timeout(RPC_DEADLINE, client.write(req)).await {
            Ok(r) => r
                .map(|_| ())
                .map_err(|s| write_error(s, self.inner.cfg.device_id, total, what)),
            Err(_) => Err(deadline_error("Write")),
        }
    }

    /// Writes name-based updates in one batch; failed updates come back as
    /// [`P4rtError::Batch`] with their index in `updates`.
    pub async fn write(&self, updates: &[EntryUpdate]) -> Result<(), P4rtError> {
        let ix = self.index()?;
        let mut raw = Vec::with_capacity(updates.len());
        for u in updates {
            let entry = ix.build_entry(&u.entry)?;
            let t = match u.kind {
                UpdateKind::Insert => p4::update::Type::Insert,
                UpdateKind::Modify => p4::update::Type::Modify,
                UpdateKind::Delete => p4::update::Type::Delete,
            };
            raw.push(p4::Update {
                r#type: t as i32,
                entity: Some(p4::Entity {
                    entity: Some(p4::entity::Entity::TableEntry(entry)),
                }),
            });
        }
        self.write_raw(raw, |i| {
            updates
                .get(i)
                .map(|u| format!("{:?} {}", u.kind, u.entry.table))
                .unwrap_or_default()
        })
        .await
    }

    /// Enables a digest by name with the given batching.
    pub async fn enable_digest(
        &self,
        name: &str,
        max_timeout_ns: i64,
        max_list_size: i32,
        ack_timeout_ns: i64,
    ) -> Result<(), P4rtError> {
        let id = self.index()?.digest(name)?;
        let u = p4::Update {
            r#type: p4::update::Type::Insert as i32,
            entity: Some(p4::Entity {
                entity: Some(p4::entity::Entity::DigestEntry(p4::DigestEntry {
                    digest_id: id,
                    config: Some(p4::digest_entry::Config {
                        max_timeout_ns,
                        max_list_size,
                        ack_timeout_ns,
                    }),
                })),
            }),
        };
        self.write_raw(vec![u], |_| format!("digest {name}")).await
    }
}
