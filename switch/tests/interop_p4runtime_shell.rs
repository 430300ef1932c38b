//! Interop with a P4Runtime client nobody here wrote: p4runtime-shell (PyPI) connects to
//! flash-switch, pushes a pipeline (P4Info derived by the engine, P4 source as the device
//! config), writes and reads table entries, reads counters, receives a packet-in and sends
//! a packet-out, which must leave port 3.
//!
//! Needs `python3` with `p4runtime-shell` installed (CI installs it); set
//! `FLASHMESH_SKIP_PY=1` to skip with a printed reason where it is missing.

mod p4rt_support;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use p4rt_support::*;

const DEV: u64 = 0;

fn python_ready() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import p4runtime_sh.shell"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return true;
    }
    if std::env::var("FLASHMESH_SKIP_PY").is_ok_and(|v| v == "1") {
        println!("skipped: python3 with p4runtime-shell is not available and FLASHMESH_SKIP_PY=1");
        return false;
    }
    panic!(
        "the interop test needs python3 with p4runtime-shell: `pip install p4runtime-shell` \
         (or set FLASHMESH_SKIP_PY=1 to skip)"
    );
}

fn frame(dst: [u8; 6], ether_type: u16, body: &[u8]) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
    f.extend_from_slice(&ether_type.to_be_bytes());
    f.extend_from_slice(body);
    f
}

async fn next_line(lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(45), lines.recv())
        .await
        .ok()
        .flatten()
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p4runtime_shell_drives_flash_switch() {
    if !python_ready() {
        return;
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    let source_path = here.join("interop.p4");
    let scratch =
        Scratch(std::env::temp_dir().join(format!("flash-switch-interop-{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0).unwrap();
    let p4info_path = scratch.0.join("interop.p4info.txtpb");
    // The P4Info comes from `flash-switch compile --p4info`, as a user would make it.
    let compiled = Command::new(env!("CARGO_BIN_EXE_flash-switch"))
        .arg("compile")
        .arg(&source_path)
        .arg("--p4info")
        .arg(&p4info_path)
        .output()
        .expect("flash-switch runs");
    assert!(
        compiled.status.success(),
        "flash-switch compile failed: {}",
        String::from_utf8_lossy(&compiled.stderr)
    );
    let written = std::fs::read_to_string(&p4info_path).unwrap();
    let derived = flashmesh_p4::p4info_file(&source_path).expect("interop.p4 compiles");
    assert_eq!(written, flashmesh_p4::p4info_text(&derived));

    let mut h = Harness::start(DEV).await;
    let mut child = Command::new("python3")
        .arg(here.join("p4runtime_shell_interop.py"))
        .arg(h.addr.to_string())
        .arg(DEV.to_string())
        .arg(&p4info_path)
        .arg(&source_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let pid = child.id() as libc::pid_t;
    // Whatever happens, the script does not outlive the test by more than a minute.
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        // SAFETY: kill(2) on the child's pid; harmless if it already exited.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("p4runtime-shell: {line}");
            let _ = lines_tx.send(line);
        }
    });
    let err_thread = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });

    // The script pushed the pipeline and wrote its entries; send traffic into port 1.
    let mut ready = false;
    while let Some(line) = next_line(&mut lines).await {
        if line == "INJECT" {
            ready = true;
            break;
        }
    }
    if !ready {
        let _ = child.kill();
        panic!(
            "p4runtime-shell did not get ready:\n{}",
            err_thread.join().unwrap_or_default()
        );
    }
    let broadcast = frame([0xff; 6], 0x88b5, b"to the controller");
    let unicast = frame([2, 0, 0, 0, 0, 2], 0x88b5, b"to port 2");
    assert!(h.device.inject_frame(1, broadcast.clone()));
    assert!(h.device.inject_frame(1, unicast.clone()));
    let forwarded = h
        .output(2, WAIT)
        .await
        .expect("the dmac entry forwards to port 2");
    assert_eq!(forwarded, unicast);
    child.stdin.as_mut().unwrap().write_all(b"GO\n").unwrap();

    // The script checks counters and the packet-in, then sends a packet-out to port 3.
    let out = h.output(3, Duration::from_secs(30)).await;
    let mut summary = None;
    while let Some(line) = next_line(&mut lines).await {
        if line.starts_with('{') {
            summary = Some(line);
        }
    }
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    let errors = err_thread.join().unwrap_or_default();
    assert!(
        status.success(),
        "p4runtime-shell script failed ({status}):\n{errors}"
    );
    let summary = summary.expect("the script printed its summary");
    assert!(summary.contains("\"dmac_entries\": 2"), "{summary}");
    let mut payload = vec![2, 0, 0, 0, 0, 3, 2, 0, 0, 0, 0, 1, 0x88, 0xb5];
    payload.extend_from_slice(b"packet-out");
    assert_eq!(out.expect("the packet-out leaves port 3"), payload);
    h.stop().await;
}
