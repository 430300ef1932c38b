//! Genesis balances: the initial state every authority of a committee starts from.
//!
//! TOML form:
//!
//! ```toml
//! [[balances]]
//! account = "…64 hex…"
//! token = 0          # optional, default token 0
//! amount = 1000
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::keys::PublicKey;
use crate::messages::{DEFAULT_TOKEN, TokenId};

/// One initial balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisBalance {
    pub account: PublicKey,
    #[serde(default)]
    pub token: TokenId,
    pub amount: u64,
}

/// The initial balances of a committee's accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    #[serde(default)]
    pub balances: Vec<GenesisBalance>,
}

/// Why a genesis is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    #[error("genesis supply of token {0} overflows u64")]
    SupplyOverflow(TokenId),
    #[error("genesis TOML: {0}")]
    Toml(String),
}

impl Genesis {
    /// `amount` of the default token for each account.
    pub fn uniform(accounts: impl IntoIterator<Item = PublicKey>, amount: u64) -> Genesis {
        Genesis {
            balances: accounts
                .into_iter()
                .map(|account| GenesisBalance {
                    account,
                    token: DEFAULT_TOKEN,
                    amount,
                })
                .collect(),
        }
    }
    /// Total supply per token; fails if any token's supply exceeds u64 (so that no credit can
    /// ever overflow a balance).
    pub fn supply(&self) -> Result<BTreeMap<TokenId, u64>, GenesisError> {
        let mut s: BTreeMap<TokenId, u64> = BTreeMap::new();
        for b in &self.balances {
            let e = s.entry(b.token).or_default();
            *e = e
                .checked_add(b.amount)
                .ok_or(GenesisError::SupplyOverflow(b.token))?;
        }
        Ok(s)
    }
    /// Parses a genesis file.
    pub fn from_toml(s: &str) -> Result<Genesis, GenesisError> {
        toml::from_str(s).map_err(|e| GenesisError::Toml(e.to_string()))
    }
    /// The genesis file text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;

    #[test]
    fn toml_roundtrip_and_supply() {
        let a = Keypair::from_seed(&[1; 32]).public();
        let b = Keypair::from_seed(&[2; 32]).public();
        let mut g = Genesis::uniform([a, b], 100);
        g.balances.push(GenesisBalance {
            account: a,
            token: 7,
            amount: 5,
        });
        let t = g.to_toml();
        assert_eq!(Genesis::from_toml(&t).unwrap(), g);
        let s = g.supply().unwrap();
        assert_eq!(s[&0], 200);
        assert_eq!(s[&7], 5);
        let text = format!("[[balances]]\naccount = \"{}\"\namount = 3\n", a.to_hex());
        let g2 = Genesis::from_toml(&text).unwrap();
        assert_eq!(g2.balances[0].token, DEFAULT_TOKEN);
        let over = Genesis::uniform([a, b], u64::MAX);
        assert_eq!(over.supply(), Err(GenesisError::SupplyOverflow(0)));
    }
}
