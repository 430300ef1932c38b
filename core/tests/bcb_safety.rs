//! Property test: random interleavings of orders and certificates (conflicting ones included)
//! across 4 authorities never yield two certificates for one (account, nonce), and every
//! authority's supply stays what genesis created.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use flashmesh_core::testing::{authority_keys, committee_of, user_keys};
use flashmesh_core::{
    Authority, Certificate, Committee, DEFAULT_TOKEN, Digest, Genesis, Keypair, PublicKey,
    SignedOrder, TransferOrder, Vote,
};
use proptest::prelude::*;

const USERS: usize = 3;
const AUTHORITIES: usize = 4;
const BALANCE: u64 = 100;

#[derive(Debug, Clone)]
enum Action {
    /// A wallet signs an order at its current nonce (`variant` makes conflicting orders) and
    /// sends it to the authorities in `mask`.
    Order {
        user: usize,
        variant: u64,
        amount: u64,
        mask: u8,
    },
    /// Someone assembles a certificate from the votes gathered for one order, if they reach a
    /// quorum, and sends it to the authorities in `mask`.
    Certify { pick: usize, mask: u8 },
    /// A known certificate is (re)delivered to the authorities in `mask`.
    Deliver { pick: usize, mask: u8 },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => (0..USERS, 0..3u64, 1..70u64, 1..16u8).prop_map(|(user, variant, amount, mask)| {
            Action::Order { user, variant, amount, mask }
        }),
        2 => (any::<usize>(), 1..16u8).prop_map(|(pick, mask)| Action::Certify { pick, mask }),
        1 => (any::<usize>(), 1..16u8).prop_map(|(pick, mask)| Action::Deliver { pick, mask }),
    ]
}

struct World {
    users: Vec<Keypair>,
    committee: Arc<Committee>,
    auths: Vec<Authority>,
    wallet_nonce: Vec<u64>,
    votes: BTreeMap<Digest, (SignedOrder, Vec<Vote>)>,
    certified: HashMap<(PublicKey, u64), HashSet<Digest>>,
    certs: Vec<Certificate>,
}

impl World {
    fn new() -> World {
        let keys = authority_keys(AUTHORITIES, 50);
        let committee = Arc::new(committee_of(&keys, 40000));
        let users = user_keys(USERS);
        let genesis = Genesis::uniform(users.iter().map(Keypair::public), BALANCE);
        let auths = keys
            .into_iter()
            .map(|k| Authority::new(k, committee.clone(), &genesis).unwrap())
            .collect();
        World {
            users,
            committee,
            auths,
            wallet_nonce: vec![0; USERS],
            votes: BTreeMap::new(),
            certified: HashMap::new(),
            certs: Vec::new(),
        }
    }

    fn deliver(&mut self, cert: &Certificate, mask: u8) {
        for (i, a) in self.auths.iter_mut().enumerate() {
            if mask & (1 << i) != 0 {
                // Refusals (missing earlier certificates, missed credits) are fine; they must
                // simply not change state, which the supply check below covers.
                let _ = a.handle_certificate(cert.clone());
            }
        }
    }

    fn step(&mut self, action: &Action) {
        match *action {
            Action::Order {
                user,
                variant,
                amount,
                mask,
            } => {
                let recipient = (user + 1 + variant as usize % (USERS - 1)) % USERS;
                let order = SignedOrder::sign(
                    TransferOrder {
                        sender: self.users[user].public(),
                        recipient: self.users[recipient].public(),
                        token: DEFAULT_TOKEN,
                        amount: amount + variant,
                        nonce: self.wallet_nonce[user],
                        epoch: 5,
                        ttl: 2,
                    },
                    &self.users[user],
                );
                for (i, a) in self.auths.iter_mut().enumerate() {
                    if mask & (1 << i) != 0
                        && let Ok(out) = a.handle_order(order, 5)
                    {
                        let e = self
                            .votes
                            .entry(order.digest())
                            .or_insert_with(|| (order, Vec::new()));
                        e.1.push(out.reply);
                    }
                }
            }
            Action::Certify { pick, mask } => {
                if self.votes.is_empty() {
                    return;
                }
                let (order, votes) = self.votes.values().nth(pick % self.votes.len()).unwrap();
                let cert = Certificate::new(*order, votes);
                if cert.check(&self.committee).is_err() {
                    return;
                }
                let o = *order.order();
                self.certified
                    .entry((o.sender, o.nonce))
                    .or_default()
                    .insert(order.digest());
                let user = self
                    .users
                    .iter()
                    .position(|u| u.public() == o.sender)
                    .unwrap();
                if o.nonce == self.wallet_nonce[user] {
                    self.wallet_nonce[user] += 1;
                }
                self.certs.push(cert.clone());
                self.deliver(&cert, mask);
            }
            Action::Deliver { pick, mask } => {
                if self.certs.is_empty() {
                    return;
                }
                let cert = self.certs[pick % self.certs.len()].clone();
                self.deliver(&cert, mask);
            }
        }
    }

    fn check(&self) -> Result<(), TestCaseError> {
        for ((account, nonce), digests) in &self.certified {
            prop_assert!(
                digests.len() <= 1,
                "two certificates for account {account} nonce {nonce}"
            );
        }
        let supply = (USERS as u128) * u128::from(BALANCE);
        for a in &self.auths {
            prop_assert_eq!(a.supply().get(&DEFAULT_TOKEN).copied(), Some(supply));
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn no_double_certificates_and_supply_conserved(actions in prop::collection::vec(action(), 1..40)) {
        let mut w = World::new();
        for a in &actions {
            w.step(a);
            w.check()?;
        }
        // Deliver every certificate everywhere until nothing changes: all authorities converge.
        let certs = w.certs.clone();
        let progress = |w: &World| -> u64 {
            w.auths
                .iter()
                .flat_map(|a| a.accounts().map(|(_, s)| s.next_sequence))
                .sum()
        };
        loop {
            let before = progress(&w);
            for c in &certs {
                w.deliver(c, 0xf);
            }
            if progress(&w) == before {
                break;
            }
        }
        w.check()?;
        for u in &w.users {
            let states: Vec<_> = w
                .auths
                .iter()
                .map(|a| {
                    let s = a.account(&u.public()).unwrap();
                    (s.next_sequence, s.balance(DEFAULT_TOKEN))
                })
                .collect();
            prop_assert!(states.windows(2).all(|p| p[0] == p[1]), "diverged: {:?}", states);
        }
    }
}
