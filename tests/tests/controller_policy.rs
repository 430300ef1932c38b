//! Signed policy bundles pushed to a controller that drives flash-switches: the whole refusal
//! matrix (each refusal distinct, counted and audited), and an accepted bundle turned into
//! P4Runtime writes that the switches then hold.

mod controller_common;

use flashmesh_core::host::clock::unix_secs;

use controller_common::*;
use flashmesh_controller::Controller;
use flashmesh_controller::policy::{AuditLog, OperatorKey, PolicyBundle, PolicySettings};
use flashmesh_controller::runtime::PolicyError;
use flashmesh_controller::sdn::flash_mesh::{self as fm, names};

fn refusal(
    r: Result<flashmesh_controller::policy::VerifiedPolicy, PolicyError>,
) -> (String, String) {
    match r {
        Err(PolicyError::Refused(x)) => (x.kind().to_string(), x.to_string()),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("accepted"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusal_matrix_and_an_accepted_bundle() {
    let t = triangle().await;
    let ctrl = Controller::start(t.spec.clone())
        .await
        .expect("controller starts");
    let ops = &t.operators;
    let stranger = OperatorKey::from_seed([42; 32]);

    let mut settings = PolicySettings {
        retry_allowance: 4,
        ..PolicySettings::default()
    };
    settings.classes.retain(|c| c.msg_type != 2);
    settings
        .classes
        .push(flashmesh_controller::policy::ClassRule {
            msg_type: 2,
            class: 0,
            priority: 6,
        });
    settings.dedup_types = vec![1, 2, 3];
    let fresh = |v: u64| PolicyBundle::new(v, unix_secs() + 3600, settings.clone());

    // unsigned
    let (k, msg) = refusal(ctrl.apply_policy(&fresh(2)).await);
    assert_eq!(k, "unsigned");
    assert!(msg.contains("unsigned"));
    // below threshold
    let mut b = fresh(2);
    ops[0].sign(&mut b);
    let (k, msg) = refusal(ctrl.apply_policy(&b).await);
    assert_eq!(k, "below_threshold");
    assert!(
        msg.contains("1 valid") && msg.contains("2 required"),
        "{msg}"
    );
    // unknown signer
    let mut b = fresh(2);
    ops[0].sign(&mut b);
    stranger.sign(&mut b);
    let (k, msg) = refusal(ctrl.apply_policy(&b).await);
    assert_eq!(k, "unknown_signer");
    assert!(msg.contains(&stranger.public_hex()));
    // tampered
    let mut b = fresh(2);
    ops[0].sign(&mut b);
    ops[1].sign(&mut b);
    b.body.settings.penalty_secs = 1;
    assert_eq!(refusal(ctrl.apply_policy(&b).await).0, "tampered");
    // expired
    let mut b = PolicyBundle::new(2, unix_secs() - 1, settings.clone());
    ops[0].sign(&mut b);
    ops[1].sign(&mut b);
    assert_eq!(refusal(ctrl.apply_policy(&b).await).0, "expired");

    // nothing changed on the switches so far
    let classify = ctrl
        .session("b")
        .unwrap()
        .read_table(names::CLASSIFY)
        .await
        .unwrap();
    let mut want = fm::classify_entries(&PolicySettings::default());
    want.sort_by_key(|e| e.key());
    let mut have = classify.clone();
    have.sort_by_key(|e| e.key());
    assert_eq!(have.len(), want.len());

    // accepted: through TOML, as an operator would hand it over
    let mut good = fresh(2);
    ops[1].sign(&mut good);
    ops[2].sign(&mut good);
    let good = PolicyBundle::from_toml(&good.to_toml()).unwrap();
    let v = ctrl.apply_policy(&good).await.expect("accepted");
    assert_eq!(v.signers.len(), 2);
    for node in ["a", "b", "c"] {
        let s = ctrl.session(node).unwrap();
        let cls = s.read_table(names::CLASSIFY).await.unwrap();
        let vote = fm::classify_entries(&settings)
            .into_iter()
            .find(|e| e.params[1].1 == vec![6])
            .unwrap();
        assert!(
            cls.iter()
                .any(|e| e.key() == vote.key() && e.same_action(&vote)),
            "{node}: {cls:?}"
        );
        assert_eq!(s.read_table(names::DEDUP_TYPES).await.unwrap().len(), 3);
        let ep = s.read_default(names::EPOCH_WINDOW).await.unwrap().unwrap();
        assert_eq!(
            ep.params
                .iter()
                .find(|p| p.0 == "retry_allowance")
                .unwrap()
                .1,
            vec![4]
        );
    }
    assert_eq!(ctrl.policy().await.0, Some(2));

    // replayed: the same bundle again, and an older version
    assert_eq!(refusal(ctrl.apply_policy(&good).await).0, "replayed");
    let mut old = fresh(1);
    ops[0].sign(&mut old);
    ops[1].sign(&mut old);
    let (k, msg) = refusal(ctrl.apply_policy(&old).await);
    assert_eq!(k, "replayed");
    assert!(
        msg.contains("version 1") && msg.contains("current version 2"),
        "{msg}"
    );

    // counted and audited
    let m = ctrl.metrics().await;
    for (reason, n) in [
        ("unsigned", 1),
        ("below_threshold", 1),
        ("unknown_signer", 1),
        ("tampered", 1),
        ("expired", 1),
        ("replayed", 2),
    ] {
        let line = format!(
            "flashmesh_policy_bundles_total{{outcome=\"refused\",reason=\"{reason}\"}} {n}"
        );
        assert!(m.contains(&line), "missing {line}");
    }
    assert!(m.contains("flashmesh_policy_bundles_total{outcome=\"accepted\",reason=\"\"} 1"));
    let log = AuditLog::new(t.audit_dir.path().join("policy-audit.jsonl"));
    let (recs, bad) = log.read_all().unwrap();
    assert_eq!(bad, 0);
    assert_eq!(recs.len(), 8);
    assert_eq!(recs.iter().filter(|r| r.outcome == "accepted").count(), 1);
    assert_eq!(log.last_accepted_version().unwrap(), Some(2));

    // a restarted controller keeps the replay floor from the audit log
    drop(ctrl);
    let ctrl = Controller::start(t.spec.clone())
        .await
        .expect("controller restarts");
    assert_eq!(refusal(ctrl.apply_policy(&good).await).0, "replayed");
    // ... and the policy in force, re-verified from the log, is still written to the switches
    let (version, restored) = ctrl.policy().await;
    assert_eq!(version, Some(2));
    assert_eq!(restored, settings);
    let ep = ctrl
        .session("a")
        .unwrap()
        .read_default(names::EPOCH_WINDOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ep.params
            .iter()
            .find(|p| p.0 == "retry_allowance")
            .unwrap()
            .1,
        vec![4]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_whose_writes_fail_is_rolled_back_everywhere() {
    let mut t = triangle().await;
    t.spec.settings.probe_miss_count = 50; // about policy writes, not links
    let ctrl = Controller::start(t.spec.clone())
        .await
        .expect("controller starts");
    let before: Vec<Vec<flashmesh_controller::p4rt::EntrySpec>> = {
        let mut v = Vec::new();
        for n in ["a", "b"] {
            let mut e = ctrl
                .session(n)
                .unwrap()
                .read_table(names::CLASSIFY)
                .await
                .unwrap();
            e.sort_by_key(|x| x.key());
            v.push(e);
        }
        v
    };
    // switch c stops accepting this controller's writes: its stream (and so its mastership)
    // is gone, while the controller still believes it is primary there
    let c = ctrl.session("c").unwrap();
    c.close();
    let same_epoch = flashmesh_controller::p4rt::EntryUpdate::modify(fm::epoch_entry(
        ctrl.epoch(),
        PolicySettings::default().retry_allowance,
    ));
    let mut refused = false;
    for _ in 0..100 {
        if c.write(std::slice::from_ref(&same_epoch)).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refused, "switch c no longer takes this controller's writes");

    let mut settings = PolicySettings::default();
    settings.classes[0].priority = 5;
    let mut b = PolicyBundle::new(7, unix_secs() + 3600, settings);
    t.operators[0].sign(&mut b);
    t.operators[1].sign(&mut b);
    match ctrl.apply_policy(&b).await {
        Err(PolicyError::WriteFailed(e)) => {
            assert_eq!(e.node, "c");
            assert!(e.rolled_back, "{e}");
        }
        other => panic!("expected a failed write, got {other:?}"),
    }
    // a and b hold their previous entries again
    for (i, n) in ["a", "b"].iter().enumerate() {
        let mut now_entries = ctrl
            .session(n)
            .unwrap()
            .read_table(names::CLASSIFY)
            .await
            .unwrap();
        now_entries.sort_by_key(|x| x.key());
        assert_eq!(now_entries.len(), before[i].len());
        for (x, y) in now_entries.iter().zip(&before[i]) {
            assert_eq!(x.key(), y.key());
            assert!(x.same_action(y), "{n}: {x:?} != {y:?}");
        }
    }
    assert_eq!(ctrl.policy().await.0, None, "nothing came into force");
    assert_eq!(ctrl.policy_counters().await.rolled_back, 1);
    let (recs, _) = AuditLog::new(t.audit_dir.path().join("policy-audit.jsonl"))
        .read_all()
        .unwrap();
    assert_eq!(recs.last().unwrap().outcome, "rolled_back");
}
