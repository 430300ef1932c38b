//! The `flash-switch` binary: simple_switch_grpc's command line, the control socket, graceful
//! shutdown on SIGTERM, and `flash-switch compile`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_flash-switch");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn connect_within(port: u16, limit: Duration) -> Option<TcpStream> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn runs_with_bmv2_command_line_and_stops_on_sigterm() {
    let (grpc, control) = (free_port(), free_port());
    let mut child = Command::new(BIN)
        .args([
            "--no-p4",
            "--device-id",
            "7",
            "--thrift-port",
            "9090",
            "--log-console",
            "-L",
            "info",
        ])
        .args(["--control-addr", &format!("127.0.0.1:{control}")])
        .args([
            "--",
            "--grpc-server-addr",
            &format!("127.0.0.1:{grpc}"),
            "--cpu-port",
            "255",
        ])
        .args(["--priority-queues", "8"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = scopeguard(child.id());
    assert!(
        connect_within(grpc, Duration::from_secs(20)).is_some(),
        "P4Runtime port not listening"
    );
    let stream = connect_within(control, Duration::from_secs(5)).expect("control port");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut ask = |cmd: &str| {
        (&stream).write_all(format!("{cmd}\n").as_bytes()).unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        line.trim().to_string()
    };
    assert_eq!(ask("set_queue_rate 3000 1"), "ok");
    assert_eq!(ask("set_link 1 10 1 0.01 500"), "ok");
    assert!(ask("show_link 1").contains("\"rate_pps\":500.0"));
    assert!(ask("bogus").starts_with("error:"));
    // SAFETY: kill sends a signal to the child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(guard);
    assert!(status.success(), "exit status {status}");
}

/// Kills the process if the test fails before it stopped.
fn scopeguard(pid: u32) -> impl Drop {
    struct Kill(u32);
    impl Drop for Kill {
        fn drop(&mut self) {
            // SAFETY: signal to a process this test started; harmless if it already exited.
            unsafe { libc::kill(self.0 as i32, libc::SIGKILL) };
        }
    }
    Kill(pid)
}

#[test]
fn compile_writes_p4info_or_reports_diagnostics() {
    let dir = std::env::temp_dir().join(format!("fs-compile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("router.p4info.txtpb");
    let prog = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/router.p4");
    let ok = Command::new(BIN)
        .args(["compile", prog, "--p4info"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("RouterIngress.ipv4_lpm") && text.contains("arch: \"v1model\""),
        "{text}"
    );

    let bad = dir.join("bad.p4");
    std::fs::write(
        &bad,
        "#include <core.p4>\ncontrol C() { apply { x = 1; } }\n",
    )
    .unwrap();
    let err = Command::new(BIN)
        .args(["compile"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!err.status.success());
    let msg = String::from_utf8_lossy(&err.stderr);
    assert!(msg.contains("bad.p4:") && msg.contains("error"), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn refuses_bad_command_lines() {
    let out = Command::new(BIN).args(["-i", "eth0"]).output().unwrap();
    assert!(!out.status.success());
    let out = Command::new(BIN)
        .args(["--no-p4", "prog.p4"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = Command::new(BIN).args(["missing.json"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));
}
