//! SPEC §4.5 / §7 server key state: charge before compute under faults and concurrency, clone
//! detection, lost-response retransmission, and a model-based property test.

// Test code: panicking on an unexpected value is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/server_support.rs"]
mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};

use split_rsa::{
    Answer, DestroyReason, Error, InMemoryKeyStore, KeyStore, Otp, OtpClass, OtpState,
    ServerPolicy, ServerState, StoreError,
};
use support::*;

const HOUR: u64 = 3600;
const T0: u64 = 1_700_000_000;

type Mem = InMemoryKeyStore<FakeShare>;

fn sign<K: KeyStore<Share = FakeShare>>(
    srv: &ServerState<K>,
    calls: &AtomicUsize,
    pin: u32,
    rid: u64,
    otp: &Otp,
    now: u64,
) -> split_rsa::Result<Answer> {
    srv.complete_signature(
        &key_id(1),
        &request_id(rid),
        otp,
        now,
        &mut rng(rid ^ 0xabcd),
        evaluator(calls, pin, request_id(rid)),
    )
}

fn failures<K: KeyStore<Share = FakeShare>>(srv: &ServerState<K>) -> u32 {
    srv.store()
        .load(&key_id(1))
        .unwrap()
        .unwrap()
        .active()
        .unwrap()
        .attempts()
        .failures()
}

#[test]
fn otp_basics() {
    let mut r = rng(1);
    let a = Otp::generate(&mut r);
    let b = Otp::generate(&mut r);
    assert_ne!(a, b);
    assert_eq!(a, copy_otp(&a));
    assert_eq!(format!("{a:?}"), "Otp(..)");
    assert!(!format!("{:?}", a.hash()).contains(&format!("{:02x}", a.as_bytes()[0])));
    // SHA-256 of 32 zero bytes (FIPS 180-4; `printf '\0%.0s' {1..32} | sha256sum`).
    let zero = Otp::from_bytes([0; 32]);
    assert_eq!(
        zero.hash().as_bytes(),
        &hex32("66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925")
    );

    let mut st: OtpState<u32> = OtpState::new(&a);
    assert_eq!(st.classify(&a, &[1; 16]), OtpClass::Current);
    assert_eq!(st.classify(&b, &[1; 16]), OtpClass::Stale);
    st.rotate(&b, [1; 16], 77);
    assert_eq!(st.classify(&b, &[1; 16]), OtpClass::Current);
    assert_eq!(st.classify(&b, &[2; 16]), OtpClass::Current);
    assert_eq!(st.classify(&a, &[1; 16]), OtpClass::Retransmission);
    assert_eq!(st.classify(&a, &[2; 16]), OtpClass::Stale);
    assert_eq!(st.classify(&zero, &[1; 16]), OtpClass::Stale);
    assert_eq!(*st.last().unwrap().answer(), 77);
    let c = Otp::generate(&mut r);
    st.rotate(&c, [2; 16], 78);
    assert_eq!(
        st.classify(&a, &[1; 16]),
        OtpClass::Stale,
        "only one exchange is kept"
    );
    assert_eq!(st.classify(&b, &[2; 16]), OtpClass::Retransmission);
}

fn hex32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[test]
fn happy_path_rotates_otp() {
    let srv = ServerState::new(Mem::new(), ServerPolicy::default());
    let calls = AtomicUsize::new(0);
    let otp0 = srv
        .register(key_id(1), FakeShare { pin: RIGHT_PIN }, T0, &mut rng(1))
        .unwrap();
    let a1 = sign(&srv, &calls, RIGHT_PIN, 1, &otp0, T0).unwrap();
    assert_eq!(a1.signature(), fake_signature(&request_id(1)).as_slice());
    assert_ne!(a1.next_otp(), &otp0);
    let a2 = sign(&srv, &calls, RIGHT_PIN, 2, a1.next_otp(), T0 + 1).unwrap();
    assert_ne!(a2.next_otp(), a1.next_otp());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let rec = srv.store().load(&key_id(1)).unwrap().unwrap();
    assert_eq!(rec.version(), 4, "register, 2 x (charge + success)");
    assert_eq!(rec.active().unwrap().otp().current(), &a2.next_otp().hash());
    assert!(
        !format!("{rec:?}").contains("1234"),
        "Debug must not show the share"
    );
}

