//! The README's "A committee by hand", run as written: `flashmesh committee init`, four
//! `merchant-anchor` processes, the wallet binary (address, balance, pay, history), the admin
//! `/status` page, then `flashmesh load` against the same committee. Real processes on loopback
//! UDP. "A handoff by hand" likewise: two committees, `flashmesh committee link`, eight
//! anchors, `wallet handoff`, and payments on both sides. "Withdrawal and deposit by hand":
//! `gateway init` and `serve`, `wallet withdraw`, `POST /deposits`. The anchor, wallet and
//! gateway binaries are other packages' targets: the workspace test run builds them; a run of this package alone skips with a printed reason when they are missing.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Kills the anchors when the test ends, however it ends.
struct Anchors(Vec<Child>);

impl Drop for Anchors {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn sibling(name: &str) -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_flashmesh")).with_file_name(name)
}

fn run(bin: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()))
}

/// `wallet --committee COMMITTEE --key KEY --timeout-s 5 ARGS...`.
fn wallet(bin: &Path, committee: &Path, key: &Path, args: &[&str]) -> Output {
    let mut all = vec![
        "--committee",
        committee.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--timeout-s",
        "5",
    ];
    all.extend_from_slice(args);
    run(bin, &all)
}

/// What a process printed: standard output, then standard error.
fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The public key in what `wallet address` printed.
fn public_key_in(address: &str) -> String {
    address
        .lines()
        .find_map(|l| l.strip_prefix("public key"))
        .map(|t| t.trim().to_string())
        .expect("address prints a public key")
}

