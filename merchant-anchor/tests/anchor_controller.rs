//! An anchor that is also the P4Runtime controller of a flash-switch running
//! `p4src/flash_mesh.p4` (embedded in this process, P4Runtime over loopback gRPC): one epoch for
//! the authority and the switch, a double-spender blocked in-line for the penalty time, signed
//! policy over `POST /policy` with its whole refusal matrix, and the bearer token on every
//! state-changing route.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flashmesh_core::host::clock::unix_secs;

use flash_switch::device::DeviceConfig;
use flash_switch::embed::EmbeddedSwitch;
use flash_switch::p4rt::P4rtServer;
use flashmesh_controller::p4rt::{Backoff, SessionConfig, TargetConfig};
use flashmesh_controller::policy::{AuditLog, OperatorKey, PolicyBundle, PolicySettings};
use flashmesh_controller::runtime::config::{OperatorsConfig, SwitchConfig};
use flashmesh_controller::sdn::flash_mesh::{self as fm, names};
use flashmesh_controller::sdn::topology::{Attachment, Node};
use flashmesh_controller::{Controller, ControllerConfig};
use flashmesh_core::{Envelope, ErrorCode, Keypair, Message, SignedOrder, TransferOrder};
use flashmesh_transport::Transport;
use merchant_anchor::{
    Anchor, ControllerSource, InitOptions, LocalCommittee, Ports, init_committee,
};

const NODE: &str = "m0";
/// Hosts behind port 2 of the switch.
const HOSTS: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 0);

struct Rig {
    sw: EmbeddedSwitch,
    server: P4rtServer,
    lc: LocalCommittee,
    cfg: merchant_anchor::AnchorConfig,
    anchor: Anchor,
    operators: Vec<OperatorKey>,
    token: String,
    _dir: tempfile::TempDir,
}

fn session_config(server: &P4rtServer, election_id: u64) -> SessionConfig {
    SessionConfig {
        addr: server.local_addr().to_string(),
        device_id: 0,
        election_id,
        election_id_high: 0,
        role: String::new(),
        backoff: Backoff {
            initial_ms: 10,
            max_ms: 200,
            attempts: 20,
        },
    }
}

fn p4_program() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../p4src/flash_mesh.p4")
}

/// How the anchor gets its controller.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    /// A controller file named in `anchor.toml`, as an operator would write it.
    File,
    /// A spec built in code, given to `Anchor::start_with` (as an in-process mesh does).
    Spec,
}

