//! Exactly once across processes, for each back-end: a worker process (this test binary run
//! again, as the ignored test `worker`) settles a long list of withdrawals and records as many
//! deposits, acknowledging each on stdout once the call returned; the test kills it with SIGKILL
//! part-way, replays the whole list and checks that every acknowledged call kept its reference,
//! nothing was recorded twice, references and sequences have no gap or duplicate, and the totals
//! are the sums over the distinct withdrawals and deposits. A second test runs two workers on the
//! same list at once: each withdrawal is settled by exactly one of them.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use flashmesh_gateway::ledger::{PostgresLedger, PrimaryLedger, SqliteLedger};

use common::{
    Fixture, POSTGRES_ENV, PostgresFixture, SqliteFixture, assert_gap_free, deposit,
    expected_totals, mix, withdrawal,
};

/// What the worker opens: `sqlite:<path>` or `postgres:<schema>` (server from [`POSTGRES_ENV`]).
const WORKER_ENV: &str = "FLASHMESH_LEDGER_WORKER";
/// How many withdrawals (and as many deposits) the worker goes through.
const COUNT_ENV: &str = "FLASHMESH_LEDGER_WORKER_COUNT";
/// The lists the kill -9 tests give the worker, which is killed between an eighth and
/// three-eighths of the way. Every call that records something commits with an fsync (about 3 ms
/// for SQLite, 7 ms for PostgreSQL on this machine's disk), and the replay records what the
/// worker did not: these lengths keep each test well under 30 s.
const SQLITE_CRASH_COUNT: u64 = 1_500;
const POSTGRES_CRASH_COUNT: u64 = 800;
/// The worker's `now_ms` is the item's index; the replay's is this plus the index, so a
/// settlement's time tells which process made it.
const REPLAY_EPOCH_MS: u64 = 1_000_000_000;
/// No test here lasts longer, once it has the disk.
const DEADLINE: Duration = Duration::from_secs(25);

/// The tests here are bound by the disk's fsyncs: they take turns, so each has it to itself and
/// its time bound holds.
static DISK: Mutex<()> = Mutex::new(());

fn take_the_disk() -> MutexGuard<'static, ()> {
    DISK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One acknowledgement line of the worker: the call for item `index` returned `number` (the
/// settlement's reference or the deposit's sequence) and `first`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ack {
    deposit: bool,
    index: u64,
    number: u64,
    first: bool,
}

impl Ack {
    fn parse(line: &str) -> Option<Self> {
        let mut words = line.strip_prefix("ack ")?.split(' ');
        let deposit = match words.next()? {
            "settled" => false,
            "deposit" => true,
            _ => return None,
        };
        Some(Self {
            deposit,
            index: words.next()?.parse().ok()?,
            number: words.next()?.parse().ok()?,
            first: words.next()?.parse().ok()?,
        })
    }
}

/// The worker process. Not a test of its own: the tests below run it, told what to do through
/// the environment.
#[test]
#[ignore = "the worker process of the crash tests, started by them"]
fn worker() {
    let Ok(target) = std::env::var(WORKER_ENV) else {
        println!("{WORKER_ENV} is not set: this is the crash tests' worker, run by them");
        return;
    };
    let count: u64 = std::env::var(COUNT_ENV)
        .expect("count")
        .parse()
        .expect("count");
    let mut ledger: Box<dyn PrimaryLedger> = match target.split_once(':') {
        Some(("sqlite", path)) => Box::new(SqliteLedger::open(path).expect("open")),
        Some(("postgres", schema)) => {
            let conninfo = std::env::var(POSTGRES_ENV).expect("conninfo");
            Box::new(PostgresLedger::connect_in_schema(&conninfo, schema).expect("connect"))
        }
        _ => panic!("{WORKER_ENV}={target:?} names no back-end"),
    };
    println!("ready");
    for i in 0..count {
        let s = ledger.settle(&withdrawal(i), i).expect("settle");
        println!("ack settled {i} {} {}", s.reference, s.first);
        let d = ledger
            .record_deposit(&deposit(i), i)
            .expect("record deposit");
        println!("ack deposit {i} {} {}", d.sequence, d.first);
    }
}

/// A running worker and its acknowledgements as they arrive.
struct Worker {
    child: Child,
    acks: mpsc::Receiver<Ack>,
}

