//! Answering `Read`: each requested entity, with the wildcards P4Runtime defines
//! (id 0 selects every object of the kind, an unset index every cell, a table entry
//! without match fields every entry of its table).

use flashmesh_p4::exec::Switch;
use flashmesh_proto::p4::v1::{self as p4v1, entity::Entity as E, p4_data};
use flashmesh_proto::p4info_index::{Entities, P4InfoIndex};

use super::digest::Digests;
use super::replication::Replication;
use super::status::P4rtError;
use super::translate::{self, state_error};

/// Everything a read may look at besides the engine.
pub struct ReadSource<'a> {
    pub index: &'a P4InfoIndex,
    pub replication: &'a Replication,
    pub digests: &'a Digests,
}

fn entity(e: E) -> p4v1::Entity {
    p4v1::Entity { entity: Some(e) }
}

fn ids<T>(objects: &Entities<T>, wanted: u32, what: &str) -> Result<Vec<u32>, P4rtError> {
    if wanted == 0 {
        let mut all: Vec<u32> = objects.ids().collect();
        all.sort_unstable();
        Ok(all)
    } else if objects.contains(wanted) {
        Ok(vec![wanted])
    } else {
        Err(P4rtError::not_found(format!("no {what} with id {wanted}")))
    }
}

fn indices(index: Option<&p4v1::Index>, size: i64, what: &str) -> Result<Vec<u32>, P4rtError> {
    match index {
        None => Ok((0..size.max(0) as u32).collect()),
        Some(i) if i.index >= 0 && i.index < size => Ok(vec![i.index as u32]),
        Some(i) => Err(P4rtError::invalid(format!(
            "{what} index {} is out of range (size {size})",
            i.index
        ))),
    }
}