/// The device never received its answer and sends the same request again (same request id,
/// same OTP): it gets the stored answer, the share check runs once more (and must be valid),
/// and the charge is cleared.
#[test]
fn lost_response_retransmission() {
    let srv = ServerState::new(Mem::new(), ServerPolicy::default());
    let calls = AtomicUsize::new(0);
    let otp0 = srv
        .register(key_id(1), FakeShare { pin: RIGHT_PIN }, T0, &mut rng(1))
        .unwrap();
    let a1 = sign(&srv, &calls, RIGHT_PIN, 1, &otp0, T0).unwrap();

    // A wrong PIN on the retransmission: an ordinary wrong PIN, not a clone, no answer.
    let e = sign(&srv, &calls, WRONG_PIN, 1, &otp0, T0).unwrap_err();
    assert_eq!(
        e,
        Error::WrongPin {
            attempts_left: 8,
            locked_until: None
        }
    );

    // The right PIN: the stored answer again (same signature, same next OTP), charge cleared.
    let again = sign(&srv, &calls, RIGHT_PIN, 1, &otp0, T0 + 5).unwrap();
    assert_eq!(again, a1);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(failures(&srv), 0);
    // As often as needed.
    assert_eq!(sign(&srv, &calls, RIGHT_PIN, 1, &otp0, T0 + 6).unwrap(), a1);
    let rec = srv.store().load(&key_id(1)).unwrap().unwrap();
    assert_eq!(
        rec.active().unwrap().otp().current(),
        &a1.next_otp().hash(),
        "not rotated"
    );

    // The chain continues with the OTP from the (re)sent answer.
    let a2 = sign(&srv, &calls, RIGHT_PIN, 2, a1.next_otp(), T0 + 7).unwrap();
    // Now request 1 is no longer the last completed one: replaying it is a clone.
    assert_eq!(
        sign(&srv, &calls, RIGHT_PIN, 1, &otp0, T0 + 8).unwrap_err(),
        Error::CloneDetected
    );
    let rec = srv.store().load(&key_id(1)).unwrap().unwrap();
    assert_eq!(rec.destroyed(), Some((DestroyReason::Clone, T0 + 8)));
    drop(a2);
}

/// SPEC §1 (c): a second copy of the device share presenting an old OTP is detected and the
/// key destroyed; wrong PINs from the clone are only wrong PINs.
#[test]
fn clone_detected_and_key_destroyed() {
    let srv = ServerState::new(Mem::new(), ServerPolicy::default());
    let calls = AtomicUsize::new(0);
    let otp0 = srv
        .register(key_id(1), FakeShare { pin: RIGHT_PIN }, T0, &mut rng(1))
        .unwrap();
    let a1 = sign(&srv, &calls, RIGHT_PIN, 1, &otp0, T0).unwrap();
    // The clone (copied before request 1) guesses wrong with its stale OTP: a wrong PIN.
    let e = sign(&srv, &calls, WRONG_PIN, 50, &otp0, T0).unwrap_err();
    assert_eq!(
        e,
        Error::WrongPin {
            attempts_left: 8,
            locked_until: None
        }
    );
    // ... and with the right PIN: clone.
    assert_eq!(
        sign(&srv, &calls, RIGHT_PIN, 51, &otp0, T0 + 1).unwrap_err(),
        Error::CloneDetected
    );
    let rec = srv.store().load(&key_id(1)).unwrap().unwrap();
    assert_eq!(rec.destroyed(), Some((DestroyReason::Clone, T0 + 1)));
    assert!(rec.active().is_none());
    // The legitimate device is refused too, without evaluation.
    let r = srv.complete_signature(
        &key_id(1),
        &request_id(2),
        a1.next_otp(),
        T0 + 2,
        &mut rng(0),
        must_not_evaluate,
    );
    assert_eq!(r.unwrap_err(), Error::KeyDestroyed);

    // Any other non-current OTP with a valid share is a clone too, also before any exchange.
    let srv = ServerState::new(Mem::new(), ServerPolicy::default());
    srv.register(key_id(1), FakeShare { pin: RIGHT_PIN }, T0, &mut rng(2))
        .unwrap();
    let junk = Otp::from_bytes([7; 32]);
    assert_eq!(
        sign(&srv, &calls, RIGHT_PIN, 1, &junk, T0).unwrap_err(),
        Error::CloneDetected
    );
}

