//! The operators' policy tools end to end through the `flashmesh` binary: operator keys, a new
//! bundle, signatures, offline verification saying why a bundle fails, and `push` to an admin API
//! (a recording HTTP endpoint, and a real anchor's token check).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

fn flashmesh(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flashmesh"))
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "0")
        .env_remove("FLASHMESH_ADMIN_TOKEN")
        .output()
        .expect("flashmesh runs")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = flashmesh(dir, args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command that must fail and returns its standard error.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = flashmesh(dir, args);
    assert!(!out.status.success(), "{args:?} should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn new_sign_verify_and_every_refusal_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for k in ["op1", "op2", "op3"] {
        let public = ok(
            d,
            &[
                "operator",
                "keygen",
                "--out",
                &format!("{k}.key"),
                "--operators",
                "ops.toml",
            ],
        );
        assert_eq!(public.trim().len(), 64, "{public}");
    }
    // a stranger's key, not in ops.toml
    ok(d, &["operator", "keygen", "--out", "stranger.key"]);
    assert!(fails(d, &["operator", "keygen", "--out", "op1.key"]).contains("exists"));

    ok(
        d,
        &[
            "policy",
            "new",
            "--bundle-version",
            "3",
            "--class",
            "vote=0:6",
            "--retry-allowance",
            "4",
            "--dedup-types",
            "order,vote,certificate",
            "--penalty-secs",
            "30",
            "--epoch-length-ms",
            "5000",
            "--probe-interval-ms",
            "20",
            "--probe-miss-count",
            "4",
            "--note",
            "test",
            "--out",
            "b.toml",
        ],
    );
    let text = std::fs::read_to_string(d.join("b.toml")).unwrap();
    let b = flashmesh_controller::PolicyBundle::parse(&text).unwrap();
    assert_eq!(b.body.version, 3);
    assert_eq!(b.body.settings.retry_allowance, 4);
    assert_eq!(b.body.settings.dedup_types, vec![1, 2, 3]);
    assert_eq!(b.body.settings.probe_miss_count, 4);
    assert!(
        b.body
            .settings
            .classes
            .iter()
            .any(|c| c.msg_type == 2 && c.priority == 6)
    );
    assert!(fails(d, &["policy", "new", "--class", "vote=0:9"]).contains("priority 9"));

    fn verify<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec!["policy", "verify", "--operators", "ops.toml"];
        args.extend_from_slice(extra);
        args
    }
    assert!(fails(d, &verify(&["b.toml"])).contains("threshold"));
    assert!(fails(d, &verify(&["--threshold", "2", "b.toml"])).contains("unsigned"));
    ok(d, &["policy", "sign", "--key", "op1.key", "b.toml"]);
    let e = fails(d, &verify(&["--threshold", "2", "b.toml"]));
    assert!(
        e.contains("below threshold") && e.contains("1 valid"),
        "{e}"
    );
    ok(d, &["policy", "sign", "--key", "op3.key", "b.toml"]);
    let good = ok(d, &verify(&["--threshold", "2", "b.toml"]));
    assert!(good.starts_with("ok: version 3 signed by 2 of 3"), "{good}");
    assert!(fails(d, &verify(&["--threshold", "3", "b.toml"])).contains("below threshold"));
    let e = fails(
        d,
        &verify(&["--threshold", "2", "--current-version", "3", "b.toml"]),
    );
    assert!(e.contains("replayed"), "{e}");

    // signed by someone not pinned
    ok(
        d,
        &[
            "policy",
            "sign",
            "--key",
            "stranger.key",
            "b.toml",
            "--out",
            "s.toml",
        ],
    );
    assert!(fails(d, &verify(&["--threshold", "2", "s.toml"])).contains("unknown signer"));
    // changed after signing
    let signed = std::fs::read_to_string(d.join("b.toml")).unwrap();
    let tampered = signed.replace("retry_allowance = 4", "retry_allowance = 9");
    assert_ne!(tampered, signed);
    std::fs::write(d.join("t.toml"), tampered).unwrap();
    assert!(fails(d, &verify(&["--threshold", "2", "t.toml"])).contains("tampered"));
    // expired, and JSON on the way
    ok(
        d,
        &[
            "policy",
            "new",
            "--expires-at",
            "1",
            "--json",
            "--out",
            "x.json",
        ],
    );
    ok(d, &["policy", "sign", "--key", "op1.key", "x.json"]);
    ok(d, &["policy", "sign", "--key", "op2.key", "x.json"]);
    assert!(
        std::fs::read_to_string(d.join("x.json"))
            .unwrap()
            .starts_with('{')
    );
    assert!(fails(d, &verify(&["--threshold", "2", "x.json"])).contains("expired"));
    // not a bundle
    std::fs::write(d.join("junk.toml"), "[body\n").unwrap();
    assert!(fails(d, &verify(&["--threshold", "1", "junk.toml"])).contains("junk.toml"));
}