/// The entities one request entity selects.
pub fn read(
    src: &ReadSource<'_>,
    sw: &Switch,
    wanted: &p4v1::Entity,
) -> Result<Vec<p4v1::Entity>, P4rtError> {
    let ix = src.index;
    let Some(wanted) = wanted.entity.as_ref() else {
        return Err(P4rtError::invalid("read of an empty entity"));
    };
    let mut out = Vec::new();
    match wanted {
        E::TableEntry(req) => {
            let tables = ids(ix.tables(), req.table_id, "table")?;
            let (with_counter, with_meter) =
                (req.counter_data.is_some(), req.meter_config.is_some());
            for table_id in tables {
                if req.is_default_action {
                    let d = sw.read_default_entry(table_id).map_err(state_error)?;
                    out.push(entity(E::TableEntry(translate::entry_to_proto(
                        ix, &d, false, false,
                    ))));
                    continue;
                }
                for e in sw.read_entries(Some(table_id)).map_err(state_error)? {
                    if req.table_id != 0 && !translate::selects(ix, req, &e)? {
                        continue;
                    }
                    out.push(entity(E::TableEntry(translate::entry_to_proto(
                        ix,
                        &e,
                        with_counter,
                        with_meter,
                    ))));
                }
            }
        }
        E::DirectCounterEntry(req) => {
            let table_req = req.table_entry.clone().unwrap_or_default();
            let tables: Vec<u32> = ids(ix.tables(), table_req.table_id, "table")?
                .into_iter()
                .filter(|t| {
                    ix.tables()
                        .get(*t)
                        .is_some_and(|t| t.direct_counter.is_some())
                })
                .collect();
            if table_req.table_id != 0 && tables.is_empty() {
                return Err(P4rtError::invalid("the table has no direct counter"));
            }
            for table_id in tables {
                for e in sw.read_entries(Some(table_id)).map_err(state_error)? {
                    if table_req.table_id != 0 && !translate::selects(ix, &table_req, &e)? {
                        continue;
                    }
                    let data = e.counter.map(translate::counter_to_proto);
                    let mut key = translate::entry_to_proto(ix, &e, false, false);
                    key.action = None;
                    out.push(entity(E::DirectCounterEntry(p4v1::DirectCounterEntry {
                        table_entry: Some(key),
                        data,
                    })));
                }
            }
        }
        E::DirectMeterEntry(req) => {
            let table_req = req.table_entry.clone().unwrap_or_default();
            let tables: Vec<u32> = ids(ix.tables(), table_req.table_id, "table")?
                .into_iter()
                .filter(|t| {
                    ix.tables()
                        .get(*t)
                        .is_some_and(|t| t.direct_meter.is_some())
                })
                .collect();
            if table_req.table_id != 0 && tables.is_empty() {
                return Err(P4rtError::invalid("the table has no direct meter"));
            }
            for table_id in tables {
                for e in sw.read_entries(Some(table_id)).map_err(state_error)? {
                    if table_req.table_id != 0 && !translate::selects(ix, &table_req, &e)? {
                        continue;
                    }
                    let config = e.meter_config.map(translate::meter_to_proto);
                    let mut key = translate::entry_to_proto(ix, &e, false, false);
                    key.action = None;
                    out.push(entity(E::DirectMeterEntry(p4v1::DirectMeterEntry {
                        table_entry: Some(key),
                        config,
                        counter_data: None,
                    })));
                }
            }
        }
        E::CounterEntry(req) => {
            for counter_id in ids(ix.counters(), req.counter_id, "counter")? {
                let Some(info) = ix.counters().get(counter_id) else {
                    continue;
                };
                let cells = match req.index.as_ref() {
                    None => sw.read_counter(counter_id, None).map_err(state_error)?,
                    Some(_) => {
                        let i = indices(req.index.as_ref(), info.size, &info.name)?;
                        sw.read_counter(counter_id, Some(i[0]))
                            .map_err(state_error)?
                    }
                };
                for (i, data) in cells {
                    out.push(entity(E::CounterEntry(p4v1::CounterEntry {
                        counter_id,
                        index: Some(p4v1::Index {
                            index: i64::from(i),
                        }),
                        data: Some(translate::counter_to_proto(data)),
                    })));
                }
            }
        }
        E::MeterEntry(req) => {
            for meter_id in ids(ix.meters(), req.meter_id, "meter")? {
                let Some(info) = ix.meters().get(meter_id) else {
                    continue;
                };
                for i in indices(req.index.as_ref(), info.size, &info.name)? {
                    let config = sw.read_meter_config(meter_id, i).map_err(state_error)?;
                    out.push(entity(E::MeterEntry(p4v1::MeterEntry {
                        meter_id,
                        index: Some(p4v1::Index {
                            index: i64::from(i),
                        }),
                        config: config.map(translate::meter_to_proto),
                        counter_data: None,
                    })));
                }
            }
        }
        E::RegisterEntry(req) => {
            for register_id in ids(ix.registers(), req.register_id, "register")? {
                let Some(info) = ix.registers().get(register_id) else {
                    continue;
                };
                for i in indices(req.index.as_ref(), info.size, &info.name)? {
                    let value = sw.read_register(register_id, i).map_err(state_error)?;
                    out.push(entity(E::RegisterEntry(p4v1::RegisterEntry {
                        register_id,
                        index: Some(p4v1::Index {
                            index: i64::from(i),
                        }),
                        data: Some(p4v1::P4Data {
                            data: Some(p4_data::Data::Bitstring(value)),
                        }),
                    })));
                }
            }
        }
        E::PacketReplicationEngineEntry(req) => {
            out.extend(
                src.replication
                    .read(req)?
                    .into_iter()
                    .map(|p| entity(E::PacketReplicationEngineEntry(p))),
            );
        }
        E::DigestEntry(req) => {
            if req.digest_id != 0 && !ix.digests().contains(req.digest_id) {
                return Err(P4rtError::not_found(format!(
                    "no digest with id {}",
                    req.digest_id
                )));
            }
            out.extend(
                src.digests
                    .read(req.digest_id)
                    .into_iter()
                    .map(|d| entity(E::DigestEntry(d))),
            );
        }
        E::ExternEntry(_) => {
            return Err(P4rtError::unimplemented("extern entries are not supported"));
        }
        E::ActionProfileMember(_) | E::ActionProfileGroup(_) => {
            return Err(P4rtError::unimplemented(
                "action profiles are not supported by this target",
            ));
        }
        E::ValueSetEntry(_) => {
            return Err(P4rtError::unimplemented(
                "parser value sets are not supported",
            ));
        }
    }
    Ok(out)
}