/// Any error from `evaluate` other than SigningFailed leaves the charge and is passed through.
#[test]
fn evaluate_error_keeps_charge() {
    let srv = ServerState::new(Mem::new(), ServerPolicy::default());
    let otp0 = srv
        .register(key_id(1), FakeShare { pin: RIGHT_PIN }, T0, &mut rng(1))
        .unwrap();
    let r = srv.complete_signature(&key_id(1), &request_id(1), &otp0, T0, &mut rng(2), |_| {
        Err(Error::InvalidSignature)
    });
    assert_eq!(r.unwrap_err(), Error::InvalidSignature);
    assert_eq!(failures(&srv), 1);
}

// ---------------------------------------------------------------------------------------
// Charge before compute under faults.

const FAULTS: [Fault; 4] = [
    Fault::Fail,
    Fault::LostAck,
    Fault::CrashBefore,
    Fault::CrashAfter,
];

fn faulty_server() -> (ServerState<FaultyStore<Mem>>, Otp) {
    let srv = ServerState::new(FaultyStore::new(Mem::new()), ServerPolicy::default());
    let otp = srv
        .register(key_id(1), FakeShare { pin: RIGHT_PIN }, T0, &mut rng(1))
        .unwrap();
    (srv, otp)
}

/// Runs one request and catches an injected crash.
fn attempt(
    srv: &ServerState<FaultyStore<Mem>>,
    calls: &AtomicUsize,
    pin: u32,
    rid: u64,
    otp: &Otp,
    now: u64,
) -> Option<split_rsa::Result<Answer>> {
    catch_unwind(AssertUnwindSafe(|| sign(srv, calls, pin, rid, otp, now))).ok()
}

/// A fault on the charge write itself: nothing is ever evaluated. If the write became durable
/// (lost ack, crash after) the attempt is counted although nothing was evaluated.
#[test]
fn fault_on_charge_never_evaluates() {
    for fault in FAULTS {
        let (srv, otp) = faulty_server();
        let calls = AtomicUsize::new(0);
        srv.store().arm(0, fault);
        let r = attempt(&srv, &calls, RIGHT_PIN, 1, &otp, T0);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            0,
            "{fault:?}: evaluated without a charge"
        );
        match fault {
            Fault::Fail | Fault::LostAck => assert_eq!(
                r.unwrap().unwrap_err(),
                Error::Store(StoreError::Backend("injected fault"))
            ),
            Fault::CrashBefore | Fault::CrashAfter => assert!(r.is_none()),
        }
        let durable = matches!(fault, Fault::LostAck | Fault::CrashAfter);
        assert_eq!(failures(&srv), u32::from(durable), "{fault:?}");
        // The device retries with the same (still current) OTP and succeeds.
        let a = attempt(&srv, &calls, RIGHT_PIN, 1, &otp, T0)
            .unwrap()
            .unwrap();
        assert_eq!(a.signature(), fake_signature(&request_id(1)).as_slice());
        assert_eq!(failures(&srv), 0);
    }
}

