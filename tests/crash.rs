//! Crashes of an honest device-and-server process (SPEC §1 (h), (i); §4.5 g; §7; §10): a child
//! process runs the device and the server loop on one key in a durable store, the parent
//! kills it with SIGKILL at random moments (≥ 50 times per store) and restarts it, then lets a
//! last run finish cleanly. The child follows SPEC §10 to the letter: it persists the device
//! record (temp file, fsync, rename) after registration, after `sign` **before** sending, and
//! after `accept`; a restarted child first resolves a pending exchange (resend, `complete`,
//! `accept`), then signs on. About one signature in three uses a wrong PIN (never more than 2
//! in a row, so the default 3/6/9 policy never locks); each PIN entry is logged before the
//! message can be sent, so the parent knows which PINs were entered.
//!
//! What the specification demands, wherever the kills land (between the store's charge and
//! its outcome, between the outcome and the device's write, in the middle of a write, ...):
//! - no `CloneDetected`, `StaleRecord`, `Destroyed` (nor `NotPending`, `Locked`, `Expired`) is
//!   ever answered to this honest device; a wrong PIN is answered `WrongPin`, the right one
//!   `Completed`, and resends get the same answer;
//! - the pending exchange always resolves and signing goes on; no rotation is lost (the last
//!   record signs: `Completed`, and the signature verifies);
//! - whenever nothing is in flight (after a restart has resolved its exchange), the server's
//!   failure count equals the wrong PINs charged since the last completed signature, as the
//!   outcome log tells them (a crash must neither lose a charge nor add one that no PIN entry
//!   caused);
//! - the store survives: `SqliteKeyStore::integrity_check()` passes; on PostgreSQL the record
//!   decodes and its n1-uniqueness row is there.
//!
//! The test binary re-executes itself: `child` (ignored in normal runs) is the worker.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[cfg(feature = "postgres")]
#[path = "support/postgres.rs"]
mod pg_support;
#[path = "support/procs.rs"]
mod procs;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use procs::{
    ChildGuard, Store, TempDir, append_line, hex, open_store, register_device, write_atomic,
};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use split_rsa::{
    DeviceRecord, HashAlg, KekId, KeyId, KeyPurpose, KeySize, KeyStore, LocalKek, Outcome, Pin,
    Scheme, Server, ServerPolicy, ServerTransportKey, verify,
};

/// Kills per store.
const KILLS: usize = 80;
/// A kill lands after a random delay in [0, MAX_DELAY_MS) from the child's start.
const MAX_DELAY_MS: u64 = 400;
const NOW: u64 = 1_800_000_000;
const RIGHT_PIN: &str = "58213";
/// Wrong PIN entries allowed in a row (the default policy locks at 3).
const MAX_WRONG_IN_A_ROW: usize = 2;

const CHILD: &str = "SPLIT_RSA_CRASH_CHILD";
const TARGET: &str = "SPLIT_RSA_CRASH_TARGET";
const DIR: &str = "SPLIT_RSA_CRASH_DIR";
const LIFE: &str = "SPLIT_RSA_CRASH_LIFE";
const FINISH: &str = "SPLIT_RSA_CRASH_FINISH";

fn size() -> KeySize {
    KeySize::insecure_for_tests(512).unwrap()
}

fn pin(digits: &str) -> Pin {
    Pin::new_allow_trivial(digits, KeyPurpose::Signing).unwrap()
}

/// The server as every life of the child builds it (the default policy: 3/6/9).
fn server_in(dir: &Path, store: Store) -> Server<Store, LocalKek> {
    let transport =
        ServerTransportKey::from_bytes(&std::fs::read(dir.join("transport.key")).unwrap()).unwrap();
    let kek: [u8; 32] = std::fs::read(dir.join("kek.key"))
        .unwrap()
        .try_into()
        .unwrap();
    Server::new(
        transport,
        store,
        LocalKek::new(KekId(1), &kek),
        ServerPolicy::default(),
        size(),
    )
}

fn outcome_name(o: &Outcome) -> String {
    match o {
        Outcome::Completed { .. } => "Completed".into(),
        Outcome::WrongPin { .. } => "WrongPin".into(),
        Outcome::NotPending => "NotPending".into(),
        Outcome::Locked { .. } => "Locked".into(),
        Outcome::Destroyed => "Destroyed".into(),
        Outcome::Expired => "Expired".into(),
        Outcome::CloneDetected => "CloneDetected".into(),
        Outcome::StaleRecord => "StaleRecord".into(),
        other => format!("{other:?}").replace(' ', "_"),
    }
}

/// Wrong PIN entries since the last completed signature, from the log (conservative: an entry
/// counts even if its message was never sent).
fn wrong_in_a_row(log: &str) -> usize {
    let mut n = 0;
    for line in log.lines() {
        if line.starts_with("SIGNED ") && line.ends_with("pin=wrong") {
            n += 1;
        } else if line.starts_with("OUT ") && line.ends_with("outcome=Completed") {
            n = 0;
        }
    }
    n
}

