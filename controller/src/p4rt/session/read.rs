//! Reads: wildcard entity reads under the RPC deadline, table entries and default entries
//! decoded by name, indirect counters and direct counters.

use flashmesh_proto::p4::v1 as p4;

use crate::p4rt::error::rpc_error;
use crate::p4rt::spec::EntrySpec;

use super::{P4InfoIndex, P4rtError, RPC_DEADLINE, Session, deadline_error};
use crate::p4rt::p4info::P4InfoNames;

impl Session {
    /// Reads entities matching `entities` (wildcards allowed).
    pub async fn read_raw(&self, entities: Vec<p4::Entity>) -> Result<Vec<p4::Entity>, P4rtError> {
        let req = p4::ReadRequest {
            device_id: self.inner.cfg.device_id,
            role: self.inner.cfg.role.clone(),
            entities,
        };
        let mut client = self.inner.client.clone();
        let read = async move {
            let mut stream = client
                .read(req)
                .await
                .map_err(|s| rpc_error("Read", s))?
                .into_inner();
            let mut out = Vec::new();
            while let Some(r) = stream.message().await.map_err(|s| rpc_error("Read", s))? {
                out.extend(r.entities);
            }
            Ok(out)
        };
        tokio::time::timeout(RPC_DEADLINE, read)
            .await
            .unwrap_or_else(|_| Err(deadline_error("Read")))
    }

    /// All entries of a table (not its default entry).
    pub async fn read_table(&self, table: &str) -> Result<Vec<EntrySpec>, P4rtError> {
        let ix = self.index()?;
        let sel = ix.table_selector(table)?;
        self.read_entries(&ix, sel).await
    }

    /// The default entry of a table.
    pub async fn read_default(&self, table: &str) -> Result<Option<EntrySpec>, P4rtError> {
        let ix = self.index()?;
        let mut sel = ix.table_selector(table)?;
        sel.is_default_action = true;
        Ok(self.read_entries(&ix, sel).await?.into_iter().next())
    }

    /// Every entry of every table.
    pub async fn read_all_entries(&self) -> Result<Vec<EntrySpec>, P4rtError> {
        let ix = self.index()?;
        self.read_entries(&ix, p4::TableEntry::default()).await
    }

    async fn read_entries(
        &self,
        ix: &P4InfoIndex,
        sel: p4::TableEntry,
    ) -> Result<Vec<EntrySpec>, P4rtError> {
        let ents = self
            .read_raw(vec![p4::Entity {
                entity: Some(p4::entity::Entity::TableEntry(sel)),
            }])
            .await?;
        let mut out = Vec::new();
        for e in ents {
            if let Some(p4::entity::Entity::TableEntry(t)) = e.entity {
                out.push(ix.decode_entry(&t)?);
            }
        }
        Ok(out)
    }

    /// Every cell of an indirect counter: (index, packets, bytes).
    pub async fn read_counter(&self, name: &str) -> Result<Vec<(i64, u64, u64)>, P4rtError> {
        let ix = self.index()?;
        let id = ix.counter(name)?.id;
        let ents = self
            .read_raw(vec![p4::Entity {
                entity: Some(p4::entity::Entity::CounterEntry(p4::CounterEntry {
                    counter_id: id,
                    index: None,
                    data: None,
                })),
            }])
            .await?;
        Ok(ents
            .into_iter()
            .filter_map(|e| match e.entity {
                Some(p4::entity::Entity::CounterEntry(c)) => {
                    let d = c.data.unwrap_or_default();
                    Some((
                        c.index.map(|i| i.index).unwrap_or(0),
                        d.packet_count.max(0) as u64,
                        d.byte_count.max(0) as u64,
                    ))
                }
                _ => None,
            })
            .collect())
    }

    /// The direct counter of every entry of `table`: (entry, packets, bytes).
    pub async fn read_direct_counters(
        &self,
        table: &str,
    ) -> Result<Vec<(EntrySpec, u64, u64)>, P4rtError> {
        let ix = self.index()?;
        let sel = ix.table_selector(table)?;
        let ents = self
            .read_raw(vec![p4::Entity {
                entity: Some(p4::entity::Entity::DirectCounterEntry(
                    p4::DirectCounterEntry {
                        table_entry: Some(sel),
                        data: None,
                    },
                )),
            }])
            .await?;
        let mut out = Vec::new();
        for e in ents {
            if let Some(p4::entity::Entity::DirectCounterEntry(c)) = e.entity {
                let d = c.data.unwrap_or_default();
                if let Some(t) = c.table_entry {
                    out.push((
                        ix.decode_entry(&t)?,
                        d.packet_count.max(0) as u64,
                        d.byte_count.max(0) as u64,
                    ));
                }
            }
        }
        Ok(out)
    }
}