/// A fault after the charge, on the write that records a success: the signature is not
/// released unless persisted; if it was not persisted the charge stands and the OTP is still
/// current; if it was (lost ack / crash after), the retry is a retransmission.
#[test]
fn fault_on_success_write() {
    for fault in FAULTS {
        let (srv, otp) = faulty_server();
        let calls = AtomicUsize::new(0);
        srv.store().arm(1, fault);
        let r = attempt(&srv, &calls, RIGHT_PIN, 1, &otp, T0);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(r.is_none_or(|r| r.is_err()), "{fault:?}: answer released");
        let durable = matches!(fault, Fault::LostAck | Fault::CrashAfter);
        assert_eq!(failures(&srv), u32::from(!durable), "{fault:?}");
        let a = attempt(&srv, &calls, RIGHT_PIN, 1, &otp, T0)
            .unwrap()
            .unwrap();
        assert_eq!(failures(&srv), 0);
        // Whichever way the first one went, the chain continues.
        attempt(&srv, &calls, RIGHT_PIN, 2, a.next_otp(), T0)
            .unwrap()
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}

/// An attacker without the PIN whose every request hits a fault (on the charge or on the
/// following write, in every fault mode) never gets more share checks than the policy allows:
/// exactly 3 before the 3 h lock, 6 before the 24 h lock, 9 in all, then destroyed.
#[test]
fn faults_never_buy_extra_guesses() {
    for fault in FAULTS {
        for at in [0usize, 1] {
            let (srv, otp) = faulty_server();
            let calls = AtomicUsize::new(0);
            let mut now = T0;
            let mut rid = 0;
            let mut destroyed = false;
            for _round in 0..200 {
                rid += 1;
                srv.store().arm(at, fault);
                let before = calls.load(Ordering::SeqCst);
                let r = attempt(&srv, &calls, WRONG_PIN, rid, &otp, now);
                srv.store().disarm();
                let evaluated = calls.load(Ordering::SeqCst) - before;
                assert!(evaluated <= 1);
                if let Some(Err(Error::KeyDestroyed)) = r {
                    destroyed = true;
                    break;
                }
                if let Some(Err(Error::KeyLocked { until })) = r {
                    assert_eq!(evaluated, 0);
                    now = until;
                }
                let total = calls.load(Ordering::SeqCst);
                // Never more evaluations than the lock schedule allows at this time.
                let allowed = if now < T0 + 3 * HOUR {
                    3
                } else if now < T0 + 27 * HOUR {
                    6
                } else {
                    9
                };
                assert!(
                    total <= allowed,
                    "{fault:?}@{at}: {total} evaluations by {now}"
                );
            }
            let durable = matches!(fault, Fault::LostAck | Fault::CrashAfter);
            if at == 0 && !durable {
                // No charge ever became durable, so nothing was ever evaluated.
                assert_eq!(calls.load(Ordering::SeqCst), 0, "{fault:?}@{at}");
                assert_eq!(failures(&srv), 0);
                continue;
            }
            assert!(destroyed, "{fault:?}@{at}: key never destroyed");
            assert!(calls.load(Ordering::SeqCst) <= 9, "{fault:?}@{at}");
            let rec = srv.store().load(&key_id(1)).unwrap().unwrap();
            assert_eq!(rec.destroyed().map(|d| d.0), Some(DestroyReason::WrongPins));
        }
    }
}

/// A crash right after the 9th charge (before the destroying write): the next access
/// finishes the destruction without evaluating anything.
#[test]
fn crash_after_ninth_charge_finishes_destruction() {
    for fault in [Fault::Fail, Fault::CrashBefore] {
        let (srv, otp) = faulty_server();
        let calls = AtomicUsize::new(0);
        let mut now = T0;
        for rid in 0..8 {
            match attempt(&srv, &calls, WRONG_PIN, rid, &otp, now).unwrap() {
                Err(Error::WrongPin {
                    locked_until: Some(u),
                    ..
                }) => now = u,
                Err(Error::WrongPin { .. }) => {}
                other => panic!("{other:?}"),
            }
        }
        srv.store().arm(1, fault);
        let r = attempt(&srv, &calls, WRONG_PIN, 8, &otp, now);
        assert_eq!(calls.load(Ordering::SeqCst), 9);
        assert!(r.is_none_or(|r| r.is_err()));
        let rec = srv.store().load(&key_id(1)).unwrap().unwrap();
        assert_eq!(
            rec.active().unwrap().attempts().failures(),
            9,
            "charge persisted"
        );
        let r = srv.complete_signature(
            &key_id(1),
            &request_id(99),
            &otp,
            now,
            &mut rng(0),
            must_not_evaluate,
        );
        assert_eq!(r.unwrap_err(), Error::KeyDestroyed);
        let rec = srv.store().load(&key_id(1)).unwrap().unwrap();
        assert_eq!(rec.destroyed(), Some((DestroyReason::WrongPins, now)));
    }
}

// ---------------------------------------------------------------------------------------
// Concurrency.

/// 16 threads send wrong PINs concurrently: never more share checks than the policy allows
/// (3 per lock period, 9 in all), and every evaluation corresponds to a persisted charge.
#[test]
fn concurrent_wrong_pins_bounded() {
    let srv = ServerState::new(Mem::new(), ServerPolicy::default());
    let otp0 = srv
        .register(key_id(1), FakeShare { pin: RIGHT_PIN }, T0, &mut rng(1))
        .unwrap();
    let calls = AtomicUsize::new(0);
    let mut now = T0;
    let mut round = 0u64;
    loop {
        round += 1;
        let otp = &otp0;
        let results: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..16u64)
                .map(|t| {
                    let calls = &calls;
                    let srv = &srv;
                    s.spawn(move || sign(srv, calls, WRONG_PIN, round * 100 + t, otp, now))
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let total = calls.load(Ordering::SeqCst);
        for r in &results {
            assert!(
                matches!(
                    r,
                    Err(Error::WrongPin { .. }
                        | Error::KeyLocked { .. }
                        | Error::KeyDestroyed
                        | Error::Store(StoreError::Conflict))
                ),
                "{r:?}"
            );
        }
        let rec = srv.store().load(&key_id(1)).unwrap().unwrap();
        match rec.active() {
            Some(a) => {
                assert_eq!(
                    a.attempts().failures() as usize,
                    total,
                    "charge == evaluation"
                );
                let until = a.attempts().locked_until();
                match total {
                    3 => assert_eq!(until, Some(now + 3 * HOUR)),
                    6 => assert_eq!(until, Some(now + 24 * HOUR)),
                    _ => {}
                }
                assert!(total <= 3 * round as usize && total < 9);
                if total.is_multiple_of(3) {
                    now = until.unwrap();
                }
            }
            None => {
                assert_eq!(total, 9);
                break;
            }
        }
        assert!(round < 50);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 9);
}

/// 16 threads send the *same* request (same request id, same OTP, right PIN) concurrently, as
/// a device retrying over flaky links would: all answers that succeed are identical, the key
/// survives, the OTP rotated exactly once.
#[test]
fn concurrent_retransmissions_get_one_answer() {
    let srv = ServerState::new(Mem::new(), ServerPolicy::default());
    let otp0 = srv
        .register(key_id(1), FakeShare { pin: RIGHT_PIN }, T0, &mut rng(1))
        .unwrap();
    let calls = AtomicUsize::new(0);
    let results: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..16)
            .map(|_| s.spawn(|| sign(&srv, &calls, RIGHT_PIN, 1, &otp0, T0)))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let oks: Vec<&Answer> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert!(!oks.is_empty());
    for a in &oks {
        assert_eq!(*a, oks[0]);
    }
    for r in &results {
        if let Err(e) = r {
            // A charge that reached the lock threshold in flight locks out concurrent requests.
            assert!(
                matches!(
                    e,
                    Error::KeyLocked { .. } | Error::Store(StoreError::Conflict)
                ),
                "{e:?}"
            );
        }
    }
    let rec = srv.store().load(&key_id(1)).unwrap().unwrap();
    let active = rec.active().expect("not destroyed");
    assert_eq!(active.otp().current(), &oks[0].next_otp().hash());
    assert_eq!(active.attempts().failures(), 0, "every charge was cleared");
    // After the dust settles the device goes on.
    let calls2 = AtomicUsize::new(0);
    sign(&srv, &calls2, RIGHT_PIN, 2, oks[0].next_otp(), T0 + 1).unwrap();
}

/// 16 threads present the same OTP with a valid share but different request ids (a clone
/// racing the device): at most one gets a signature, and if a second one was evaluated the
/// key is destroyed as a clone.
#[test]
fn concurrent_clone_race() {
    for seed in 0..8u64 {
        let srv = ServerState::new(Mem::new(), ServerPolicy::default());
        let otp0 = srv
            .register(key_id(1), FakeShare { pin: RIGHT_PIN }, T0, &mut rng(seed))
            .unwrap();
        let calls = AtomicUsize::new(0);
        let results: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..16u64)
                .map(|t| {
                    let (srv, calls, otp0) = (&srv, &calls, &otp0);
                    s.spawn(move || sign(srv, calls, RIGHT_PIN, seed * 100 + t, otp0, T0))
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let oks = results.iter().filter(|r| r.is_ok()).count();
        let clones = results
            .iter()
            .filter(|r| matches!(r, Err(Error::CloneDetected)))
            .count();
        assert!(oks <= 1, "{results:?}");
        let rec = srv.store().load(&key_id(1)).unwrap().unwrap();
        if clones > 0 {
            assert_eq!(rec.destroyed().map(|d| d.0), Some(DestroyReason::Clone));
        }
        if calls.load(Ordering::SeqCst) >= 2 {
            assert!(
                rec.destroyed().is_some(),
                "two valid evaluations with one OTP"
            );
        }
    }
}

/// Brings key 1 to 7 consecutive failures (past both locks) and returns the time.
fn seven_failures(srv: &ServerState<Mem>, otp: &Otp) -> u64 {
    let calls = AtomicUsize::new(0);
    let mut now = T0;
    for rid in 0..7 {
        if let Err(Error::WrongPin {
            locked_until: Some(u),
            ..
        }) = sign(srv, &calls, WRONG_PIN, 500 + rid, otp, now)
        {
            now = u;
        }
    }
    assert_eq!(failures(srv), 7);
    now
}

/// Interleaving A.charge (8), B.charge (9), then the outcomes in both orders, forced with
/// channels inside the share checks:
/// - A (right PIN) completes first: its success resets the count, erasing B's earlier charge;
///   the key survives and B is told the state after the reset.
/// - B (wrong PIN, 9th) completes first: the key is destroyed and A's signature is withheld.
#[test]
fn ninth_charge_racing_a_success() {
    use std::sync::mpsc::channel;
    for a_first in [true, false] {
        let srv = ServerState::new(Mem::new(), ServerPolicy::default());
        let otp0 = srv
            .register(key_id(1), FakeShare { pin: RIGHT_PIN }, T0, &mut rng(1))
            .unwrap();
        let now = seven_failures(&srv, &otp0);
        let (a_charged_tx, a_charged_rx) = channel();
        let (b_charged_tx, b_charged_rx) = channel();
        let (a_done_tx, a_done_rx) = channel();
        let (b_done_tx, b_done_rx) = channel();
        let (ra, rb) = std::thread::scope(|s| {
            let (srv, otp0) = (&srv, &otp0);
            let a = s.spawn(move || {
                let r = srv.complete_signature(
                    &key_id(1),
                    &request_id(1),
                    otp0,
                    now,
                    &mut rng(1),
                    |share: &FakeShare| {
                        a_charged_tx.send(()).unwrap();
                        b_charged_rx.recv().unwrap();
                        if !a_first {
                            b_done_rx.recv().unwrap();
                        }
                        assert_eq!(share.pin, RIGHT_PIN);
                        Ok(fake_signature(&request_id(1)))
                    },
                );
                // Ignored when B is not waiting for it.
                let _ = a_done_tx.send(());
                r
            });
            a_charged_rx.recv().unwrap();
            let b = s.spawn(move || {
                let r = srv.complete_signature(
                    &key_id(1),
                    &request_id(2),
                    otp0,
                    now,
                    &mut rng(2),
                    |_: &FakeShare| {
                        b_charged_tx.send(()).unwrap();
                        if a_first {
                            a_done_rx.recv().unwrap();
                        }
                        Err(Error::SigningFailed)
                    },
                );
                // Ignored when A is not waiting for it.
                let _ = b_done_tx.send(());
                r
            });
            (a.join().unwrap(), b.join().unwrap())
        });
        let rec = srv.store().load(&key_id(1)).unwrap().unwrap();
        if a_first {
            assert_eq!(
                ra.unwrap().signature(),
                fake_signature(&request_id(1)).as_slice()
            );
            assert_eq!(
                rb.unwrap_err(),
                Error::WrongPin {
                    attempts_left: 9,
                    locked_until: None
                }
            );
            assert_eq!(rec.active().unwrap().attempts().failures(), 0);
        } else {
            assert_eq!(rb.unwrap_err(), Error::KeyDestroyed);
            assert_eq!(ra.unwrap_err(), Error::KeyDestroyed);
            assert_eq!(rec.destroyed(), Some((DestroyReason::WrongPins, now)));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Model-based property test.

mod model {
    //! A small reference model of SPEC §4.5 / §7, written from the text.

    pub const HOUR: u64 = 3600;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum End {
        Destroyed,
        Expired,
    }

    /// What the model says the answer is (OTP values are tracked by the driver).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Says {
        Signed,
        Resent,
        WrongPin { left: u32, lock: Option<u64> },
        Locked(u64),
        Destroyed,
        Expired,
        Clone,
    }

    #[derive(Debug)]
    pub struct Model {
        pub end: Option<End>,
        pub failures: u32,
        pub locked_until: u64,
        pub expires_at: u64,
        /// Index of the current OTP; the last completed request as (OTP index, request id).
        pub current: usize,
        pub last: Option<(usize, u64)>,
    }

    impl Model {
        pub fn new(now: u64, lifetime: u64) -> Self {
            Model {
                end: None,
                failures: 0,
                locked_until: 0,
                expires_at: now + lifetime,
                current: 0,
                last: None,
            }
        }

        /// Returns the answer and whether the share check ran.
        pub fn request(&mut self, right: bool, otp: usize, rid: u64, now: u64) -> (Says, bool) {
            match self.end {
                Some(End::Destroyed) => return (Says::Destroyed, false),
                Some(End::Expired) => return (Says::Expired, false),
                None => {}
            }
            if now >= self.expires_at {
                self.end = Some(End::Expired);
                return (Says::Expired, false);
            }
            if now < self.locked_until {
                return (Says::Locked(self.locked_until), false);
            }
            // Wrong PIN (or the charge of a right one).
            let failures = self.failures + 1;
            if !right {
                self.failures = failures;
                if failures >= 9 {
                    self.end = Some(End::Destroyed);
                    return (Says::Destroyed, true);
                }
                let lock = match failures {
                    3 => Some(now + 3 * HOUR),
                    6 => Some(now + 24 * HOUR),
                    _ => None,
                };
                if let Some(l) = lock {
                    self.locked_until = l;
                }
                return (
                    Says::WrongPin {
                        left: 9 - failures,
                        lock,
                    },
                    true,
                );
            }
            if otp == self.current {
                self.failures = 0;
                self.locked_until = 0;
                self.last = Some((self.current, rid));
                self.current += 1;
                (Says::Signed, true)
            } else if self.last == Some((otp, rid)) {
                self.failures = 0;
                self.locked_until = 0;
                (Says::Resent, true)
            } else {
                self.end = Some(End::Destroyed);
                (Says::Clone, true)
            }
        }
    }
}

use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// A fresh request with the current OTP.
    Sign {
        right: bool,
    },
    /// The last completed request again (previous OTP, same request id).
    Retransmit {
        right: bool,
    },
    /// An older OTP (index back from the current one) with a fresh request id.
    Clone {
        right: bool,
        back: usize,
    },
    /// The previous OTP with a fresh request id.
    StaleNewRid {
        right: bool,
    },
    Wait(u64),
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        40 => Just(Op::Sign { right: true }),
        25 => Just(Op::Sign { right: false }),
        15 => any::<bool>().prop_map(|right| Op::Retransmit { right }),
        2 => (any::<bool>(), 1usize..4).prop_map(|(right, back)| Op::Clone { right, back }),
        2 => any::<bool>().prop_map(|right| Op::StaleNewRid { right }),
        15 => prop_oneof![
            Just(1u64),
            Just(3 * HOUR - 1),
            Just(3 * HOUR),
            Just(24 * HOUR),
            Just(100 * 24 * HOUR),
        ]
        .prop_map(Op::Wait),
        1 => Just(Op::Close),
    ]
}

/// Implementation and model agree on every answer, on whether the share check ran, and on the
/// OTP chain (a resent answer is byte-for-byte the stored one). Seeded: 512 cases from a fixed
/// ChaCha seed.
#[test]
fn agrees_with_model() {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let config = Config {
        cases: 512,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &[0x5e; 32]),
    );
    let strategy = (proptest::collection::vec(op(), 1..60), any::<u64>());
    if let Err(e) = runner.run(&strategy, |(ops, seed)| run_against_model(ops, seed)) {
        panic!("{e}");
    }
}

fn run_against_model(ops: Vec<Op>, seed: u64) -> Result<(), TestCaseError> {
    {
        use model::{Model, Says};
        // Short enough that some sequences reach expiry.
        let lifetime = 250 * 24 * HOUR;
        let policy = ServerPolicy::new(Default::default(), lifetime, 8).unwrap();
        let srv = ServerState::new(Mem::new(), policy);
        let mut now = T0;
        let mut r = rng(seed);
        let otp0 = srv
            .register(key_id(1), FakeShare { pin: RIGHT_PIN }, now, &mut r)
            .unwrap();
        let mut model = Model::new(now, lifetime);
        // otps[i] = the i-th OTP of the chain; answers[i] = the answer that issued otps[i+1].
        let mut otps = vec![otp0];
        let mut answers: Vec<Answer> = Vec::new();
        let mut last_rid: Option<u64> = None;
        let mut rid = 1000u64;
        let mut closed = false;
        for op in ops {
            let (right, otp_index, req) = match op {
                Op::Wait(d) => {
                    now += d;
                    continue;
                }
                Op::Close => {
                    srv.close_key(&key_id(1), now).unwrap();
                    if model.end.is_none() {
                        model.end = Some(model::End::Destroyed);
                        closed = true;
                    }
                    continue;
                }
                Op::Sign { right } => {
                    rid += 1;
                    (right, model.current, rid)
                }
                Op::Retransmit { right } => match last_rid {
                    Some(l) => (right, model.current - 1, l),
                    None => {
                        rid += 1;
                        (right, 0usize.wrapping_sub(1), rid)
                    }
                },
                Op::Clone { right, back } => {
                    rid += 1;
                    (right, model.current.wrapping_sub(back), rid)
                }
                Op::StaleNewRid { right } => {
                    rid += 1;
                    (right, model.current.wrapping_sub(1), rid)
                }
            };
            // An index before OTP_0 stands for an OTP the server never issued.
            let junk = Otp::from_bytes([0xee; 32]);
            let presented = otps.get(otp_index).unwrap_or(&junk);
            let model_index = if otp_index < otps.len() {
                otp_index
            } else {
                usize::MAX
            };
            let (says, model_evaluated) = model.request(right, model_index, req, now);
            let calls = AtomicUsize::new(0);
            let pin = if right { RIGHT_PIN } else { WRONG_PIN };
            let got = srv.complete_signature(
                &key_id(1),
                &request_id(req),
                presented,
                now,
                &mut r,
                evaluator(&calls, pin, request_id(req)),
            );
            prop_assert_eq!(
                calls.load(Ordering::SeqCst) == 1,
                model_evaluated,
                "{:?} {:?}",
                says,
                got
            );
            match (says, got) {
                (Says::Signed, Ok(a)) => {
                    let expected = fake_signature(&request_id(req));
                    prop_assert_eq!(a.signature(), expected.as_slice());
                    prop_assert!(otps.iter().all(|o| o != a.next_otp()));
                    otps.push(copy_otp(a.next_otp()));
                    answers.push(a);
                    last_rid = Some(req);
                }
                (Says::Resent, Ok(a)) => {
                    prop_assert_eq!(Some(&a), answers.last());
                }
                (
                    Says::WrongPin { left, lock },
                    Err(Error::WrongPin {
                        attempts_left,
                        locked_until,
                    }),
                ) => {
                    prop_assert_eq!((left, lock), (attempts_left, locked_until));
                }
                (Says::Locked(u), Err(Error::KeyLocked { until })) => prop_assert_eq!(u, until),
                (Says::Destroyed, Err(Error::KeyDestroyed)) => {}
                (Says::Expired, Err(Error::KeyExpired)) => {}
                (Says::Clone, Err(Error::CloneDetected)) => {}
                (s, g) => prop_assert!(false, "model {:?}, implementation {:?}", s, g),
            }
            // The stored state matches the model.
            let rec = srv.store().load(&key_id(1)).unwrap().unwrap();
            match (model.end, rec.active()) {
                (None, Some(a)) => {
                    prop_assert_eq!(a.attempts().failures(), model.failures);
                    prop_assert_eq!(a.otp().current(), &otps[model.current].hash());
                }
                (Some(model::End::Expired), None) => {
                    prop_assert_eq!(rec.destroyed().map(|d| d.0), Some(DestroyReason::Expired));
                }
                (Some(model::End::Destroyed), None) => {
                    let reason = rec.destroyed().map(|d| d.0);
                    prop_assert!(matches!(
                        reason,
                        Some(
                            DestroyReason::WrongPins | DestroyReason::Clone | DestroyReason::Closed
                        )
                    ));
                    prop_assert_eq!(closed, reason == Some(DestroyReason::Closed));
                }
                (m, a) => prop_assert!(false, "model {:?}, record {:?}", m, a),
            }
        }
    }
    Ok(())
}
