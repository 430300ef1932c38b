//! Applying one `Update` of a `Write`: table entries (including default entries,
//! which can only be modified), direct and indirect counters, meters, registers,
//! replication and digest configuration.

use flashmesh_p4::exec::Switch;
use flashmesh_proto::p4::v1::{
    self as p4v1, entity::Entity as E, p4_data, update::Type as UpdateType,
};

use flashmesh_proto::p4::v1::packet_replication_engine_entry::Type as PreType;
use flashmesh_proto::p4info_index::{P4InfoIndex, TableInfo};

use super::digest::Digests;
use super::replication::Replication;
use super::status::P4rtError;
use super::translate::{self, state_error};
use crate::device::Device;

/// Everything a write may touch besides the engine.
pub struct WriteTarget<'a> {
    pub device: &'a Device,
    pub index: &'a P4InfoIndex,
    pub replication: &'a mut Replication,
    pub digests: &'a mut Digests,
}

fn on_switch<R>(
    device: &Device,
    f: impl FnOnce(&mut Switch) -> Result<R, P4rtError>,
) -> Result<R, P4rtError> {
    device.with_switch(|sw| match sw {
        Some(sw) => f(sw),
        None => Err(P4rtError::precondition("no forwarding pipeline is set")),
    })
}

/// The table with this id, or NOT_FOUND.
fn table(ix: &P4InfoIndex, id: u32) -> Result<&TableInfo, P4rtError> {
    ix.tables()
        .get(id)
        .ok_or_else(|| P4rtError::not_found(format!("no table with id {id}")))
}

fn modify_only(kind: UpdateType, what: &str) -> Result<(), P4rtError> {
    match kind {
        UpdateType::Modify => Ok(()),
        UpdateType::Unspecified => Err(P4rtError::invalid("update type is unspecified")),
        _ => Err(P4rtError::invalid(format!("{what} can only be modified"))),
    }
}

fn index_of(index: Option<&p4v1::Index>, size: i64, what: &str) -> Result<u32, P4rtError> {
    let i = index
        .ok_or_else(|| P4rtError::invalid(format!("a {what} write needs an index")))?
        .index;
    if i < 0 || i >= size {
        return Err(P4rtError::invalid(format!(
            "{what} index {i} is out of range (size {size})"
        )));
    }
    Ok(i as u32)
}

