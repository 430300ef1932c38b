//! Committees: the authorities, their weights and addresses, and the quorum.
//!
//! The quorum is the smallest weight strictly above two thirds of the total
//! (`floor(2·total/3) + 1`): 4 equal authorities need 3, a committee of one needs 1 (the trusted
//! single-merchant mode). The committee file is TOML:
//!
//! ```toml
//! [[authorities]]
//! name = "anchor-0"
//! public_key = "…64 hex…"
//! weight = 1
//! address = "127.0.0.1:47474"
//! ```

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::keys::{AuthorityTag, PublicKey};

/// One authority as written in the committee file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorityInfo {
    pub name: String,
    pub public_key: PublicKey,
    pub weight: u64,
    /// UDP address of its BCB service, e.g. `"127.0.0.1:47474"`.
    pub address: String,
}

/// Why a committee is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitteeError {
    #[error("a committee needs at least one authority")]
    Empty,
    #[error("authority {0} has weight zero")]
    ZeroWeight(String),
    #[error("total weight overflows")]
    WeightOverflow,
    #[error("duplicate authority name {0}")]
    DuplicateName(String),
    #[error("duplicate authority key or tag for {0}")]
    DuplicateKey(String),
    #[error("authority {0} has an invalid public key")]
    InvalidKey(String),
    #[error("committee TOML: {0}")]
    Toml(String),
    #[error("neighbour committee {0} is this committee, or listed twice")]
    DuplicateNeighbour(String),
}

/// A committee member with its tag and decompressed key precomputed.
#[derive(Debug, Clone)]
pub struct Member {
    info: AuthorityInfo,
    tag: AuthorityTag,
    vk: VerifyingKey,
}

impl Member {
    pub fn info(&self) -> &AuthorityInfo {
        &self.info
    }
    pub fn name(&self) -> &str {
        &self.info.name
    }
    pub fn public_key(&self) -> PublicKey {
        self.info.public_key
    }
    pub fn weight(&self) -> u64 {
        self.info.weight
    }
    pub fn address(&self) -> &str {
        &self.info.address
    }
    pub fn tag(&self) -> AuthorityTag {
        self.tag
    }
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.vk
    }
}

/// A gateway the committee trusts for deposits (its funding certificates) and whose
/// settlements wallets accept, as written in the committee file's `[[gateways]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayInfo {
    pub name: String,
    pub public_key: PublicKey,
    /// UDP address of its service, e.g. `"127.0.0.1:47480"`.
    pub address: String,
}

/// Another committee, as the committee file's `[[neighbours]]` names it: accounts may move
/// to it and arrive from it by handoff.
#[derive(Serialize, Deserialize)]
struct NeighbourFile {
    name: String,
    authorities: Vec<AuthorityInfo>,
}

#[derive(Serialize, Deserialize)]
struct CommitteeFile {
    authorities: Vec<AuthorityInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    gateways: Vec<GatewayInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    neighbours: Vec<NeighbourFile>,
}

/// A neighbour committee: its name and its members (its own gateways and neighbours are its
/// business).
#[derive(Debug, Clone)]
pub struct Neighbour {
    pub name: String,
    pub committee: Arc<Committee>,
}

/// A validated committee.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "CommitteeFile", into = "CommitteeFile")]
pub struct Committee {
    members: Vec<Member>,
    by_tag: HashMap<AuthorityTag, usize>,
    total: u64,
    quorum: u64,
    gateways: Vec<GatewayInfo>,
    neighbours: Vec<Neighbour>,
}

impl TryFrom<CommitteeFile> for Committee {
    type Error = CommitteeError;
    fn try_from(f: CommitteeFile) -> Result<Self, CommitteeError> {
        let mut neighbours = Vec::with_capacity(f.neighbours.len());
        for n in f.neighbours {
            neighbours.push(Neighbour {
                name: n.name,
                committee: Arc::new(Committee::new(n.authorities)?),
            });
        }
        Committee::new(f.authorities)?
            .with_gateways(f.gateways)?
            .with_neighbours(neighbours)
    }
}
impl From<Committee> for CommitteeFile {
    fn from(c: Committee) -> Self {
        CommitteeFile {
            authorities: c.members.into_iter().map(|m| m.info).collect(),
            gateways: c.gateways,
            neighbours: c
                .neighbours
                .into_iter()
                .map(|n| NeighbourFile {
                    name: n.name,
                    authorities: n.committee.members.iter().map(|m| m.info.clone()).collect(),
                })
                .collect(),
        }
    }
}

/// `floor(2·total/3) + 1`: the smallest weight strictly above 2/3 of `total`.
pub fn quorum_for(total: u64) -> u64 {
    ((u128::from(total) * 2 / 3) + 1) as u64
}

