//! Client arbitration (P4Runtime §5.3-5.4): per (device id, role) the stream with the
//! highest election id is the primary; the others are backups. Pure bookkeeping:
//! every call returns the `MasterArbitrationUpdate`s to send and to whom.

use std::collections::{BTreeMap, HashMap};

use flashmesh_proto::google::rpc::{Code, Status};
use flashmesh_proto::p4::v1::{MasterArbitrationUpdate, Role, Uint128};

/// Identifies one open `StreamChannel`.
pub type ClientId = u64;

/// A 128-bit election id.
pub type ElectionId = u128;

/// Converts the wire form of an election id.
pub fn election_id(id: Option<&Uint128>) -> Option<ElectionId> {
    id.map(|u| (u128::from(u.high) << 64) | u128::from(u.low))
}

/// The wire form of an election id.
pub fn to_uint128(id: ElectionId) -> Uint128 {
    Uint128 {
        high: (id >> 64) as u64,
        low: id as u64,
    }
}

/// Why an arbitration update is refused; the stream is then closed with this error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArbitrationError {
    /// Another stream of the same device and role already uses this election id.
    #[error("election id is already used by another client of device {device_id} role '{role}'")]
    DuplicateElectionId { device_id: u64, role: String },
    /// A stream may not move to another device or role.
    #[error("a stream cannot change its device id or role after its first arbitration update")]
    ChangedDeviceOrRole,
}

impl ArbitrationError {
    /// The gRPC code the spec prescribes.
    pub fn code(&self) -> tonic::Code {
        match self {
            ArbitrationError::DuplicateElectionId { .. } => tonic::Code::InvalidArgument,
            ArbitrationError::ChangedDeviceOrRole => tonic::Code::FailedPrecondition,
        }
    }
}

/// One notification to send to one client.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub client: ClientId,
    pub update: MasterArbitrationUpdate,
}

#[derive(Debug, Default)]
struct Group {
    /// Election id of each member; `None` for clients that never become primary.
    members: BTreeMap<ClientId, Option<ElectionId>>,
    /// Whether each member sent a role name (echoed back in its notifications).
    named_role: BTreeMap<ClientId, bool>,
    primary: Option<ClientId>,
    highest_seen: Option<ElectionId>,
}

impl Group {
    fn elect(&self) -> Option<ClientId> {
        self.members
            .iter()
            .filter_map(|(c, e)| e.map(|e| (e, *c)))
            .max()
            .map(|(_, c)| c)
    }

    fn notice(&self, client: ClientId, device_id: u64, role: &str) -> Notice {
        let primary_election = self
            .primary
            .and_then(|p| self.members.get(&p).copied().flatten());
        let (code, message, shown) = match self.primary {
            Some(p) if p == client => (Code::Ok, "primary", primary_election),
            Some(_) => (
                Code::AlreadyExists,
                "a primary is connected; this client is a backup",
                primary_election,
            ),
            None => (Code::NotFound, "no primary is connected", self.highest_seen),
        };
        let role = self
            .named_role
            .get(&client)
            .copied()
            .unwrap_or(false)
            .then(|| Role {
                name: role.to_string(),
                ..Default::default()
            });
        Notice {
            client,
            update: MasterArbitrationUpdate {
                device_id,
                role,
                election_id: shown.map(to_uint128),
                status: Some(Status {
                    code: code as i32,
                    message: message.into(),
                    details: vec![],
                }),
            },
        }
    }

    fn notify_all(&self, device_id: u64, role: &str) -> Vec<Notice> {
        self.members
            .keys()
            .map(|c| self.notice(*c, device_id, role))
            .collect()
    }
}

/// The arbitration state of one server.
#[derive(Debug, Default)]
pub struct Arbitration {
    groups: HashMap<(u64, String), Group>,
    clients: HashMap<ClientId, (u64, String)>,
}

impl Arbitration {
    /// A client's (re)arbitration. Returns the notices: all members when the primary
    /// changed, otherwise only the sender.
    pub fn update(
        &mut self,
        client: ClientId,
        device_id: u64,
        role: Option<&str>,
        election: Option<ElectionId>,
    ) -> Result<Vec<Notice>, ArbitrationError> {
        let role_name = role.unwrap_or("").to_string();
        let key = (device_id, role_name.clone());
        if let Some(existing) = self.clients.get(&client)
            && *existing != key
        {
            return Err(ArbitrationError::ChangedDeviceOrRole);
        }
        let group = self.groups.entry(key.clone()).or_default();
        if let Some(e) = election
            && group
                .members
                .iter()
                .any(|(c, m)| *c != client && *m == Some(e))
        {
            return Err(ArbitrationError::DuplicateElectionId {
                device_id,
                role: role_name,
            });
        }
        group.members.insert(client, election);
        group.named_role.insert(client, role.is_some());
        if let Some(e) = election {
            group.highest_seen = Some(group.highest_seen.map_or(e, |h| h.max(e)));
        }
        self.clients.insert(client, key);
        let new_primary = group.elect();
        if new_primary != group.primary {
            group.primary = new_primary;
            Ok(group.notify_all(device_id, &role_name))
        } else {
            Ok(vec![group.notice(client, device_id, &role_name)])
        }
    }