/// A switch with ports 1 and 2, and a one-anchor committee whose anchor drives it.
async fn rig(penalty_secs: u64, via: Via) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let cfg = DeviceConfig {
        priority_queues: 8,
        ..DeviceConfig::default()
    };
    let sw = EmbeddedSwitch::start(None, &[1, 2], cfg).expect("switch starts");
    let server = flash_switch::p4rt::spawn(sw.device().clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("P4Runtime server starts");

    let group =
        flashmesh_transport::bind_reuseport_group("127.0.0.1:0".parse().unwrap(), 2).unwrap();
    let port = group[0].socket().local_addr().unwrap().port();
    let lc = init_committee(
        dir.path(),
        &InitOptions {
            authorities: 1,
            accounts: 2,
            balance: 1000,
            ports: Ports::Given { bcb: vec![port] },
            workers: 2,
            ..InitOptions::default()
        },
    )
    .unwrap();

    let operators: Vec<OperatorKey> = (1..=3).map(|i| OperatorKey::from_seed([i; 32])).collect();
    let settings = PolicySettings {
        penalty_secs,
        // epochs move only when the test moves them
        epoch_length_ms: 600_000,
        probe_interval_ms: 50,
        ..PolicySettings::default()
    };
    let controller = ControllerConfig {
        name: "anchor-0".into(),
        switches: vec![SwitchConfig {
            node: NODE.into(),
            session: session_config(&server, 10),
            target: TargetConfig::FlashSwitch {
                program: p4_program(),
                p4info: None,
            },
            probe_ip: Ipv4Addr::new(169, 254, 0, 1),
        }],
        nodes: vec![Node {
            name: NODE.into(),
            mac: [2, 0, 0, 0, 0, 1],
            attachments: vec![Attachment {
                addr: HOSTS,
                prefix_len: 24,
                port: 2,
                mac: [4, 0, 0, 0, 0, 2],
            }],
        }],
        links: vec![],
        operators: OperatorsConfig {
            keys: operators.iter().map(OperatorKey::public_hex).collect(),
            threshold: 2,
            audit_log: None,
        },
        settings,
    };
    let anchor_dir = lc.anchor_config_files[0].parent().unwrap();
    std::fs::write(
        anchor_dir.join("controller.toml"),
        toml::to_string(&controller).unwrap(),
    )
    .unwrap();
    let mut cfg = lc.anchors[0].clone();
    cfg.controller = Some(ControllerSource::File("controller.toml".into()));
    cfg.resolve_paths(anchor_dir);
    let token = cfg.admin_token.clone().unwrap();
    let transports: Vec<Arc<dyn Transport>> = group
        .into_iter()
        .map(|t| Arc::new(t) as Arc<dyn Transport>)
        .collect();
    let anchor = match via {
        Via::File => Anchor::start_on(&cfg, transports).await,
        Via::Spec => {
            let spec = controller.into_spec().expect("valid controller config");
            assert!(spec.audit.is_none(), "the anchor picks the audit log");
            let mut plain = cfg.clone();
            plain.controller = None;
            Anchor::start_with(&plain, transports, Some(spec)).await
        }
    }
    .expect("anchor with controller starts");
    Rig {
        sw,
        server,
        lc,
        cfg,
        anchor,
        operators,
        token,
        _dir: dir,
    }
}

impl Rig {
    fn controller(&self) -> &Controller {
        self.anchor
            .controller()
            .expect("the anchor runs a controller")
    }

    async fn switch_epoch(&self) -> (u64, u64) {
        let e = self
            .controller()
            .session(NODE)
            .unwrap()
            .read_default(names::EPOCH_WINDOW)
            .await
            .unwrap()
            .expect("epoch_window default entry");
        let p = |n: &str| {
            e.params
                .iter()
                .find(|p| p.0 == n)
                .map(|p| p.1.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)))
                .unwrap()
        };
        (p("current_epoch"), p("retry_allowance"))
    }

    async fn blocked(&self) -> Vec<flashmesh_controller::p4rt::EntrySpec> {
        self.controller()
            .session(NODE)
            .unwrap()
            .read_table(names::BLOCKED_SENDERS)
            .await
            .unwrap()
    }
}