impl Committee {
    /// Validates and indexes a list of authorities (order is kept).
    pub fn new(authorities: Vec<AuthorityInfo>) -> Result<Committee, CommitteeError> {
        if authorities.is_empty() {
            return Err(CommitteeError::Empty);
        }
        let mut members = Vec::with_capacity(authorities.len());
        let mut by_tag = HashMap::new();
        let mut names = std::collections::HashSet::new();
        let mut total: u64 = 0;
        for info in authorities {
            if info.weight == 0 {
                return Err(CommitteeError::ZeroWeight(info.name));
            }
            total = total
                .checked_add(info.weight)
                .ok_or(CommitteeError::WeightOverflow)?;
            if !names.insert(info.name.clone()) {
                return Err(CommitteeError::DuplicateName(info.name));
            }
            if info.public_key.validate().is_err() {
                return Err(CommitteeError::InvalidKey(info.name));
            }
            let vk = info
                .public_key
                .verifying_key()
                .map_err(|_| CommitteeError::InvalidKey(info.name.clone()))?;
            let tag = info.public_key.tag();
            if by_tag.insert(tag, members.len()).is_some() {
                return Err(CommitteeError::DuplicateKey(info.name));
            }
            members.push(Member { info, tag, vk });
        }
        Ok(Committee {
            members,
            by_tag,
            total,
            quorum: quorum_for(total),
            gateways: Vec::new(),
            neighbours: Vec::new(),
        })
    }
    /// The committee with these gateways pinned (names and keys distinct, keys valid).
    pub fn with_gateways(
        mut self,
        gateways: Vec<GatewayInfo>,
    ) -> Result<Committee, CommitteeError> {
        let mut names = std::collections::HashSet::new();
        let mut keys = std::collections::HashSet::new();
        for g in &gateways {
            if !names.insert(g.name.clone()) {
                return Err(CommitteeError::DuplicateName(g.name.clone()));
            }
            if g.public_key.verifying_key().is_err() {
                return Err(CommitteeError::InvalidKey(g.name.clone()));
            }
            if !keys.insert(g.public_key) {
                return Err(CommitteeError::DuplicateKey(g.name.clone()));
            }
        }
        self.gateways = gateways;
        Ok(self)
    }
    /// The committee with these neighbours (each distinct from it and from the others).
    pub fn with_neighbours(
        mut self,
        neighbours: Vec<Neighbour>,
    ) -> Result<Committee, CommitteeError> {
        let mut ids = std::collections::HashSet::from([self.id()]);
        let mut names = std::collections::HashSet::new();
        for n in &neighbours {
            if !ids.insert(n.committee.id()) || !names.insert(n.name.clone()) {
                return Err(CommitteeError::DuplicateNeighbour(n.name.clone()));
            }
        }
        self.neighbours = neighbours;
        Ok(self)
    }
    /// The neighbour committees accounts may move to and arrive from.
    pub fn neighbours(&self) -> &[Neighbour] {
        &self.neighbours
    }
    /// The neighbour with identity `id`.
    pub fn neighbour(&self, id: &crate::digest::Digest) -> Option<&Neighbour> {
        self.neighbours.iter().find(|n| n.committee.id() == *id)
    }
    /// The neighbour named `name`.
    pub fn neighbour_by_name(&self, name: &str) -> Option<&Neighbour> {
        self.neighbours.iter().find(|n| n.name == name)
    }
    /// The gateways the committee pins.
    pub fn gateways(&self) -> &[GatewayInfo] {
        &self.gateways
    }
    /// The pinned gateway with this key.
    pub fn gateway_by_key(&self, key: &PublicKey) -> Option<&GatewayInfo> {
        self.gateways.iter().find(|g| g.public_key == *key)
    }
    /// The committee's identity: a digest of its members' keys and weights in order (not of
    /// names, addresses or gateways, which may change without changing who decides).
    pub fn id(&self) -> crate::digest::Digest {
        use crate::codec::Writer;
        let mut b = Vec::with_capacity(self.members.len() * 40);
        for m in &self.members {
            b.put_bytes(m.public_key().as_bytes());
            b.put_u64(m.weight());
        }
        crate::digest::Digest::of(crate::digest::DOMAIN_SNAPSHOT_COMMITTEE, &b)
    }
    /// Parses and validates a committee file.
    pub fn from_toml(s: &str) -> Result<Committee, CommitteeError> {
        toml::from_str(s).map_err(|e| CommitteeError::Toml(e.to_string()))
    }
    /// The committee file text.
    pub fn to_toml(&self) -> String {
        let f = CommitteeFile::from(self.clone());
        toml::to_string_pretty(&f).unwrap_or_default()
    }
    /// Members in file order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }
    /// Number of authorities.
    pub fn len(&self) -> usize {
        self.members.len()
    }
    /// Always false: a committee has at least one member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
    /// The member with this tag.
    pub fn member(&self, tag: &AuthorityTag) -> Option<&Member> {
        self.by_tag.get(tag).map(|&i| &self.members[i])
    }
    /// The member's position in [`Committee::members`].
    pub fn index_of(&self, tag: &AuthorityTag) -> Option<usize> {
        self.by_tag.get(tag).copied()
    }
    /// The member with this public key.
    pub fn member_by_key(&self, key: &PublicKey) -> Option<&Member> {
        self.member(&key.tag())
            .filter(|m| m.info.public_key == *key)
    }
    /// The member with this name.
    pub fn member_by_name(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.info.name == name)
    }
    /// Weight of an authority (0 if not a member).
    pub fn weight(&self, tag: &AuthorityTag) -> u64 {
        self.member(tag).map_or(0, |m| m.info.weight)
    }
    /// Sum of all weights.
    pub fn total_weight(&self) -> u64 {
        self.total
    }
    /// Smallest weight strictly above 2/3 of the total.
    pub fn quorum(&self) -> u64 {
        self.quorum
    }
    /// Smallest weight that surely includes one honest authority (`total − quorum + 1`).
    pub fn validity_threshold(&self) -> u64 {
        self.total - self.quorum + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;

    pub(crate) fn infos(n: usize) -> Vec<AuthorityInfo> {
        (0..n)
            .map(|i| AuthorityInfo {
                name: format!("anchor-{i}"),
                public_key: Keypair::from_seed(&[200 + i as u8; 32]).public(),
                weight: 1,
                address: format!("127.0.0.1:{}", 47474 + i),
            })
            .collect()
    }

    #[test]
    fn quorum_sizes() {
        assert_eq!(quorum_for(1), 1);
        assert_eq!(quorum_for(2), 2);
        assert_eq!(quorum_for(3), 3);
        assert_eq!(quorum_for(4), 3);
        assert_eq!(quorum_for(6), 5);
        assert_eq!(quorum_for(7), 5);
        assert_eq!(quorum_for(10), 7);
        assert_eq!(
            quorum_for(u64::MAX),
            (u128::from(u64::MAX) * 2 / 3 + 1) as u64
        );
        for t in 1..200u64 {
            let q = quorum_for(t);
            assert!(3 * q > 2 * t && 3 * (q - 1) <= 2 * t);
        }
        let c = Committee::new(infos(4)).unwrap();
        assert_eq!(c.total_weight(), 4);
        assert_eq!(c.quorum(), 3);
        assert_eq!(c.validity_threshold(), 2);
        let one = Committee::new(infos(1)).unwrap();
        assert_eq!(one.quorum(), 1);
    }

    #[test]
    fn toml_roundtrip() {
        let c = Committee::new(infos(4)).unwrap();
        let text = c.to_toml();
        assert!(text.contains("[[authorities]]"));
        let d = Committee::from_toml(&text).unwrap();
        assert_eq!(d.len(), 4);
        for (a, b) in c.members().iter().zip(d.members()) {
            assert_eq!(a.info(), b.info());
        }
        let t = c.members()[2].tag();
        assert_eq!(d.member(&t).unwrap().name(), "anchor-2");
        assert_eq!(d.index_of(&t), Some(2));
    }

    #[test]
    fn invalid_committees() {
        assert_eq!(Committee::new(vec![]).unwrap_err(), CommitteeError::Empty);
        let mut v = infos(2);
        v[1].public_key = v[0].public_key;
        assert!(matches!(
            Committee::new(v).unwrap_err(),
            CommitteeError::DuplicateKey(_)
        ));
        let mut v = infos(2);
        v[1].weight = 0;
        assert!(matches!(
            Committee::new(v).unwrap_err(),
            CommitteeError::ZeroWeight(_)
        ));
        let mut v = infos(2);
        v[0].weight = u64::MAX;
        assert_eq!(
            Committee::new(v).unwrap_err(),
            CommitteeError::WeightOverflow
        );
        let mut v = infos(2);
        v[1].name = v[0].name.clone();
        assert!(matches!(
            Committee::new(v).unwrap_err(),
            CommitteeError::DuplicateName(_)
        ));
        assert!(Committee::from_toml("authorities = 3").is_err());
    }

    #[test]
    fn neighbours_round_trip_through_the_file_and_must_differ() {
        let mut other = infos(4);
        for (i, o) in other.iter_mut().enumerate() {
            o.public_key = Keypair::from_seed(&[150 + i as u8; 32]).public();
        }
        let b = Committee::new(other).unwrap();
        let a = Committee::new(infos(4))
            .unwrap()
            .with_neighbours(vec![Neighbour {
                name: "east".into(),
                committee: Arc::new(b.clone()),
            }])
            .unwrap();
        let text = a.to_toml();
        assert!(text.contains("[[neighbours]]"), "{text}");
        let back = Committee::from_toml(&text).unwrap();
        assert_eq!(back.id(), a.id(), "neighbours are not part of the identity");
        let n = back.neighbour(&b.id()).unwrap();
        assert_eq!(n.name, "east");
        assert_eq!(n.committee.id(), b.id());
        assert!(back.neighbour_by_name("east").is_some());
        let itself = Committee::new(infos(4))
            .unwrap()
            .with_neighbours(vec![Neighbour {
                name: "self".into(),
                committee: Arc::new(Committee::new(infos(4)).unwrap()),
            }]);
        assert!(matches!(itself, Err(CommitteeError::DuplicateNeighbour(_))));
    }
}
