//! Test fixtures shared by the crates' tests (feature `test-fixtures`; never for binaries):
//! test authority and user keys, a committee of them, and a fixture of N authorities with
//! funded users and their genesis.

use std::sync::Arc;

pub mod mutation;

use crate::authority::{Authority, Genesis};
use crate::committee::{AuthorityInfo, Committee};
use crate::keys::Keypair;
use crate::messages::{DEFAULT_TOKEN, SignedOrder, TransferOrder};

/// `n` authority keys from the seeds `[first_seed + i; 32]`.
pub fn authority_keys(n: usize, first_seed: u8) -> Vec<Keypair> {
    (0..n)
        .map(|i| Keypair::from_seed(&[first_seed + i as u8; 32]))
        .collect()
}

/// `n` user keys from the seeds `[1 + i; 32]`.
pub fn user_keys(n: usize) -> Vec<Keypair> {
    (0..n)
        .map(|i| Keypair::from_seed(&[1 + i as u8; 32]))
        .collect()
}

/// A committee of `keys`, weight 1 each, named `a0`, `a1`, … at `127.0.0.1:{first_port + i}`.
pub fn committee_of(keys: &[Keypair], first_port: u16) -> Committee {
    Committee::new(
        keys.iter()
            .enumerate()
            .map(|(i, k)| AuthorityInfo {
                name: format!("a{i}"),
                public_key: k.public(),
                weight: 1,
                address: format!("127.0.0.1:{}", usize::from(first_port) + i),
            })
            .collect(),
    )
    .expect("a committee of distinct test keys is valid")
}

/// A committee of one authority `a` with weight 1, for tests of signed replies.
pub fn committee_of_one(authority: &Keypair) -> Committee {
    Committee::new(vec![AuthorityInfo {
        name: "a".into(),
        public_key: authority.public(),
        weight: 1,
        address: "127.0.0.1:1".into(),
    }])
    .expect("a committee of one is valid")
}

/// `n` authorities (seeds 100.., ports 47474..) and funded users (seeds 1..) with their genesis.
pub struct Fixture {
    /// The authorities' keys.
    pub keys: Vec<Keypair>,
    /// Their committee.
    pub committee: Arc<Committee>,
    /// The users' keys.
    pub users: Vec<Keypair>,
    /// Every user funded with the same balance.
    pub genesis: Genesis,
}

/// A fixture of `n` authorities and `users` users holding `balance` each.
pub fn fixture(n: usize, users: usize, balance: u64) -> Fixture {
    let keys = authority_keys(n, 100);
    let committee = Arc::new(committee_of(&keys, 47474));
    let users = user_keys(users);
    let genesis = Genesis::uniform(users.iter().map(Keypair::public), balance);
    Fixture {
        keys,
        committee,
        users,
        genesis,
    }
}

impl Fixture {
    /// Authority `i` at genesis.
    pub fn authority(&self, i: usize) -> Authority {
        Authority::new(self.keys[i].clone(), self.committee.clone(), &self.genesis).unwrap()
    }

    /// A signed order of `amount` from user `from` to user `to` (epoch 10, ttl 3).
    pub fn order(&self, from: usize, to: usize, amount: u64, nonce: u64) -> SignedOrder {
        SignedOrder::sign(
            TransferOrder {
                sender: self.users[from].public(),
                recipient: self.users[to].public(),
                token: DEFAULT_TOKEN,
                amount,
                nonce,
                epoch: 10,
                ttl: 3,
            },
            &self.users[from],
        )
    }
}