/// One life of the device-and-server process. Log lines (appended whole, one `write` each):
/// `START`, `REGISTERED`, `REQ`, `SIGNED msg= pin=`, `PERSISTED msg=`, `SEND msg= resend=`,
/// `OUT msg= resent= outcome=`, `ACCEPTED msg=`, `CHECK failures=`, `DONE`.
#[test]
#[ignore = "worker of the crash tests, which run it in child processes"]
fn child() {
    let Ok(kind) = std::env::var(CHILD) else {
        return;
    };
    let target = std::env::var(TARGET).unwrap();
    let dir = std::path::PathBuf::from(std::env::var(DIR).unwrap());
    let life: u64 = std::env::var(LIFE).unwrap().parse().unwrap();
    let finish = std::env::var(FINISH).is_ok();
    let log = dir.join("log.txt");
    let device_file = dir.join("device.bin");
    let say = |line: String| append_line(&log, &line);
    let mut rng = ChaCha20Rng::seed_from_u64(life * 7919 + u64::from(std::process::id()));
    say(format!("START life={life} pid={}", std::process::id()));
    let server = server_in(&dir, open_store(&kind, &target));

    let mut device = match std::fs::read(&device_file) {
        Ok(bytes) => DeviceRecord::from_bytes(&bytes).unwrap(),
        Err(_) => {
            // Registration (SPEC §3), persisted before anything else.
            let device = register_device(&mut rng, &server, size(), RIGHT_PIN, NOW);
            write_atomic(&device_file, &device.to_bytes()).unwrap();
            say(format!(
                "REGISTERED key={}",
                hex(device.key_id().as_bytes())
            ));
            device
        }
    };
    let key_id = *device.key_id();
    let mut wrong_run = wrong_in_a_row(&std::fs::read_to_string(&log).unwrap_or_default());
    let check = |server: &Server<Store, LocalKek>| {
        let (record, _) = server.load(&key_id).unwrap();
        let failures = record.active().map_or(u32::MAX, |a| a.failures());
        say(format!("CHECK failures={failures}"));
    };
    // A restarted device first resolves its pending exchange (SPEC §10), then nothing is in
    // flight: the server's count can be checked against the log.
    let mut resolved_at_start = false;
    // In finish mode: one right PIN, then two wrong ones, then stop.
    let mut script: Vec<bool> = vec![true, true, false];
    let mut n = 0u64;
    loop {
        if device.pending_request().is_some() {
            let message = device.resend().unwrap();
            let h = hex(&message.hash()[..8]);
            // Whether the server charged it and never settled it (the crash hit between the
            // two writes): it must be evaluated again without a second charge.
            let (record, _) = server.load(&key_id).unwrap();
            let charged = record
                .active()
                .is_some_and(|a| a.is_unresolved(&message.hash()));
            say(format!(
                "SEND msg={h} resend=1 charged_unsettled={}",
                u8::from(charged)
            ));
            let done = server.complete(&mut rng, &message, NOW).unwrap();
            say(format!(
                "OUT msg={h} resent={} outcome={}",
                u8::from(done.resent),
                outcome_name(&done.outcome)
            ));
            device.accept(&done.response).unwrap();
            write_atomic(&device_file, &device.to_bytes()).unwrap();
            say(format!("ACCEPTED msg={h}"));
            assert!(!device.is_dead(), "the device's key is dead");
            continue;
        }
        if !resolved_at_start {
            resolved_at_start = true;
            check(&server);
        }
        if device.is_dead() {
            panic!("the device's key is dead");
        }
        let wrong = if finish {
            match script.pop() {
                Some(w) => w,
                None => {
                    check(&server);
                    say("DONE".into());
                    return;
                }
            }
        } else {
            wrong_run < MAX_WRONG_IN_A_ROW && rng.next_u32() % 3 == 0
        };
        n += 1;
        let digest = HashAlg::Sha256.digest(format!("life {life} document {n}").as_bytes());
        let scheme = Scheme::Pss(HashAlg::Sha256);
        let request = server
            .create_request(&mut rng, &key_id, KeyPurpose::Signing, scheme, &digest, NOW)
            .unwrap();
        say("REQ".into());
        let digits = if wrong {
            format!("{}", 60_000 + rng.next_u32() % 30_000)
        } else {
            RIGHT_PIN.to_string()
        };
        let message = device.sign(&mut rng, &request, &pin(&digits)).unwrap();
        let h = hex(&message.hash()[..8]);
        // The PIN entry is on record before the message can leave.
        say(format!(
            "SIGNED msg={h} pin={}",
            if wrong { "wrong" } else { "right" }
        ));
        if wrong {
            wrong_run += 1;
        }
        // SPEC §10: persist BEFORE sending.
        write_atomic(&device_file, &device.to_bytes()).unwrap();
        say(format!("PERSISTED msg={h}"));
        say(format!("SEND msg={h} resend=0"));
        let done = server.complete(&mut rng, &message, NOW).unwrap();
        say(format!(
            "OUT msg={h} resent={} outcome={}",
            u8::from(done.resent),
            outcome_name(&done.outcome)
        ));
        let outcome = device.accept(&done.response).unwrap();
        if let Outcome::Completed { signature } = &outcome {
            verify(device.public_key(), scheme, &digest, signature).unwrap();
            wrong_run = 0;
        }
        write_atomic(&device_file, &device.to_bytes()).unwrap();
        say(format!("ACCEPTED msg={h}"));
    }
}