/// Accepts one HTTP request and answers `status` with `body`; returns the request as text.
fn serve_once(
    listener: TcpListener,
    status: &str,
    body: &'static str,
) -> std::thread::JoinHandle<String> {
    let status = status.to_string();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let mut content = vec![0u8; length];
        reader.read_exact(&mut content).unwrap();
        let mut stream = reader.into_inner();
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        head + &String::from_utf8(content).unwrap()
    })
}

#[test]
fn push_posts_the_bundle_with_the_token_and_reports_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["policy", "new", "--out", "b.toml"]);
    let bundle = std::fs::read_to_string(d.join("b.toml")).unwrap();

    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let admin = format!("http://{}", l.local_addr().unwrap());
    let server = serve_once(l, "200 OK", r#"{"accepted":true,"version":1}"#);
    let out = ok(
        d,
        &[
            "policy", "push", "--admin", &admin, "--token", "s3cret", "b.toml",
        ],
    );
    assert!(out.contains("\"accepted\":true"), "{out}");
    let request = server.join().unwrap();
    assert!(
        request.starts_with("POST /policy HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request.contains("authorization: Bearer s3cret\r\n"),
        "{request}"
    );
    assert!(request.ends_with(&bundle), "{request}");

    // a refusal is printed and the command fails
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let admin = format!("http://{}", l.local_addr().unwrap());
    let server = serve_once(
        l,
        "403 Forbidden",
        r#"{"accepted":false,"refusal":"unsigned","message":"refused: bundle is unsigned"}"#,
    );
    let out = flashmesh(
        d,
        &[
            "policy", "push", "--admin", &admin, "--token", "t", "b.toml",
        ],
    );
    server.join().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"refusal\":\"unsigned\""));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 403"));
    // no token at all is a usage error
    assert!(fails(d, &["policy", "push", "--admin", &admin, "b.toml"]).contains("--token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_to_a_real_anchor_needs_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let lc = merchant_anchor::init_committee(
        dir.path(),
        &merchant_anchor::InitOptions {
            authorities: 1,
            accounts: 1,
            ports: merchant_anchor::Ports::Free,
            workers: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let anchor = merchant_anchor::Anchor::start(&lc.anchors[0])
        .await
        .unwrap();
    let admin = format!(
        "http://{}",
        anchor
            .admin_addr()
            .expect("the anchor serves its admin API")
    );
    let token = lc.anchors[0].admin_token.clone().unwrap();
    let d = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        ok(&d, &["policy", "new", "--out", "b.toml"]);
        let e = flashmesh(
            &d,
            &[
                "policy", "push", "--admin", &admin, "--token", "nope", "b.toml",
            ],
        );
        assert!(String::from_utf8_lossy(&e.stderr).contains("HTTP 401"));
        // the right token gets through; this anchor runs no controller, and says so
        let e = flashmesh(
            &d,
            &[
                "policy", "push", "--admin", &admin, "--token", &token, "b.toml",
            ],
        );
        assert!(String::from_utf8_lossy(&e.stdout).contains("no_controller"));
        assert!(String::from_utf8_lossy(&e.stderr).contains("HTTP 404"));
        let e = flashmesh(&d, &["policy", "show", "--admin", &admin]);
        assert!(String::from_utf8_lossy(&e.stderr).contains("HTTP 404"));
    })
    .await
    .unwrap();
    anchor.shutdown().await;
}
