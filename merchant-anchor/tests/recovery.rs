//! Bounded recovery: an anchor's store with a snapshot restarts to exactly the state it had,
//! replaying only the records after the snapshot, also when the snapshot already reflects
//! changes that reached the journal after it.

use std::collections::BTreeMap;

use flashmesh_core::Authority;
use merchant_anchor::history::History;
use merchant_anchor::{Store, recover};

/// One account: balances by token, and the next sequence.
type Account = (Vec<(u32, u64)>, u64);

/// Every account's balances and next sequence, in key order.
fn state(a: &Authority) -> BTreeMap<[u8; 32], Account> {
    a.accounts()
        .map(|(k, s)| {
            (
                *k.as_bytes(),
                (
                    s.balances.iter().map(|(t, v)| (*t, *v)).collect(),
                    s.next_sequence,
                ),
            )
        })
        .collect()
}

#[test]
fn a_snapshot_bounds_what_a_restart_replays_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let h = History::new(7);
    let mut live = h.authority();
    {
        let mut store = Store::open(dir.path()).unwrap();
        h.write(Some(&mut store), &mut live, 0..2_000, 2).unwrap();
        let (back, replayed) =
            recover(h.key.clone(), h.committee.clone(), &h.genesis, &store).unwrap();
        assert_eq!(replayed, 2_000, "without a snapshot, the whole journal");
        assert_eq!(state(&back), state(&live));
        // The live state runs 300 changes ahead of the journal when the snapshot is taken.
        h.write(None, &mut live, 2_000..2_300, 2).unwrap();
        let snap = live.snapshot();
        store.write_snapshot(store.len(), &snap).unwrap();
        // Those 300 reach the journal after the snapshot (journaled through a second copy of
        // the state that had not applied them yet), then 400 more.
        let mut ahead = h.authority();
        h.write(None, &mut ahead, 0..2_000, 2).unwrap();
        h.write(Some(&mut store), &mut ahead, 2_000..2_300, 2)
            .unwrap();
        h.write(Some(&mut store), &mut live, 2_300..2_700, 2)
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.len(), 2_700);
    let (back, replayed) = recover(h.key.clone(), h.committee.clone(), &h.genesis, &store).unwrap();
    assert_eq!(replayed, 700, "only what follows the snapshot");
    assert_eq!(state(&back), state(&live));
    assert_eq!(
        back.supply(),
        h.authority().supply(),
        "supply conserved through snapshot and replay"
    );
}

#[test]
fn a_damaged_snapshot_stops_the_restart_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let h = History::new(3);
    let mut live = h.authority();
    {
        let mut store = Store::open(dir.path()).unwrap();
        h.write(Some(&mut store), &mut live, 0..50, 1).unwrap();
        let mut snap = live.snapshot();
        let mid = snap.len() / 2;
        snap[mid] ^= 0x40;
        store.write_snapshot(store.len(), &snap).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let err = recover(h.key.clone(), h.committee.clone(), &h.genesis, &store).unwrap_err();
    assert!(err.to_string().contains("snapshot"), "{err}");
}