fn stdout_ok(bin: &Path, args: &[&str]) -> String {
    let o = run(bin, args);
    assert!(
        o.status.success(),
        "{} {args:?}: {}\n{}",
        bin.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A first port `p` with `p..p+n` free for UDP and TCP on loopback (as far as one can tell).
/// Successive calls give different ranges (the ports are bound only later, by the anchors).
fn free_ports(n: u16) -> u16 {
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let pid = std::process::id();
    let first = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) * 211;
    for i in first..first + 200 {
        let base = (20_000 + pid.wrapping_mul(7).wrapping_add(i.wrapping_mul(37)) % 40_000) as u16;
        let all_free = (base..base + n).all(|p| {
            UdpSocket::bind(("127.0.0.1", p)).is_ok() && TcpListener::bind(("127.0.0.1", p)).is_ok()
        });
        if all_free {
            return base;
        }
    }
    panic!("no free port range");
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

#[test]
fn a_committee_by_hand_as_the_readme_says() {
    let anchor_bin = sibling("merchant-anchor");
    let wallet_bin = sibling("wallet");
    for b in [&anchor_bin, &wallet_bin] {
        if !b.exists() {
            println!(
                "skipped: {} not built (cargo test --workspace builds it)",
                b.display()
            );
            return;
        }
    }
    let flashmesh = PathBuf::from(env!("CARGO_BIN_EXE_flashmesh"));
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("committee");
    let bcb = free_ports(4);
    let admin = free_ports(4);
    let (bcb_s, admin_s) = (bcb.to_string(), admin.to_string());
    let init = stdout_ok(
        &flashmesh,
        &[
            "committee",
            "init",
            "--authorities",
            "4",
            "--accounts",
            "3",
            "--balance",
            "1000",
            "--out",
            c.to_str().unwrap(),
            "--bcb-port",
            &bcb_s,
            "--admin-port",
            &admin_s,
        ],
    );
    assert!(
        init.contains("merchant-anchor"),
        "init prints the commands: {init}"
    );
    let mut anchors = Anchors(Vec::new());
    for i in 0..4 {
        let config = c.join(format!("anchor-{i}/anchor.toml"));
        anchors.0.push(
            Command::new(&anchor_bin)
                .arg("--config")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("anchor starts"),
        );
    }
    let committee = c.join("committee.toml");
    let key = |i: usize| c.join(format!("accounts/account-{i}.key"));
    let w = |k: &Path, args: &[&str]| wallet(&wallet_bin, &committee, k, args);

    // address: the recipient's tag
    let addr = String::from_utf8_lossy(&w(&key(1), &["address"]).stdout).into_owned();
    let tag = addr
        .lines()
        .find_map(|l| l.strip_prefix("tag"))
        .map(|t| t.trim().to_string())
        .expect("address prints a tag");

    // balance, once the anchors answer
    let deadline = Instant::now() + Duration::from_secs(60);
    let balance = loop {
        let o = w(&key(0), &["balance"]);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        if o.status.success() {
            break out;
        }
        assert!(Instant::now() < deadline, "no quorum answered: {out}");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(balance.contains("balance 1000"), "{balance}");

    // pay and history
    let o = w(&key(0), &["pay", "--to", &tag, "--amount", "10"]);
    let paid = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{paid}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(paid.contains("paid 10"), "{paid}");
    let history = String::from_utf8_lossy(&w(&key(0), &["history"]).stdout).into_owned();
    assert!(
        history.contains("nonce    0") && history.contains("10"),
        "{history}"
    );
    let after = String::from_utf8_lossy(&w(&key(0), &["balance"]).stdout).into_owned();
    assert!(after.contains("balance 990"), "{after}");

    // the admin page
    let status = http_get(admin, "/status").expect("status answers");
    assert!(
        status.starts_with("HTTP/1.") && status.contains("200"),
        "{status}"
    );

    // flashmesh load against the same committee: every row final
    let rows = dir.path().join("load/payments.csv");
    let keys: Vec<String> = (0..3).map(|i| key(i).display().to_string()).collect();
    let mut args = vec![
        "load",
        "--committee",
        committee.to_str().unwrap(),
        "--rate",
        "20",
        "--payments",
        "12",
        "--duration-s",
        "3",
        "--bind",
        "127.0.0.1",
        "--out",
        rows.to_str().unwrap(),
    ];
    for k in &keys {
        args.push("--key");
        args.push(k);
    }
    let report = stdout_ok(&flashmesh, &args);
    assert!(report.contains("12 payments"), "{report}");
    let rows = flashmesh_scenario::outputs::read_payments(&rows).unwrap();
    assert_eq!(rows.len(), 12);
    let ok = rows
        .iter()
        .filter(|r| r.outcome == flashmesh_scenario::PaymentOutcome::Ok)
        .count();
    assert!(ok >= 11, "{ok} of 12 final: {rows:?}");
    assert!(rows.iter().all(|r| r.payer != r.payee));
}

/// `flashmesh committee init` of four anchors and `accounts` accounts into `dir`.
fn committee_init(flashmesh: &Path, dir: &Path, accounts: &str) {
    let (bcb, admin) = (free_ports(4).to_string(), free_ports(4).to_string());
    stdout_ok(
        flashmesh,
        &[
            "committee",
            "init",
            "--authorities",
            "4",
            "--accounts",
            accounts,
            "--balance",
            "1000",
            "--out",
            dir.to_str().unwrap(),
            "--bcb-port",
            &bcb,
            "--admin-port",
            &admin,
        ],
    );
}

fn start_anchors(anchor_bin: &Path, dir: &Path, anchors: &mut Anchors) {
    for i in 0..4 {
        anchors.0.push(
            Command::new(anchor_bin)
                .arg("--config")
                .arg(dir.join(format!("anchor-{i}/anchor.toml")))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("anchor starts"),
        );
    }
}

#[test]
fn a_handoff_by_hand_as_the_readme_says() {
    let anchor_bin = sibling("merchant-anchor");
    let wallet_bin = sibling("wallet");
    for b in [&anchor_bin, &wallet_bin] {
        if !b.exists() {
            println!(
                "skipped: {} not built (cargo test --workspace builds it)",
                b.display()
            );
            return;
        }
    }
    let flashmesh = PathBuf::from(env!("CARGO_BIN_EXE_flashmesh"));
    let dir = tempfile::tempdir().unwrap();
    let (east, west) = (dir.path().join("east"), dir.path().join("west"));
    let mut anchors = Anchors(Vec::new());
    committee_init(&flashmesh, &east, "2");
    committee_init(&flashmesh, &west, "1");
    let (ce, cw) = (east.join("committee.toml"), west.join("committee.toml"));
    let linked = stdout_ok(
        &flashmesh,
        &[
            "committee",
            "link",
            ce.to_str().unwrap(),
            cw.to_str().unwrap(),
        ],
    );
    assert!(linked.contains("lists west as a neighbour"), "{linked}");
    start_anchors(&anchor_bin, &east, &mut anchors);
    start_anchors(&anchor_bin, &west, &mut anchors);
    let alice = east.join("accounts/account-0.key");
    let w = |committee: &Path, args: &[&str]| wallet(&wallet_bin, committee, &alice, args);
    // both committees answer
    let deadline = Instant::now() + Duration::from_secs(60);
    for c in [&ce, &cw] {
        while !w(c, &["balance"]).status.success() {
            assert!(Instant::now() < deadline, "no quorum of {}", c.display());
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    let moved = w(&ce, &["handoff", "--to-committee", cw.to_str().unwrap()]);
    assert!(moved.status.success(), "{}", text(&moved));
    let printed = text(&moved);
    assert!(
        printed.contains("moved to west") && printed.contains("balance 1000"),
        "{printed}"
    );
    let there = text(&w(&cw, &["balance"]));
    assert!(
        there.contains("balance 1000 (token 0), next nonce 1"),
        "{there}"
    );
    let bob = east.join("accounts/account-1.key");
    let bob_key = public_key_in(&text(&wallet(&wallet_bin, &ce, &bob, &["address"])));
    let refused = w(&ce, &["pay", "--to", &bob_key, "--amount", "1"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("account_moved"),
        "{}",
        text(&refused)
    );
    let paid = w(&cw, &["pay", "--to", &bob_key, "--amount", "1"]);
    assert!(paid.status.success(), "{}", text(&paid));
    assert!(text(&paid).contains("with nonce 1"), "{}", text(&paid));
}

fn http_post(port: u16, path: &str, bearer: &str, body: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {bearer}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).ok()?;
    Some(reply)
}

/// The README's "Withdrawal and deposit by hand": `gateway init`, four anchors, `gateway
/// serve`, `wallet withdraw`, the gateway's `/status`, `POST /deposits`, and the deposit
/// arriving in the payee's balance.
#[test]
fn a_withdrawal_and_a_deposit_by_hand_as_the_readme_says() {
    let anchor_bin = sibling("merchant-anchor");
    let wallet_bin = sibling("wallet");
    let gateway_bin = sibling("gateway");
    for b in [&anchor_bin, &wallet_bin, &gateway_bin] {
        if !b.exists() {
            println!(
                "skipped: {} not built (cargo test --workspace builds it)",
                b.display()
            );
            return;
        }
    }
    let flashmesh = PathBuf::from(env!("CARGO_BIN_EXE_flashmesh"));
    let dir = tempfile::tempdir().unwrap();
    let shop = dir.path().join("shop");
    committee_init(&flashmesh, &shop, "2");
    let committee = shop.join("committee.toml");
    let gw_dir = shop.join("gateway");
    let (udp, admin) = (free_ports(1), free_ports(1));
    let init = stdout_ok(
        &gateway_bin,
        &[
            "init",
            "--committee",
            committee.to_str().unwrap(),
            "--out",
            gw_dir.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{udp}"),
            "--admin",
            &format!("127.0.0.1:{admin}"),
        ],
    );
    assert!(init.contains("gateway gw pinned in"), "{init}");
    let mut anchors = Anchors(Vec::new());
    start_anchors(&anchor_bin, &shop, &mut anchors);
    anchors.0.push(
        Command::new(&gateway_bin)
            .args(["serve", "--config"])
            .arg(gw_dir.join("gateway.toml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gateway starts"),
    );
    let w = |account: &str, args: &[&str]| {
        let key = shop.join(format!("accounts/account-{account}.key"));
        wallet(&wallet_bin, &committee, &key, args)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !w("0", &["balance"]).status.success() || http_get(admin, "/status").is_none() {
        assert!(
            Instant::now() < deadline,
            "the committee or gateway did not come up"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // Withdrawals wait until the anchors see each other (heartbeats): ask again until then.
    let withdrew = loop {
        let o = w(
            "0",
            &["withdraw", "--to", "IBAN DE00 1234", "--amount", "300"],
        );
        if o.status.success() || Instant::now() > deadline {
            break o;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(withdrew.status.success(), "{}", text(&withdrew));
    let printed = text(&withdrew);
    println!("{printed}");
    assert!(
        printed.contains("withdrew 300 (token 0) to \"IBAN DE00 1234\" with nonce 0")
            && printed.contains("settled by gw reference 1"),
        "{printed}"
    );
    let left = text(&w("0", &["balance"]));
    assert!(left.contains("balance 700 (token 0)"), "{left}");
    let status = http_get(admin, "/status").unwrap();
    assert!(
        status.contains("\"withdrawals_settled\":1") && status.contains("\"withdrawn\":\"300\""),
        "{status}"
    );

    let config = std::fs::read_to_string(gw_dir.join("gateway.toml")).unwrap();
    let token = config
        .lines()
        .find_map(|l| l.strip_prefix("admin_token = "))
        .map(|t| t.trim_matches('"').to_string())
        .expect("gateway init writes an admin token");
    let bob_key = public_key_in(&text(&w("1", &["address"])));
    let body = format!("{{\"account\":\"{bob_key}\",\"amount\":250,\"reference\":\"bank-tx-1\"}}");
    let recorded = http_post(admin, "/deposits", &token, &body).unwrap();
    assert!(
        recorded.contains("\"first\":true") && recorded.contains("\"sequence\":0"),
        "{recorded}"
    );
    let refused = http_post(admin, "/deposits", "wrong", &body).unwrap();
    assert!(
        refused.starts_with("HTTP/1.0 401") || refused.starts_with("HTTP/1.1 401"),
        "{refused}"
    );
    loop {
        let b = text(&w("1", &["balance"]));
        if b.contains("balance 1250 (token 0)") {
            break;
        }
        assert!(
            Instant::now() < deadline + Duration::from_secs(30),
            "deposit not applied: {b}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}
