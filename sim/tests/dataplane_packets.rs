//! The simulator's data-plane model against the program's own packet tests: every send of
//! `p4src/tests/{dedup,epoch_window,blocked}.pkt` is dropped by the model exactly when the test
//! expects a drop, and the drop counters the tests state match the model's.

use std::collections::BTreeMap;
use std::path::Path;

use flashmesh_core::wire::Header;
use flashmesh_sim::dataplane::{Drop, FilterKey, SwitchFilters};
use flashmesh_tests::packet::parse_number;
use flashmesh_tests::pkt_test::{Expect, Step, load};

fn value(pairs: &[(String, String)], name: &str) -> Option<u128> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| parse_number(v))
}

fn reason(d: Drop) -> u32 {
    match d {
        Drop::Stale => 1,
        Drop::Future => 2,
        Drop::Retry => 3,
        Drop::Blocked => 4,
        Drop::Duplicate => 5,
    }
}

fn run(file: &str) -> usize {
    let path = Path::new("../p4src/tests").join(file);
    let t = load(&path).unwrap_or_else(|e| panic!("{file}: {e:?}"));
    let mut sw = SwitchFilters::default();
    sw.dedup_types.clear();
    let mut drops: BTreeMap<u32, u64> = BTreeMap::new();
    let mut sends = 0;
    for step in &t.steps {
        match step {
            Step::Default {
                table,
                action,
                params,
                ..
            } if table == "FmIngress.epoch_window" && action == "FmIngress.set_epoch" => {
                sw.current_epoch = value(params, "current_epoch").unwrap() as u32;
                sw.retry_allowance = value(params, "retry_allowance").unwrap() as u8;
            }
            Step::Entry { table, matches, .. } if table == "FmIngress.dedup_types" => {
                sw.dedup_types
                    .push(value(matches, "hdr.fmh.msg_type").unwrap() as u8);
            }
            Step::Delete { table, matches, .. } if table == "FmIngress.dedup_types" => {
                let t = value(matches, "hdr.fmh.msg_type").unwrap() as u8;
                sw.dedup_types.retain(|x| *x != t);
            }
            Step::Entry { table, matches, .. } if table == "FmIngress.blocked_senders" => {
                sw.blocked
                    .insert(value(matches, "hdr.fmh.sender").unwrap() as u64);
            }
            Step::Delete { table, matches, .. } if table == "FmIngress.blocked_senders" => {
                sw.blocked
                    .remove(&(value(matches, "hdr.fmh.sender").unwrap() as u64));
            }
            Step::Send {
                line,
                bytes,
                expect,
                ..
            } => {
                // Frames without a whole FMH are outside the model (it filters FMH datagrams).
                let Some(Ok(h)) = bytes.get(42..).map(Header::new_checked) else {
                    continue;
                };
                let k = FilterKey {
                    msg_type: h.msg_type_raw(),
                    retry: h.retry(),
                    epoch: h.epoch(),
                    ttl: h.ttl(),
                    sender: h.sender().to_u64(),
                    nonce: h.nonce(),
                    dst: u32::from_be_bytes(bytes[30..34].try_into().unwrap()),
                };
                let got = sw.check(&k);
                let want_drop = expect == &vec![Expect::Drop];
                assert_eq!(got.is_err(), want_drop, "{file}:{line}: model gave {got:?}");
                if let Err(d) = got {
                    *drops.entry(reason(d)).or_default() += 1;
                }
                sends += 1;
            }
            Step::Counter {
                line,
                name,
                index,
                packets,
                ..
            } if name == "FmIngress.drops" && (1..=5).contains(index) => {
                assert_eq!(
                    drops.get(index).copied().unwrap_or(0),
                    *packets,
                    "{file}:{line}: drops[{index}]"
                );
            }
            _ => {}
        }
    }
    sends
}

#[test]
fn duplicate_filter_matches_the_program() {
    assert!(run("dedup.pkt") > 10);
}

#[test]
fn epoch_window_matches_the_program() {
    assert!(run("epoch_window.pkt") > 10);
}

#[test]
fn blocked_senders_match_the_program() {
    assert!(run("blocked.pkt") > 3);
}