fn child_command(kind: &str, target: &str, dir: &Path, life: usize) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--ignored",
        "--exact",
        "child",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, kind)
    .env(TARGET, target)
    .env(DIR, dir)
    .env(LIFE, life.to_string())
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    c
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|f| f.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {name} in {line:?}"))
}

/// What the log shows, checked line by line against the specification.
#[derive(Debug, Default)]
struct Audit {
    signatures_completed: usize,
    wrong_pins_charged: usize,
    checks: usize,
    resends: usize,
    resends_answered_from_storage: usize,
    resends_charged_unsettled: usize,
    outcomes: BTreeMap<String, usize>,
    /// Wrong PINs charged since the last completed signature, at the end.
    failures_expected: usize,
}

fn audit(kind: &str, log: &str) -> Audit {
    let mut a = Audit::default();
    let mut pin_of: BTreeMap<&str, &str> = BTreeMap::new();
    let mut evaluated_outcome: BTreeMap<&str, usize> = BTreeMap::new();
    let mut charged_since_completion: BTreeSet<&str> = BTreeSet::new();
    let mut completed: BTreeSet<&str> = BTreeSet::new();
    let mut last_send_was_resend = false;
    let mut last_send_charged = false;
    for line in log.lines() {
        let word = line.split_whitespace().next().unwrap_or("");
        match word {
            "SIGNED" => {
                pin_of.insert(field(line, "msg"), field(line, "pin"));
            }
            "SEND" => {
                last_send_was_resend = field(line, "resend") == "1";
                last_send_charged = last_send_was_resend && field(line, "charged_unsettled") == "1";
            }
            "OUT" => {
                let msg = field(line, "msg");
                let outcome = field(line, "outcome");
                let resent = field(line, "resent") == "1";
                *a.outcomes.entry(outcome.to_string()).or_default() += 1;
                if last_send_was_resend {
                    a.resends += 1;
                    a.resends_answered_from_storage += usize::from(resent);
                    if last_send_charged {
                        a.resends_charged_unsettled += 1;
                        assert!(!resent, "{kind}: {line}");
                    }
                }
                let pin = pin_of.get(msg).copied().unwrap_or_else(|| {
                    panic!("{kind}: an answer to a message never signed: {line}")
                });
                let expected = if pin == "right" {
                    "Completed"
                } else {
                    "WrongPin"
                };
                assert_eq!(
                    outcome, expected,
                    "{kind}: the honest device's {pin}-PIN message got {outcome}: {line}"
                );
                if !resent {
                    let n = evaluated_outcome.entry(msg).or_default();
                    *n += 1;
                    assert_eq!(
                        *n, 1,
                        "{kind}: a message settled twice (a stored answer was lost): {line}"
                    );
                }
                if outcome == "Completed" {
                    if completed.insert(msg) {
                        a.signatures_completed += 1;
                    }
                    charged_since_completion.clear();
                } else if charged_since_completion.insert(msg) {
                    a.wrong_pins_charged += 1;
                }
            }
            "CHECK" => {
                a.checks += 1;
                let failures: usize = field(line, "failures").parse().unwrap();
                assert_eq!(
                    failures,
                    charged_since_completion.len(),
                    "{kind}: check {}: the server counts {failures} failures, the device \
                     entered {} wrong PINs since the last completed signature",
                    a.checks,
                    charged_since_completion.len()
                );
            }
            _ => {}
        }
    }
    a.failures_expected = charged_since_completion.len();
    a
}

