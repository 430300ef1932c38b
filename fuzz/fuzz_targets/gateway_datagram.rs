//! Fuzz target: the gateway's datagram triage (decode, then the quorum check against a
//! 4-member committee). No panic; anything sent to the ledger is a certificate that checks.

#![no_main]

use std::sync::OnceLock;

use flashmesh_core::{AuthorityInfo, Committee, Keypair};
use flashmesh_gateway::server::{Triage, triage};
use libfuzzer_sys::fuzz_target;

fn committee() -> &'static Committee {
    static C: OnceLock<Committee> = OnceLock::new();
    C.get_or_init(|| {
        Committee::new(
            (0..4u8)
                .map(|i| AuthorityInfo {
                    name: format!("a{i}"),
                    public_key: Keypair::from_seed(&[100 + i; 32]).public(),
                    weight: 1,
                    address: format!("127.0.0.1:{}", 47474 + u16::from(i)),
                })
                .collect(),
        )
        .expect("a committee of distinct keys")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Triage::Settle { certificate, .. } = triage(data, committee()) {
        assert!(certificate.check(committee()).is_ok());
    }
});
