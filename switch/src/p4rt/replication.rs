//! The packet replication engine's configuration as written over P4Runtime:
//! multicast groups and clone sessions, kept with insert/modify/delete semantics
//! and read back with wildcards.

use std::collections::BTreeMap;

use flashmesh_proto::p4::v1::{
    CloneSessionEntry, MulticastGroupEntry, PacketReplicationEngineEntry,
    packet_replication_engine_entry::Type as PreType, update::Type as UpdateType,
};

use super::status::P4rtError;

/// Multicast groups and clone sessions by id.
#[derive(Debug, Default, Clone)]
pub struct Replication {
    pub groups: BTreeMap<u32, MulticastGroupEntry>,
    pub sessions: BTreeMap<u32, CloneSessionEntry>,
}

fn apply<T: Clone>(
    map: &mut BTreeMap<u32, T>,
    kind: UpdateType,
    id: u32,
    value: &T,
    what: &str,
) -> Result<(), P4rtError> {
    if id == 0 {
        return Err(P4rtError::invalid(format!("{what} id 0 is reserved")));
    }
    match kind {
        UpdateType::Insert => {
            if map.contains_key(&id) {
                return Err(P4rtError::exists(format!("{what} {id} already exists")));
            }
            map.insert(id, value.clone());
        }
        UpdateType::Modify => {
            let slot = map
                .get_mut(&id)
                .ok_or_else(|| P4rtError::not_found(format!("{what} {id} does not exist")))?;
            *slot = value.clone();
        }
        UpdateType::Delete => {
            map.remove(&id)
                .ok_or_else(|| P4rtError::not_found(format!("{what} {id} does not exist")))?;
        }
        UpdateType::Unspecified => return Err(P4rtError::invalid("update type is unspecified")),
    }
    Ok(())
}

impl Replication {
    /// Applies one update.
    pub fn write(
        &mut self,
        kind: UpdateType,
        entry: &PacketReplicationEngineEntry,
    ) -> Result<(), P4rtError> {
        match &entry.r#type {
            Some(PreType::MulticastGroupEntry(g)) => {
                check_replicas(g.replicas.iter().map(|r| (r.port_kind.clone(), r.instance)))?;
                apply(
                    &mut self.groups,
                    kind,
                    g.multicast_group_id,
                    g,
                    "multicast group",
                )
            }
            Some(PreType::CloneSessionEntry(s)) => {
                if s.packet_length_bytes < 0 {
                    return Err(P4rtError::invalid("negative clone packet length"));
                }
                check_replicas(s.replicas.iter().map(|r| (r.port_kind.clone(), r.instance)))?;
                apply(&mut self.sessions, kind, s.session_id, s, "clone session")
            }
            None => Err(P4rtError::invalid(
                "packet replication engine entry without a type",
            )),
        }
    }

    /// The entries a read selects (id 0 selects all).
    pub fn read(
        &self,
        entry: &PacketReplicationEngineEntry,
    ) -> Result<Vec<PacketReplicationEngineEntry>, P4rtError> {
        let wrap = |t: PreType| PacketReplicationEngineEntry { r#type: Some(t) };
        match &entry.r#type {
            Some(PreType::MulticastGroupEntry(g)) => Ok(self
                .groups
                .values()
                .filter(|x| {
                    g.multicast_group_id == 0 || x.multicast_group_id == g.multicast_group_id
                })
                .map(|x| wrap(PreType::MulticastGroupEntry(x.clone())))
                .collect()),
            Some(PreType::CloneSessionEntry(s)) => Ok(self
                .sessions
                .values()
                .filter(|x| s.session_id == 0 || x.session_id == s.session_id)
                .map(|x| wrap(PreType::CloneSessionEntry(x.clone())))
                .collect()),
            None => Err(P4rtError::invalid(
                "packet replication engine entry without a type",
            )),
        }
    }
}

/// The engine's form of a multicast group: `(egress port, instance)` per replica.
#[allow(deprecated)] // the deprecated `egress_port` form is still accepted
pub fn engine_replicas(group: &MulticastGroupEntry) -> Vec<(u32, u32)> {
    use flashmesh_proto::p4::v1::replica::PortKind;
    group
        .replicas
        .iter()
        .filter_map(|r| {
            let port = match &r.port_kind {
                Some(PortKind::EgressPort(p)) => *p,
                Some(PortKind::Port(p)) if p.len() <= 4 => {
                    p.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
                }
                _ => return None,
            };
            Some((port, r.instance))
        })
        .collect()
}

#[allow(deprecated)] // the deprecated `egress_port` form is still accepted
fn check_replicas(
    replicas: impl Iterator<Item = (Option<flashmesh_proto::p4::v1::replica::PortKind>, u32)>,
) -> Result<(), P4rtError> {
    use flashmesh_proto::p4::v1::replica::PortKind;
    let mut seen = std::collections::HashSet::new();
    for (port, instance) in replicas {
        let port = match port {
            Some(PortKind::EgressPort(p)) => p.to_be_bytes().to_vec(),
            Some(PortKind::Port(p)) => super::bytes::canonicalize(&p, 32, "replica port")?,
            None => return Err(P4rtError::invalid("replica without a port")),
        };
        if !seen.insert((port, instance)) {
            return Err(P4rtError::invalid(
                "duplicate replica (same port and instance)",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashmesh_proto::p4::v1::{Replica, replica::PortKind};

    fn group(id: u32, ports: &[u8]) -> PacketReplicationEngineEntry {
        PacketReplicationEngineEntry {
            r#type: Some(PreType::MulticastGroupEntry(MulticastGroupEntry {
                multicast_group_id: id,
                replicas: ports
                    .iter()
                    .map(|p| Replica {
                        port_kind: Some(PortKind::Port(vec![*p])),
                        instance: 1,
                    })
                    .collect(),
                metadata: vec![],
            })),
        }
    }

    #[test]
    fn groups_insert_modify_delete_read() {
        let mut r = Replication::default();
        r.write(UpdateType::Insert, &group(1, &[1, 2])).unwrap();
        assert_eq!(
            r.write(UpdateType::Insert, &group(1, &[1]))
                .unwrap_err()
                .code,
            tonic::Code::AlreadyExists
        );
        r.write(UpdateType::Modify, &group(1, &[3])).unwrap();
        assert_eq!(
            r.write(UpdateType::Modify, &group(2, &[3]))
                .unwrap_err()
                .code,
            tonic::Code::NotFound
        );
        r.write(UpdateType::Insert, &group(2, &[3])).unwrap();
        assert_eq!(r.read(&group(0, &[])).unwrap().len(), 2);
        assert_eq!(r.read(&group(1, &[])).unwrap(), vec![group(1, &[3])]);
        r.write(UpdateType::Delete, &group(1, &[])).unwrap();
        assert_eq!(
            r.write(UpdateType::Delete, &group(1, &[]))
                .unwrap_err()
                .code,
            tonic::Code::NotFound
        );
        assert!(r.write(UpdateType::Insert, &group(3, &[1, 1])).is_err());
    }
}