fn run(kind: &str, target: &str) -> (KeyId, [u8; 32]) {
    let started = Instant::now();
    let dir = TempDir::new(&format!("crash-{kind}"));
    let mut rng = ChaCha20Rng::seed_from_u64(0x0063_7261_7368);
    let transport = ServerTransportKey::generate(&mut rng);
    std::fs::write(dir.path().join("transport.key"), &transport.to_bytes()[..]).unwrap();
    let mut kek = [0u8; 32];
    rng.fill_bytes(&mut kek);
    std::fs::write(dir.path().join("kek.key"), kek).unwrap();
    let log_path = dir.path().join("log.txt");
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    let mut stages: BTreeMap<String, usize> = BTreeMap::new();
    for life in 0..KILLS {
        let mut child = ChildGuard(Some(
            child_command(kind, target, dir.path(), life)
                .spawn()
                .unwrap(),
        ));
        std::thread::sleep(Duration::from_millis(rng.next_u64() % MAX_DELAY_MS));
        if let Some(status) = child.child().try_wait().unwrap() {
            let out = child.take().wait_with_output().unwrap();
            panic!(
                "{kind}: life {life} ended by itself ({status}):\n{}\nlog tail:\n{}",
                String::from_utf8_lossy(&out.stderr),
                tail(&read_log())
            );
        }
        // SIGKILL.
        child.child().kill().unwrap();
        child.child().wait().unwrap();
        let log = read_log();
        let last = log.lines().last().unwrap_or("(nothing)");
        let stage = last.split_whitespace().next().unwrap_or("(nothing)");
        let stage = if stage == "SEND" {
            format!("SEND resend={}", field(last, "resend"))
        } else {
            stage.to_string()
        };
        *stages.entry(stage).or_default() += 1;
    }
    let killed_in = started.elapsed();

    // A last life that finishes: resolve, sign with the right PIN, then two wrong ones.
    let mut finish = child_command(kind, target, dir.path(), KILLS);
    finish.env(FINISH, "1");
    let mut child = ChildGuard(Some(finish.spawn().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.child().try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "{kind}: the last life did not finish"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.take().wait_with_output().unwrap();
    let log = read_log();
    assert!(
        status.success(),
        "{kind}: the last life failed ({status}):\n{}\nlog tail:\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail(&log)
    );
    assert_eq!(log.lines().last(), Some("DONE"));

    let a = audit(kind, &log);
    // The finishing life signed with the right PIN (no lost rotation) then entered 2 wrong
    // PINs.
    assert_eq!(a.failures_expected, 2);

    // The server's own view, from a fresh handle.
    let device =
        DeviceRecord::from_bytes(&std::fs::read(dir.path().join("device.bin")).unwrap()).unwrap();
    let store = open_store(kind, target);
    let server = server_in(dir.path(), Arc::clone(&store));
    let key_id: KeyId = *device.key_id();
    let (record, _) = server.load(&key_id).unwrap();
    let active = record.active().expect("the key is active");
    assert_eq!(active.failures() as usize, a.failures_expected);
    assert!(active.unresolved().is_empty());
    assert_eq!(store.find_n1(record.n1_hash()).unwrap(), Some(key_id));
    let registrations = log.lines().filter(|l| l.starts_with("REGISTERED")).count();
    // (0 if a life was killed between persisting the new record and logging it.)
    assert!(
        registrations <= 1,
        "{kind}: the device registered {registrations} times"
    );

    eprintln!(
        "{kind}: {KILLS} SIGKILLs in {killed_in:.1?} (last log line at each kill: {stages:?}); \
         {} signatures completed, {} wrong PINs charged, {} resends after a restart ({} \
         answered from storage, {} charged before the kill and re-evaluated), {} failure-count checks against the log, outcomes {:?}; \
         {:.1?} in all",
        a.signatures_completed,
        a.wrong_pins_charged,
        a.resends,
        a.resends_answered_from_storage,
        a.resends_charged_unsettled,
        a.checks,
        a.outcomes,
        started.elapsed()
    );
    assert!(a.checks * 4 > KILLS, "{kind}: {} checks", a.checks);
    (key_id, *record.n1_hash())
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[test]
fn sqlite_sigkill() {
    let dir = TempDir::new("crash-sqlite-db");
    let path = dir.path().join("keys.sqlite");
    run("sqlite", path.to_str().unwrap());
    split_rsa::SqliteKeyStore::open(&path)
        .unwrap()
        .integrity_check()
        .unwrap();
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_sigkill() {
    let Some(db) = pg_support::test_database() else {
        return;
    };
    let (key_id, n1_hash) = run("postgres", db.url());
    // The row as the database has it (its record decodes: checked in `run`): the key's n1
    // hash in the column the uniqueness constraint covers, and the constraint in place.
    let mut client = ::postgres::Client::connect(db.url(), ::postgres::NoTls).unwrap();
    let rows: i64 = client
        .query_one(
            "SELECT count(*) FROM split_rsa_key_records WHERE n1_hash = $1 AND key_id = $2",
            &[&&n1_hash[..], &&key_id.as_bytes()[..]],
        )
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
    let constraints: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_constraint WHERE conname = \
             'split_rsa_key_records_n1_hash' AND contype = 'u'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(constraints, 1);
}