/// One HTTP/1.1 request; returns the status and the body.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, body.to_string())
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn metric(text: &str, line_prefix: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(line_prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn order(from: &Keypair, to: &Keypair, amount: u64, nonce: u64, epoch: u32) -> SignedOrder {
    SignedOrder::sign(
        TransferOrder {
            sender: from.public(),
            recipient: to.public(),
            token: 0,
            amount,
            nonce,
            epoch,
            ttl: 8,
        },
        from,
    )
}

/// Sends `datagram` to the anchor over loopback UDP (retrying) and returns the first reply.
async fn request(to: SocketAddr, datagram: Vec<u8>) -> Option<Message> {
    tokio::task::spawn_blocking(move || {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut buf = [0u8; 2048];
        for _ in 0..10 {
            s.send_to(&datagram, to).unwrap();
            if let Ok((n, _)) = s.recv_from(&mut buf)
                && let Ok(env) = Envelope::decode(&buf[..n])
            {
                return Some(env.message);
            }
        }
        None
    })
    .await
    .unwrap()
}

/// The BCB datagram in an Ethernet/IPv4/UDP frame towards a host behind port 2.
fn frame(datagram: &[u8]) -> Vec<u8> {
    let udp_len = 8 + datagram.len();
    let mut f = Vec::new();
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0, 1, 0x08, 0x00]);
    let ip = f.len();
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&((20 + udp_len) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&Ipv4Addr::new(10, 0, 9, 9).octets());
    f.extend_from_slice(&Ipv4Addr::new(10, 0, 1, 5).octets());
    let mut sum: u32 = f[ip..ip + 20]
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    f[ip + 10..ip + 12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    f.extend_from_slice(&47474u16.to_be_bytes());
    f.extend_from_slice(&47474u16.to_be_bytes());
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(datagram);
    f
}

/// Sends a frame into port 1 and reports whether it came out of port 2 within `within`.
async fn forwarded_within(sw: &EmbeddedSwitch, f: Vec<u8>, within: Duration) -> bool {
    let out = sw.port(2).unwrap();
    while out.try_recv().is_some() {}
    assert!(sw.port(1).unwrap().send(f));
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if out.try_recv().is_some() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

/// The frame crosses the switch (waits generously: a loaded machine may be slow).
async fn forwarded(sw: &EmbeddedSwitch, f: Vec<u8>) -> bool {
    forwarded_within(sw, f, Duration::from_secs(3)).await
}

async fn wait_for(what: &str, within: Duration, mut ok: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_epoch_for_authority_and_switch_and_double_spenders_are_blocked() {
    let r = rig(2, Via::File).await;
    let admin = r
        .anchor
        .admin_addr()
        .expect("the anchor serves its admin API");

    // healthy, and primary of its switch
    let (status, body) = http(admin, "GET", "/healthz", None, "").await;
    assert_eq!(status, 200, "{body}");
    let h = json(&body);
    assert_eq!(h["controller"]["switches"][0]["node"], NODE);
    assert_eq!(h["controller"]["switches"][0]["primary"], true);
    assert_eq!(h["controller"]["switches"][0]["connected"], true);

    // the first epoch is in the switch and in the authority
    assert_eq!(r.anchor.epoch(), 1);
    assert_eq!(r.switch_epoch().await.0, 1);

    // POST /epoch moves both; without or with a wrong token nothing moves
    for token in [None, Some("wrong")] {
        let (status, _) = http(admin, "POST", "/epoch", token, r#"{"epoch":5}"#).await;
        assert_eq!(status, 401);
    }
    assert_eq!(r.switch_epoch().await.0, 1);
    let (status, body) = http(admin, "POST", "/epoch", Some(&r.token), r#"{"epoch":5}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(r.switch_epoch().await.0, 5);
    wait_for("authority epoch 5", Duration::from_secs(2), async || {
        r.anchor.epoch() == 5
    })
    .await;
    let (status, _) = http(admin, "POST", "/epoch", Some(&r.token), r#"{"epoch":4}"#).await;
    assert_eq!(status, 409, "the epoch never goes back");
    assert_eq!(r.switch_epoch().await.0, 5);
    // the controller's own epoch moves (its ticker does this every epoch length)
    let next = r.controller().advance_epoch().await;
    assert_eq!(next, 6);
    assert_eq!(r.switch_epoch().await.0, 6);
    wait_for("authority epoch 6", Duration::from_secs(2), async || {
        r.anchor.epoch() == 6
    })
    .await;
    let (_, status_doc) = http(admin, "GET", "/status", None, "").await;
    assert_eq!(json(&status_doc)["epoch"], 6);
    // ... and the authority checks orders against it: epoch 6 + ttl 8 is fine, far past is stale
    let (alice, bob) = (&r.lc.accounts[0], &r.lc.accounts[1]);
    let stale = SignedOrder::sign(
        TransferOrder {
            ttl: 1,
            ..*order(alice, bob, 5, 0, 2).order()
        },
        alice,
    );
    match request(
        r.anchor.bcb_addr(),
        Envelope::order(stale).encode().unwrap(),
    )
    .await
    {
        Some(Message::Error(e)) => assert_eq!(e.code, ErrorCode::StaleEpoch, "{}", e.detail),
        other => panic!("expected a stale-epoch error, got {other:?}"),
    }

    // alice's honest order is voted and her frames cross the switch
    let first = order(alice, bob, 5, 0, 6);
    let datagram = Envelope::order(first).encode().unwrap();
    match request(r.anchor.bcb_addr(), datagram.clone()).await {
        Some(Message::Vote(_)) => {}
        other => panic!("expected a vote, got {other:?}"),
    }
    assert!(forwarded(&r.sw, frame(&datagram)).await);
    assert!(r.blocked().await.is_empty());

    // a second order for the same nonce: refused, and alice is blocked in the switch
    let conflicting = Envelope::order(order(alice, bob, 6, 0, 6))
        .encode()
        .unwrap();
    match request(r.anchor.bcb_addr(), conflicting.clone()).await {
        Some(Message::Error(e)) => assert_eq!(e.code, ErrorCode::ConflictingOrder),
        other => panic!("expected a conflicting-order error, got {other:?}"),
    }
    let want = fm::blocked_entry(alice.tag().0);
    wait_for(
        "the blocked_senders entry",
        Duration::from_secs(2),
        async || r.blocked().await.iter().any(|e| e.key() == want.key()),
    )
    .await;
    assert!(r.controller().is_blocked(&alice.tag().0).await);
    // in-line: her next frame is dropped by the switch (counted as blocked_sender), bob's passes
    let drops_before = blocked_drops(r.controller()).await;
    assert!(!forwarded_within(&r.sw, frame(&conflicting), Duration::from_millis(300)).await);
    wait_for(
        "the blocked_sender drop",
        Duration::from_secs(2),
        async || blocked_drops(r.controller()).await == drops_before + 1,
    )
    .await;
    let bobs = Envelope::order(order(bob, alice, 1, 0, 6))
        .encode()
        .unwrap();
    assert!(forwarded(&r.sw, frame(&bobs)).await);
    let (_, m) = http(admin, "GET", "/metrics", None, "").await;
    assert!(
        metric(&m, "flashmesh_penalties_applied_total").unwrap() >= 1,
        "{m}"
    );
    assert_eq!(metric(&m, "flashmesh_penalty_failures_total"), Some(0));
    assert!(
        m.contains("flashmesh_epoch 6"),
        "controller metrics appended: {m}"
    );
    // one exposition: no metric family declared twice
    let mut families: Vec<&str> = m
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let declared = families.len();
    families.sort_unstable();
    families.dedup();
    assert_eq!(
        families.len(),
        declared,
        "a metric family is declared twice"
    );
    assert!(
        m.contains("flashmesh_controller_primary{node=\"m0\"} 1"),
        "{m}"
    );

    // after the penalty time (2 s) the entry is gone and her frames pass again
    wait_for("the penalty to end", Duration::from_secs(6), async || {
        r.blocked().await.is_empty()
    })
    .await;
    assert!(!r.controller().is_blocked(&alice.tag().0).await);
    // (a new message: the first one again would be a duplicate for the switch's filter)
    let next = Envelope::order(order(alice, bob, 5, 1, 6))
        .encode()
        .unwrap();
    assert!(forwarded(&r.sw, frame(&next)).await);

    // a restarted anchor carries on from the last epoch, in the authority and the switch
    let Rig {
        anchor,
        cfg,
        sw,
        server,
        ..
    } = r;
    anchor.shutdown().await;
    let anchor = Anchor::start(&cfg).await.expect("anchor restarts");
    assert_eq!(anchor.epoch(), 6);
    let c = anchor.controller().unwrap();
    assert_eq!(c.epoch(), 6);
    let e = c
        .session(NODE)
        .unwrap()
        .read_default(names::EPOCH_WINDOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.params[0], ("current_epoch".to_string(), vec![6]));
    anchor.shutdown().await;
    drop((sw, server));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_shows_a_lost_mastership_and_penalties_then_fail_counted() {
    let r = rig(60, Via::File).await;
    let admin = r
        .anchor
        .admin_addr()
        .expect("the anchor serves its admin API");
    let (status, _) = http(admin, "GET", "/healthz", None, "").await;
    assert_eq!(status, 200);
    // another controller with a higher election id takes the switch over
    let other = flashmesh_controller::p4rt::Session::connect(session_config(&r.server, 99))
        .await
        .unwrap();
    assert!(other.wait_primary(Duration::from_secs(2)).await);
    let mut last = String::new();
    wait_for(
        "healthz to report the lost mastership",
        Duration::from_secs(3),
        async || {
            let (status, body) = http(admin, "GET", "/healthz", None, "").await;
            last = body;
            status == 503
        },
    )
    .await;
    let h = json(&last);
    assert_eq!(h["status"], "unhealthy");
    assert_eq!(h["controller"]["switches"][0]["primary"], false);
    assert_eq!(h["controller"]["switches"][0]["connected"], true);

    // the penalty of a double-spender cannot be written now: counted as a failure
    let (alice, bob) = (&r.lc.accounts[0], &r.lc.accounts[1]);
    let epoch = r.anchor.epoch();
    let first = Envelope::order(order(alice, bob, 5, 0, epoch))
        .encode()
        .unwrap();
    assert!(matches!(
        request(r.anchor.bcb_addr(), first).await,
        Some(Message::Vote(_))
    ));
    let second = Envelope::order(order(alice, bob, 7, 0, epoch))
        .encode()
        .unwrap();
    assert!(matches!(
        request(r.anchor.bcb_addr(), second).await,
        Some(Message::Error(_))
    ));
    wait_for(
        "the failed penalty to be counted",
        Duration::from_secs(3),
        async || {
            let (_, m) = http(admin, "GET", "/metrics", None, "").await;
            metric(&m, "flashmesh_penalty_failures_total") == Some(1)
        },
    )
    .await;
    drop(other);
    r.anchor.shutdown().await;
}

async fn dedup(r: &Rig) -> usize {
    r.controller()
        .session(NODE)
        .unwrap()
        .read_table(names::DEDUP_TYPES)
        .await
        .unwrap()
        .len()
}

async fn blocked_drops(c: &Controller) -> u64 {
    c.session(NODE)
        .unwrap()
        .read_counter(names::DROPS)
        .await
        .unwrap()
        .into_iter()
        .find(|(i, _, _)| *i == 4)
        .map_or(0, |(_, p, _)| p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_push_over_http_refusal_matrix_audit_and_switch_writes() {
    let r = rig(60, Via::Spec).await;
    let admin = r
        .anchor
        .admin_addr()
        .expect("the anchor serves its admin API");
    let ops = &r.operators;
    let stranger = OperatorKey::from_seed([42; 32]);

    let (status, body) = http(admin, "GET", "/policy", None, "").await;
    assert_eq!(status, 200, "{body}");
    let p = json(&body);
    assert!(p["version"].is_null());
    assert_eq!(p["settings"]["retry_allowance"], 2);

    let settings = PolicySettings {
        retry_allowance: 4,
        dedup_types: vec![1, 2, 3],
        penalty_secs: 30,
        epoch_length_ms: 600_000,
        ..PolicySettings::default()
    };
    let fresh = |v: u64| PolicyBundle::new(v, unix_secs() + 3600, settings.clone());
    let signed = |mut b: PolicyBundle, keys: &[&OperatorKey]| {
        for k in keys {
            k.sign(&mut b);
        }
        b
    };
    let mut tampered = signed(fresh(2), &[&ops[0], &ops[1]]);
    tampered.body.settings.retry_allowance = 200;
    let good = signed(fresh(2), &[&ops[1], &ops[2]]);

    // no token, wrong token: 401 and nothing recorded
    for token in [None, Some("wrong")] {
        let (status, body) = http(admin, "POST", "/policy", token, &good.to_toml()).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(json(&body)["error"], "unauthorised");
    }

    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("unsigned", fresh(2).to_toml(), 403, "unsigned"),
        (
            "below_threshold",
            signed(fresh(2), &[&ops[0]]).to_json(),
            403,
            "below threshold",
        ),
        (
            "unknown_signer",
            signed(fresh(2), &[&ops[0], &stranger]).to_toml(),
            403,
            "unknown signer",
        ),
        ("tampered", tampered.to_toml(), 403, "tampered"),
        (
            "expired",
            signed(
                PolicyBundle::new(2, unix_secs() - 1, settings.clone()),
                &[&ops[0], &ops[1]],
            )
            .to_toml(),
            422,
            "expired",
        ),
        (
            "undecodable",
            "[body\nversion = ".to_string(),
            400,
            "not a policy bundle",
        ),
    ];
    for (kind, body, want_status, words) in &cases {
        let (status, answer) = http(admin, "POST", "/policy", Some(&r.token), body).await;
        assert_eq!(status, *want_status, "{kind}: {answer}");
        let a = json(&answer);
        assert_eq!(a["accepted"], false, "{kind}");
        assert_eq!(a["refusal"], *kind, "{answer}");
        assert!(
            a["message"].as_str().unwrap().contains(words),
            "{kind}: {answer}"
        );
    }
    // nothing reached the switch
    assert_eq!(r.switch_epoch().await.1, 2);
    assert_eq!(
        dedup(&r).await,
        flashmesh_controller::PolicySettings::default()
            .dedup_types
            .len()
    );

    // accepted (JSON this time): the switch holds the new entries
    let (status, answer) = http(admin, "POST", "/policy", Some(&r.token), &good.to_json()).await;
    assert_eq!(status, 200, "{answer}");
    let a = json(&answer);
    assert_eq!(a["accepted"], true);
    assert_eq!(a["version"], 2);
    assert_eq!(a["signers"].as_array().unwrap().len(), 2);
    assert_eq!(r.switch_epoch().await.1, 4);
    assert_eq!(dedup(&r).await, 3);
    let (_, body) = http(admin, "GET", "/policy", None, "").await;
    let p = json(&body);
    assert_eq!(p["version"], 2);
    assert_eq!(p["settings"]["penalty_secs"], 30);

    // the same bundle again is a replay
    let (status, answer) = http(admin, "POST", "/policy", Some(&r.token), &good.to_toml()).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(json(&answer)["refusal"], "replayed");
    assert!(
        answer.contains("version 2 is not above the current version 2"),
        "{answer}"
    );

    // counted
    let (_, m) = http(admin, "GET", "/metrics", None, "").await;
    for (reason, n) in [
        ("unsigned", 1),
        ("below_threshold", 1),
        ("unknown_signer", 1),
        ("tampered", 1),
        ("expired", 1),
        ("replayed", 1),
    ] {
        let line = format!(
            "flashmesh_policy_bundles_total{{outcome=\"refused\",reason=\"{reason}\"}} {n}"
        );
        assert!(m.contains(&line), "missing {line}");
    }
    assert!(m.contains("flashmesh_policy_bundles_total{outcome=\"accepted\",reason=\"\"} 1"));
    assert_eq!(metric(&m, "flashmesh_policy_undecodable_total"), Some(1));
    assert_eq!(metric(&m, "flashmesh_admin_unauthorised_total"), Some(2));

    // audited, in the anchor's data directory
    let log = AuditLog::new(r.lc.anchors[0].data_dir.join("policy-audit.jsonl"));
    let (recs, bad) = log.read_all().unwrap();
    assert_eq!(bad, 0);
    let outcomes: Vec<(&str, &str)> = recs
        .iter()
        .map(|r| (r.outcome.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("refused", "unsigned"),
            ("refused", "below_threshold"),
            ("refused", "unknown_signer"),
            ("refused", "tampered"),
            ("refused", "expired"),
            ("refused", "undecodable"),
            ("accepted", ""),
            ("refused", "replayed"),
        ]
    );
    r.anchor.shutdown().await;
}