/// Applies one update.
pub fn apply(t: &mut WriteTarget<'_>, update: &p4v1::Update) -> Result<(), P4rtError> {
    let kind = UpdateType::try_from(update.r#type)
        .map_err(|_| P4rtError::invalid(format!("unknown update type {}", update.r#type)))?;
    if kind == UpdateType::Unspecified {
        return Err(P4rtError::invalid("update type is unspecified"));
    }
    let entity = update
        .entity
        .as_ref()
        .and_then(|e| e.entity.as_ref())
        .ok_or_else(|| P4rtError::invalid("update without an entity"))?;
    match entity {
        E::TableEntry(e) => table_entry(t, kind, e),
        E::CounterEntry(c) => {
            modify_only(kind, "counter entries")?;
            let info = t.index.counters().get(c.counter_id).ok_or_else(|| {
                P4rtError::not_found(format!("no counter with id {}", c.counter_id))
            })?;
            let index = index_of(c.index.as_ref(), info.size, &info.name)?;
            let data = translate::counter_from_proto(&c.data.unwrap_or_default())?;
            on_switch(t.device, |sw| {
                sw.write_counter(c.counter_id, index, data)
                    .map_err(state_error)
            })
        }
        E::DirectCounterEntry(d) => {
            modify_only(kind, "direct counter entries")?;
            let entry = d.table_entry.as_ref().ok_or_else(|| {
                P4rtError::invalid("a direct counter entry needs its table entry")
            })?;
            let table = table(t.index, entry.table_id)?;
            if table.direct_counter.is_none() {
                return Err(P4rtError::invalid(format!(
                    "table {} has no direct counter",
                    table.name
                )));
            }
            let (e, _) = translate::entry_from_proto(t.index, entry, false)?;
            let data = translate::counter_from_proto(&d.data.unwrap_or_default())?;
            on_switch(t.device, |sw| {
                sw.write_direct_counter(e.table_id, &e.matches, e.priority, data)
                    .map_err(state_error)
            })
        }
        E::MeterEntry(m) => {
            modify_only(kind, "meter entries")?;
            let info =
                t.index.meters().get(m.meter_id).ok_or_else(|| {
                    P4rtError::not_found(format!("no meter with id {}", m.meter_id))
                })?;
            let index = index_of(m.index.as_ref(), info.size, &info.name)?;
            let config = m
                .config
                .as_ref()
                .map(translate::meter_from_proto)
                .transpose()?;
            on_switch(t.device, |sw| {
                sw.set_meter_config(m.meter_id, index, config)
                    .map_err(state_error)
            })
        }
        E::DirectMeterEntry(m) => {
            modify_only(kind, "direct meter entries")?;
            let entry = m
                .table_entry
                .as_ref()
                .ok_or_else(|| P4rtError::invalid("a direct meter entry needs its table entry"))?;
            let table = table(t.index, entry.table_id)?;
            if table.direct_meter.is_none() {
                return Err(P4rtError::invalid(format!(
                    "table {} has no direct meter",
                    table.name
                )));
            }
            let (e, _) = translate::entry_from_proto(t.index, entry, false)?;
            let config = m
                .config
                .as_ref()
                .map(translate::meter_from_proto)
                .transpose()?;
            on_switch(t.device, |sw| {
                sw.set_direct_meter_config(e.table_id, &e.matches, e.priority, config)
                    .map_err(state_error)
            })
        }
        E::RegisterEntry(r) => {
            modify_only(kind, "register entries")?;
            let info = t.index.registers().get(r.register_id).ok_or_else(|| {
                P4rtError::not_found(format!("no register with id {}", r.register_id))
            })?;
            let index = index_of(r.index.as_ref(), info.size, &info.name)?;
            let bytes = match r.data.as_ref().and_then(|d| d.data.as_ref()) {
                Some(p4_data::Data::Bitstring(b)) => b.clone(),
                Some(p4_data::Data::Bool(b)) => vec![u8::from(*b)],
                Some(_) => {
                    return Err(P4rtError::unimplemented(
                        "only bitstring registers can be written",
                    ));
                }
                None => return Err(P4rtError::invalid("a register write needs data")),
            };
            on_switch(t.device, |sw| {
                sw.write_register(r.register_id, index, &bytes)
                    .map_err(state_error)
            })
        }
        E::PacketReplicationEngineEntry(p) => {
            t.replication.write(kind, p)?;
            // Multicast groups take effect in the engine; clone sessions are only stored
            // (the engine refuses programs that clone).
            if let Some(PreType::MulticastGroupEntry(g)) = &p.r#type {
                let replicas = match kind {
                    UpdateType::Delete => Vec::new(),
                    _ => super::replication::engine_replicas(g),
                };
                on_switch(t.device, |sw| {
                    sw.set_multicast_group(g.multicast_group_id, replicas);
                    Ok(())
                })?;
            }
            Ok(())
        }
        E::DigestEntry(d) => {
            let known = t.index.digests().contains(d.digest_id);
            t.digests.write(kind, d, known)
        }
        E::ExternEntry(_) => Err(P4rtError::unimplemented("extern entries are not supported")),
        E::ActionProfileMember(_) | E::ActionProfileGroup(_) => Err(P4rtError::unimplemented(
            "action profiles are not supported by this target",
        )),
        E::ValueSetEntry(_) => Err(P4rtError::unimplemented(
            "parser value sets are not supported",
        )),
    }
}

fn table_entry(
    t: &mut WriteTarget<'_>,
    kind: UpdateType,
    e: &p4v1::TableEntry,
) -> Result<(), P4rtError> {
    let table = table(t.index, e.table_id)?;
    if e.is_default_action {
        if kind != UpdateType::Modify {
            return Err(P4rtError::invalid(
                "the default entry of a table can only be modified",
            ));
        }
        if !e.r#match.is_empty() || e.priority != 0 {
            return Err(P4rtError::invalid(
                "a default entry has no match fields and no priority",
            ));
        }
    }
    if e.idle_timeout_ns != 0 && !table.supports_idle_timeout {
        return Err(P4rtError::invalid(format!(
            "table {} does not support idle timeouts",
            table.name
        )));
    }
    let need_action = kind != UpdateType::Delete;
    let (entry, has_action) = translate::entry_from_proto(t.index, e, need_action)?;
    let counter = e
        .counter_data
        .as_ref()
        .map(translate::counter_from_proto)
        .transpose()?;
    let meter = e
        .meter_config
        .as_ref()
        .map(translate::meter_from_proto)
        .transpose()?;
    if counter.is_some() && table.direct_counter.is_none() {
        return Err(P4rtError::invalid(format!(
            "table {} has no direct counter",
            table.name
        )));
    }
    if meter.is_some() && table.direct_meter.is_none() {
        return Err(P4rtError::invalid(format!(
            "table {} has no direct meter",
            table.name
        )));
    }
    on_switch(t.device, |sw| {
        match kind {
            UpdateType::Insert => sw.insert_entry(&entry).map_err(state_error)?,
            UpdateType::Modify if entry.is_default && !has_action => sw
                .reset_default_action(entry.table_id)
                .map_err(state_error)?,
            UpdateType::Modify => sw.modify_entry(&entry).map_err(state_error)?,
            UpdateType::Delete => return sw.delete_entry(&entry).map_err(state_error),
            UpdateType::Unspecified => {
                return Err(P4rtError::invalid("update type is unspecified"));
            }
        }
        if entry.is_default {
            return Ok(());
        }
        if let Some(c) = counter {
            sw.write_direct_counter(entry.table_id, &entry.matches, entry.priority, c)
                .map_err(state_error)?;
        }
        if meter.is_some() {
            sw.set_direct_meter_config(entry.table_id, &entry.matches, entry.priority, meter)
                .map_err(state_error)?;
        }
        Ok(())
    })
}