impl Worker {
    fn start(target: &str, count: u64, conninfo: Option<&str>) -> Self {
        let mut command = Command::new(std::env::current_exe().expect("test binary"));
        command
            .args([
                "worker",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(WORKER_ENV, target)
            .env(COUNT_ENV, count.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(conninfo) = conninfo {
            command.env(POSTGRES_ENV, conninfo);
        }
        let mut child = command.spawn().expect("start the worker");
        let stdout = child.stdout.take().expect("worker stdout");
        let (tx, acks) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(ack) = Ack::parse(&line)
                    && tx.send(ack).is_err()
                {
                    break;
                }
            }
        });
        Self { child, acks }
    }

    /// Waits for the next acknowledgement; `None` once the worker's stdout is closed.
    fn next(&self, until: Instant) -> Option<Ack> {
        let left = until.saturating_duration_since(Instant::now());
        match self.acks.recv_timeout(left) {
            Ok(ack) => Some(ack),
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("the worker said nothing in time"),
        }
    }

    /// Every acknowledgement up to the end of the worker's output, and its exit status.
    fn finish(mut self, until: Instant) -> (Vec<Ack>, std::process::ExitStatus) {
        let mut acks = Vec::new();
        while let Some(ack) = self.next(until) {
            acks.push(ack);
        }
        (acks, self.child.wait().expect("wait for the worker"))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // A worker left running by a failed assertion: stop it (a no-op once it has exited).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The kill -9 test for the ledger at `target`, reached in this process through `fixture`.
fn killed_worker_then_replay(
    fixture: &dyn Fixture,
    target: &str,
    conninfo: Option<&str>,
    count: u64,
) {
    let _disk = take_the_disk();
    drop(fixture.open()); // the schema exists before the worker starts
    let started = Instant::now();
    let worker = Worker::start(target, count, conninfo);
    // Kill after a number of acknowledgements and a delay that change from run to run, so the
    // kill lands at any point of a call (inside a transaction, in its commit, after it, while
    // printing), not always just after an acknowledgement.
    let clock = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seed = mix(u64::from(clock.subsec_nanos()) ^ u64::from(std::process::id()));
    let kill_after = count / 4 + seed % (count / 2);
    let mut acks = Vec::new();
    while (acks.len() as u64) < kill_after {
        match worker.next(started + DEADLINE) {
            Some(ack) => acks.push(ack),
            None => panic!("the worker ended after {} acknowledgements", acks.len()),
        }
    }
    thread::sleep(Duration::from_micros(mix(seed) % 8_000));
    let mut worker = worker;
    worker.child.kill().expect("SIGKILL the worker");
    let (rest, status) = worker.finish(started + DEADLINE);
    acks.extend(rest);
    assert!(
        !status.success(),
        "the worker was killed, not finished: {status:?}"
    );
    let settled_acks = acks.iter().filter(|a| !a.deposit).count() as u64;
    assert!(settled_acks < count, "the kill came after the whole list");
    println!(
        "worker killed after {} acknowledgements ({settled_acks} settlements) in {:?}",
        acks.len(),
        started.elapsed()
    );

    // The replay: everything again, from a new connection.
    let mut ledger = fixture.open();
    let acked = |deposit: bool| -> BTreeMap<u64, u64> {
        acks.iter()
            .filter(|a| a.deposit == deposit)
            .map(|a| (a.index, a.number))
            .collect()
    };
    let (acked_settlements, acked_deposits) = (acked(false), acked(true));
    let mut references = Vec::new();
    let mut sequences = Vec::new();
    let (mut settled_by_worker, mut recorded_by_worker) = (0u64, 0u64);
    for i in 0..count {
        let s = ledger.settle(&withdrawal(i), REPLAY_EPOCH_MS + i).unwrap();
        let acked = acked_settlements.get(&i);
        let by_worker = check_replayed(
            "withdrawal",
            i,
            s.first,
            s.settled_at_ms,
            s.reference,
            acked,
        );
        settled_by_worker += u64::from(by_worker);
        references.push(s.reference);
        let d = ledger
            .record_deposit(&deposit(i), REPLAY_EPOCH_MS + i)
            .unwrap();
        let acked = acked_deposits.get(&i);
        let by_worker = check_replayed("deposit", i, d.first, d.created_at_ms, d.sequence, acked);
        recorded_by_worker += u64::from(by_worker);
        sequences.push(d.sequence);
        if started.elapsed() > DEADLINE {
            panic!("the replay is too slow: {i} of {count} in {DEADLINE:?}");
        }
    }
    // The worker settled what it acknowledged, and at most the one call it was killed in more.
    let deposit_acks = acks.len() as u64 - settled_acks;
    assert!((settled_acks..=settled_acks + 1).contains(&settled_by_worker));
    assert!((deposit_acks..=deposit_acks + 1).contains(&recorded_by_worker));
    println!(
        "the worker settled {settled_by_worker} and recorded {recorded_by_worker} deposits, \
         {settled_acks} and {deposit_acks} acknowledged"
    );
    assert_gap_free(references, 1, "settlement references");
    assert_gap_free(sequences, 0, "deposit sequences");
    let withdrawals: Vec<_> = (0..count).map(withdrawal).collect();
    let deposits: Vec<_> = (0..count).map(deposit).collect();
    assert_eq!(
        ledger.totals().unwrap(),
        expected_totals(&withdrawals, &deposits)
    );
    println!("replay done in {:?} in all", started.elapsed());
}

/// Checks the replay's answer for item `i` (recorded at `time_ms` with `number`, `first` or not)
/// against the worker's acknowledgement `acked`, if any, and says whether the worker recorded it.
fn check_replayed(
    what: &str,
    i: u64,
    first: bool,
    time_ms: u64,
    number: u64,
    acked: Option<&u64>,
) -> bool {
    let by_worker = time_ms < REPLAY_EPOCH_MS;
    assert_eq!(
        first, !by_worker,
        "{what} {i}: first only where the replay recorded it"
    );
    if let Some(acked) = acked {
        assert!(
            by_worker,
            "acknowledged {what} {i} lost: recorded again by the replay"
        );
        assert_eq!(
            number, *acked,
            "{what} {i} changed its reference or sequence"
        );
        assert_eq!(time_ms, i, "{what} {i} changed its time");
    }
    by_worker
}

/// Two workers on one ledger settle the same list at once.
fn two_workers_settle_once(fixture: &dyn Fixture, target: &str, conninfo: Option<&str>) {
    const COUNT: u64 = 300;
    let _disk = take_the_disk();
    drop(fixture.open());
    let until = Instant::now() + DEADLINE;
    let workers = [
        Worker::start(target, COUNT, conninfo),
        Worker::start(target, COUNT, conninfo),
    ];
    let runs: Vec<Vec<Ack>> = workers
        .into_iter()
        .map(|w| {
            let (acks, status) = w.finish(until);
            assert!(status.success(), "worker failed: {status:?}");
            acks
        })
        .collect();
    for deposit in [false, true] {
        let mut firsts = Vec::new();
        for i in 0..COUNT {
            let answers: Vec<&Ack> = runs
                .iter()
                .map(|run| {
                    run.iter()
                        .find(|a| a.deposit == deposit && a.index == i)
                        .expect("acked")
                })
                .collect();
            assert_eq!(
                answers.iter().filter(|a| a.first).count(),
                1,
                "item {i}: one first"
            );
            assert_eq!(answers[0].number, answers[1].number, "item {i}: one number");
            firsts.push(answers[0].number);
        }
        assert_gap_free(firsts, if deposit { 0 } else { 1 }, "numbers");
    }
    let withdrawals: Vec<_> = (0..COUNT).map(withdrawal).collect();
    let deposits: Vec<_> = (0..COUNT).map(deposit).collect();
    assert_eq!(
        fixture.open().totals().unwrap(),
        expected_totals(&withdrawals, &deposits)
    );
}

#[test]
fn sqlite_survives_kill_9() {
    let f = SqliteFixture::new();
    killed_worker_then_replay(
        &f,
        &format!("sqlite:{}", f.path.display()),
        None,
        SQLITE_CRASH_COUNT,
    );
}

#[test]
fn sqlite_two_processes_settle_once() {
    let f = SqliteFixture::new();
    two_workers_settle_once(&f, &format!("sqlite:{}", f.path.display()), None);
}

#[test]
fn postgres_survives_kill_9() {
    let Some(f) = PostgresFixture::new("kill_9") else {
        return;
    };
    let target = format!("postgres:{}", f.schema);
    killed_worker_then_replay(&f, &target, Some(&f.conninfo), POSTGRES_CRASH_COUNT);
}

#[test]
fn postgres_two_processes_settle_once() {
    let Some(f) = PostgresFixture::new("two_processes") else {
        return;
    };
    two_workers_settle_once(&f, &format!("postgres:{}", f.schema), Some(&f.conninfo));
}