    /// A client's stream closed. When it was the primary, the backup with the highest
    /// election id takes over and every remaining member is told.
    pub fn leave(&mut self, client: ClientId) -> Vec<Notice> {
        let Some(key) = self.clients.remove(&client) else {
            return vec![];
        };
        let Some(group) = self.groups.get_mut(&key) else {
            return vec![];
        };
        group.members.remove(&client);
        group.named_role.remove(&client);
        if group.members.is_empty() {
            self.groups.remove(&key);
            return vec![];
        }
        if group.primary == Some(client) {
            group.primary = group.elect();
            group.notify_all(key.0, &key.1)
        } else {
            vec![]
        }
    }

    /// Whether `election` is the primary's election id for this device and role
    /// (what a Write or SetForwardingPipelineConfig must carry).
    pub fn is_primary(&self, device_id: u64, role: &str, election: Option<ElectionId>) -> bool {
        let Some(election) = election else {
            return false;
        };
        let Some(group) = self.groups.get(&(device_id, role.to_string())) else {
            return false;
        };
        group
            .primary
            .and_then(|p| group.members.get(&p).copied().flatten())
            == Some(election)
    }

    /// The primary client of every role of a device (receivers of packet-ins and digests).
    pub fn primaries(&self, device_id: u64) -> Vec<ClientId> {
        self.groups
            .iter()
            .filter(|((d, _), _)| *d == device_id)
            .filter_map(|(_, g)| g.primary)
            .collect()
    }

    /// Whether the client has arbitrated.
    pub fn knows(&self, client: ClientId) -> bool {
        self.clients.contains_key(&client)
    }

    /// The device and role the client arbitrated for.
    pub fn client_role(&self, client: ClientId) -> Option<&(u64, String)> {
        self.clients.get(&client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(n: &Notice) -> i32 {
        n.update.status.as_ref().map(|s| s.code).unwrap_or(-1)
    }

    #[test]
    fn highest_election_id_is_primary_and_backups_are_told() {
        let mut a = Arbitration::default();
        let n = a.update(1, 0, None, Some(10)).unwrap();
        assert_eq!(n.len(), 1);
        assert_eq!(code(&n[0]), Code::Ok as i32);
        assert!(a.is_primary(0, "", Some(10)));

        // A lower id joins: only it is told, with the primary's id and ALREADY_EXISTS.
        let n = a.update(2, 0, None, Some(5)).unwrap();
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].client, 2);
        assert_eq!(code(&n[0]), Code::AlreadyExists as i32);
        assert_eq!(election_id(n[0].update.election_id.as_ref()), Some(10));
        assert!(!a.is_primary(0, "", Some(5)));

        // A higher id takes over: everybody is told.
        let n = a.update(3, 0, None, Some(20)).unwrap();
        assert_eq!(n.len(), 3);
        for notice in &n {
            let want = if notice.client == 3 {
                Code::Ok
            } else {
                Code::AlreadyExists
            };
            assert_eq!(code(notice), want as i32);
            assert_eq!(election_id(notice.update.election_id.as_ref()), Some(20));
        }
        assert_eq!(a.primaries(0), vec![3]);
    }

    #[test]
    fn failover_when_primary_leaves() {
        let mut a = Arbitration::default();
        a.update(1, 0, None, Some(10)).unwrap();
        a.update(2, 0, None, Some(5)).unwrap();
        let n = a.leave(1);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].client, 2);
        assert_eq!(code(&n[0]), Code::Ok as i32);
        assert!(a.is_primary(0, "", Some(5)));
        assert!(a.leave(2).is_empty());
        assert!(!a.is_primary(0, "", Some(5)));
    }

    #[test]
    fn backup_leaving_changes_nothing() {
        let mut a = Arbitration::default();
        a.update(1, 0, None, Some(10)).unwrap();
        a.update(2, 0, None, Some(5)).unwrap();
        assert!(a.leave(2).is_empty());
        assert!(a.is_primary(0, "", Some(10)));
    }

    #[test]
    fn duplicate_election_id_and_role_change_are_refused() {
        let mut a = Arbitration::default();
        a.update(1, 0, None, Some(10)).unwrap();
        assert!(matches!(
            a.update(2, 0, None, Some(10)),
            Err(ArbitrationError::DuplicateElectionId { .. })
        ));
        assert_eq!(
            a.update(1, 1, None, Some(10)),
            Err(ArbitrationError::ChangedDeviceOrRole)
        );
        // Same client may raise its own id.
        assert!(a.update(1, 0, None, Some(11)).is_ok());
        assert!(a.is_primary(0, "", Some(11)));
    }

    #[test]
    fn roles_and_devices_are_separate() {
        let mut a = Arbitration::default();
        a.update(1, 0, Some("a"), Some(1)).unwrap();
        a.update(2, 0, Some("b"), Some(1)).unwrap();
        a.update(3, 1, None, Some(1)).unwrap();
        assert!(a.is_primary(0, "a", Some(1)));
        assert!(a.is_primary(0, "b", Some(1)));
        let mut p = a.primaries(0);
        p.sort();
        assert_eq!(p, vec![1, 2]);
    }

    #[test]
    fn client_without_election_id_is_never_primary() {
        let mut a = Arbitration::default();
        let n = a.update(1, 0, None, None).unwrap();
        assert_eq!(code(&n[0]), Code::NotFound as i32);
        assert!(!a.is_primary(0, "", None));
    }
}
