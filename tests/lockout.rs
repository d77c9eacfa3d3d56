//! SPEC §7 lockout: the policy, the attempt state, and the lockout as seen through
//! `ServerState::complete_signature` with an injected clock.

// Test code: panicking on an unexpected value is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/server_support.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use split_rsa::{
    AttemptState, DestroyReason, Error, FailureOutcome, InMemoryKeyStore, KeyStore, LockStep,
    LockoutPolicy, ServerPolicy, ServerState,
};
use support::*;

const HOUR: u64 = 3600;
const T0: u64 = 1_700_000_000;

#[test]
fn default_policy_is_spec_3_6_9() {
    let p = LockoutPolicy::default();
    assert_eq!(
        p.steps(),
        &[
            LockStep {
                at_failures: 3,
                duration_secs: 3 * HOUR
            },
            LockStep {
                at_failures: 6,
                duration_secs: 24 * HOUR
            }
        ]
    );
    assert_eq!(p.destroy_at(), 9);
    assert_eq!(LockoutPolicy::new(p.steps(), 9).unwrap(), p);
}

#[test]
fn policy_validation() {
    let step = |at, d| LockStep {
        at_failures: at,
        duration_secs: d,
    };
    let bad: &[(&[LockStep], u32)] = &[
        (&[], 0),
        (&[step(0, 10)], 5),
        (&[step(3, 10), step(3, 20)], 9),
        (&[step(4, 10), step(3, 20)], 9),
        (&[step(9, 10)], 9),
        (&[step(10, 10)], 9),
        (&[step(3, 0)], 9),
    ];
    for (steps, destroy_at) in bad {
        assert!(
            matches!(
                LockoutPolicy::new(steps, *destroy_at),
                Err(Error::InvalidRequest(_))
            ),
            "accepted {steps:?} / {destroy_at}"
        );
    }
    assert!(LockoutPolicy::new(&[], 1).is_ok());
    assert!(LockoutPolicy::new(&[step(1, 1), step(2, 5)], 3).is_ok());
    assert!(ServerPolicy::new(LockoutPolicy::default(), 0, 4).is_err());
    assert!(ServerPolicy::new(LockoutPolicy::default(), 10, 0).is_err());
}

/// Security review item 5: a policy cannot switch the lockout off. The destroy threshold is
/// bounded above by `LockoutPolicy::MAX_DESTROY_AT` (10): "never destroy" (`u32::MAX`), 100
/// attempts or 11 are refused, with or without lock steps; 10 and the SPEC §7 default 9 are
/// accepted. (The old `LockoutPolicy::new` accepted all of them.)
#[test]
fn policies_that_switch_the_lockout_off_are_refused() {
    let step = |at, d| LockStep {
        at_failures: at,
        duration_secs: d,
    };
    assert_eq!(LockoutPolicy::MAX_DESTROY_AT, 10);
    assert!(LockoutPolicy::default().destroy_at() <= LockoutPolicy::MAX_DESTROY_AT);
    let default_steps = LockoutPolicy::default().steps().to_vec();
    for destroy_at in [11, 12, 100, 1000, u32::MAX - 1, u32::MAX] {
        for steps in [
            &[][..],
            &default_steps[..],
            &[step(3, 3 * HOUR), step(10, 24 * HOUR)],
        ] {
            assert!(
                matches!(
                    LockoutPolicy::new(steps, destroy_at),
                    Err(Error::InvalidRequest(_))
                ),
                "accepted {steps:?} / {destroy_at}"
            );
        }
    }
    assert!(LockoutPolicy::new(&default_steps, 10).is_ok());
    assert!(LockoutPolicy::new(&[step(3, HOUR), step(9, 24 * HOUR)], 10).is_ok());
    assert!(LockoutPolicy::new(&[], 10).is_ok());
    // A policy at the cap still destroys the key at its 10th consecutive wrong PIN.
    let p = LockoutPolicy::new(&default_steps, 10).unwrap();
    let mut s = AttemptState::new();
    for _ in 0..9 {
        assert!(matches!(s.charge(&p, T0), FailureOutcome::Counted { .. }));
    }
    assert_eq!(s.charge(&p, T0), FailureOutcome::Destroyed);
}

/// The attempt state alone, step by step, with exact boundaries.
#[test]
fn attempt_state_exact_schedule() {
    let p = LockoutPolicy::default();
    let mut s = AttemptState::new();
    let mut now = T0;
    let expect = |left, lock| FailureOutcome::Counted {
        attempts_left: left,
        locked_until: lock,
    };

    assert_eq!(s.check(&p, now), Ok(()));
    assert_eq!(s.charge(&p, now), expect(8, None));
    assert_eq!(s.charge(&p, now), expect(7, None));
    assert_eq!(s.charge(&p, now), expect(6, Some(now + 3 * HOUR)));
    let until = now + 3 * HOUR;
    assert_eq!(s.failures(), 3);
    assert_eq!(s.check(&p, now), Err(Error::KeyLocked { until }));
    assert_eq!(s.check(&p, until - 1), Err(Error::KeyLocked { until }));
    // Unlocked at now >= until.
    assert_eq!(s.check(&p, until), Ok(()));
    now = until;
    assert_eq!(s.charge(&p, now), expect(5, None));
    assert_eq!(s.charge(&p, now), expect(4, None));
    assert_eq!(s.charge(&p, now), expect(3, Some(now + 24 * HOUR)));
    let until = now + 24 * HOUR;
    assert_eq!(s.check(&p, until - 1), Err(Error::KeyLocked { until }));
    assert_eq!(s.check(&p, until), Ok(()));
    now = until;
    assert_eq!(s.charge(&p, now), expect(2, None));
    assert_eq!(s.charge(&p, now), expect(1, None));
    assert_eq!(s.charge(&p, now), FailureOutcome::Destroyed);
    assert!(s.is_exhausted(&p));
    assert_eq!(s.check(&p, now + 1_000_000), Err(Error::KeyDestroyed));
    assert_eq!(FailureOutcome::Destroyed.to_error(), Error::KeyDestroyed);
    assert_eq!(
        expect(3, Some(7)).to_error(),
        Error::WrongPin {
            attempts_left: 3,
            locked_until: Some(7)
        }
    );

    // Success resets the count and lifts the lock.
    let mut s = AttemptState::from_parts(5, Some(now + 10));
    assert_eq!(s.check(&p, now), Err(Error::KeyLocked { until: now + 10 }));
    s.success();
    assert_eq!(s, AttemptState::new());
    assert_eq!(s.check(&p, now), Ok(()));
    assert_eq!(s.attempts_left(&p), 9);
}

type Server = ServerState<InMemoryKeyStore<FakeShare>>;

fn server(policy: ServerPolicy) -> Server {
    ServerState::new(InMemoryKeyStore::new(), policy)
}

/// One wrong-PIN attempt on `key` at `now`, returning the answer and whether it evaluated.
fn wrong(srv: &Server, key: u8, otp: &split_rsa::Otp, rid: u64, now: u64) -> (Error, bool) {
    let calls = AtomicUsize::new(0);
    let r = srv.complete_signature(
        &key_id(key),
        &request_id(rid),
        otp,
        now,
        &mut rng(rid),
        evaluator(&calls, WRONG_PIN, request_id(rid)),
    );
    (r.unwrap_err(), calls.load(Ordering::SeqCst) == 1)
}

/// The full 3/6/9 schedule through the server, on the Authentication and Signing keys of one
/// account (two independent records), with an injected clock.
#[test]
fn server_lockout_schedule_two_independent_keys() {
    let srv = server(ServerPolicy::default());
    let (auth, sign) = (1u8, 2u8);
    let otp_auth = srv
        .register(key_id(auth), FakeShare { pin: RIGHT_PIN }, T0, &mut rng(1))
        .unwrap();
    let otp_sign = srv
        .register(key_id(sign), FakeShare { pin: 55555 }, T0, &mut rng(2))
        .unwrap();
    let mut now = T0 + 10;
    let mut rid = 100;
    let next = |r: &mut u64| {
        *r += 1;
        *r
    };

    // Three wrong PINs on the Authentication key: the third locks it for exactly 3 hours.
    for left in [8, 7] {
        let (e, evaluated) = wrong(&srv, auth, &otp_auth, next(&mut rid), now);
        assert_eq!(
            e,
            Error::WrongPin {
                attempts_left: left,
                locked_until: None
            }
        );
        assert!(evaluated);
    }
    let until = now + 3 * HOUR;
    let (e, _) = wrong(&srv, auth, &otp_auth, next(&mut rid), now);
    assert_eq!(
        e,
        Error::WrongPin {
            attempts_left: 6,
            locked_until: Some(until)
        }
    );

    // The Signing key is unaffected: it still signs.
    let calls = AtomicUsize::new(0);
    let ans = srv
        .complete_signature(
            &key_id(sign),
            &request_id(7),
            &otp_sign,
            now,
            &mut rng(7),
            evaluator(&calls, 55555, request_id(7)),
        )
        .unwrap();
    assert_eq!(ans.signature(), fake_signature(&request_id(7)).as_slice());

    // While locked: refused without evaluating and without counting, up to the last second.
    for t in [now, now + 1, until - 1] {
        let r = srv.complete_signature(
            &key_id(auth),
            &request_id(next(&mut rid)),
            &otp_auth,
            t,
            &mut rng(0),
            must_not_evaluate,
        );
        assert_eq!(r.unwrap_err(), Error::KeyLocked { until });
    }
    let rec = srv.store().load(&key_id(auth)).unwrap().unwrap();
    assert_eq!(rec.active().unwrap().attempts().failures(), 3);

    // At `until` exactly the key is usable again.
    now = until;
    for left in [5, 4] {
        let (e, evaluated) = wrong(&srv, auth, &otp_auth, next(&mut rid), now);
        assert_eq!(
            e,
            Error::WrongPin {
                attempts_left: left,
                locked_until: None
            }
        );
        assert!(evaluated);
    }
    let until = now + 24 * HOUR;
    let (e, _) = wrong(&srv, auth, &otp_auth, next(&mut rid), now);
    assert_eq!(
        e,
        Error::WrongPin {
            attempts_left: 3,
            locked_until: Some(until)
        }
    );
    let r = srv.complete_signature(
        &key_id(auth),
        &request_id(next(&mut rid)),
        &otp_auth,
        until - 1,
        &mut rng(0),
        must_not_evaluate,
    );
    assert_eq!(r.unwrap_err(), Error::KeyLocked { until });

    // The Signing key: two wrong PINs, then a right one resets its count.
    for left in [8, 7] {
        let (e, _) = wrong(&srv, sign, ans.next_otp(), next(&mut rid), now);
        assert_eq!(
            e,
            Error::WrongPin {
                attempts_left: left,
                locked_until: None
            }
        );
    }
    let calls = AtomicUsize::new(0);
    let ans2 = srv
        .complete_signature(
            &key_id(sign),
            &request_id(8),
            ans.next_otp(),
            now,
            &mut rng(8),
            evaluator(&calls, 55555, request_id(8)),
        )
        .unwrap();
    let rec = srv.store().load(&key_id(sign)).unwrap().unwrap();
    assert_eq!(rec.active().unwrap().attempts().failures(), 0);
    let (e, _) = wrong(&srv, sign, ans2.next_otp(), next(&mut rid), now);
    assert_eq!(
        e,
        Error::WrongPin {
            attempts_left: 8,
            locked_until: None
        }
    );

    // Authentication key: 7th, 8th, 9th wrong PIN after the 24 h lock: destroyed at 9.
    now = until;
    for left in [2, 1] {
        let (e, _) = wrong(&srv, auth, &otp_auth, next(&mut rid), now);
        assert_eq!(
            e,
            Error::WrongPin {
                attempts_left: left,
                locked_until: None
            }
        );
    }
    let (e, evaluated) = wrong(&srv, auth, &otp_auth, next(&mut rid), now);
    assert_eq!(e, Error::KeyDestroyed);
    assert!(evaluated);
    let rec = srv.store().load(&key_id(auth)).unwrap().unwrap();
    assert_eq!(rec.destroyed(), Some((DestroyReason::WrongPins, now)));
    assert!(rec.active().is_none(), "destroyed record keeps no share");
    // Even the right PIN is refused without evaluation, at any later time.
    for t in [now, now + 365 * 24 * HOUR] {
        let r = srv.complete_signature(
            &key_id(auth),
            &request_id(next(&mut rid)),
            &otp_auth,
            t,
            &mut rng(0),
            must_not_evaluate,
        );
        assert_eq!(r.unwrap_err(), Error::KeyDestroyed);
    }

    // The Signing key still works.
    let calls = AtomicUsize::new(0);
    srv.complete_signature(
        &key_id(sign),
        &request_id(9),
        ans2.next_otp(),
        now,
        &mut rng(9),
        evaluator(&calls, 55555, request_id(9)),
    )
    .unwrap();
}

/// A right PIN while locked is refused too (nothing is evaluated, so nothing can reset).
#[test]
fn right_pin_refused_while_locked_then_resets() {
    let srv = server(ServerPolicy::default());
    let otp = srv
        .register(key_id(1), FakeShare { pin: RIGHT_PIN }, T0, &mut rng(1))
        .unwrap();
    for i in 0..3 {
        wrong(&srv, 1, &otp, i, T0);
    }
    let until = T0 + 3 * HOUR;
    let r = srv.complete_signature(
        &key_id(1),
        &request_id(50),
        &otp,
        until - 1,
        &mut rng(0),
        must_not_evaluate,
    );
    assert_eq!(r.unwrap_err(), Error::KeyLocked { until });
    let calls = AtomicUsize::new(0);
    let ans = srv
        .complete_signature(
            &key_id(1),
            &request_id(51),
            &otp,
            until,
            &mut rng(51),
            evaluator(&calls, RIGHT_PIN, request_id(51)),
        )
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let rec = srv.store().load(&key_id(1)).unwrap().unwrap();
    assert_eq!(*rec.active().unwrap().attempts(), AttemptState::new());
    // The next wrong PIN is the first again.
    let (e, _) = wrong(&srv, 1, ans.next_otp(), 60, until);
    assert_eq!(
        e,
        Error::WrongPin {
            attempts_left: 8,
            locked_until: None
        }
    );
}

/// A configured policy: lock 60 s at 2 failures, destroy at 4.
#[test]
fn custom_policy() {
    let lockout = LockoutPolicy::new(
        &[LockStep {
            at_failures: 2,
            duration_secs: 60,
        }],
        4,
    )
    .unwrap();
    let srv = server(ServerPolicy::new(lockout, 1000, 8).unwrap());
    let otp = srv
        .register(key_id(3), FakeShare { pin: RIGHT_PIN }, T0, &mut rng(1))
        .unwrap();
    assert_eq!(
        wrong(&srv, 3, &otp, 1, T0).0,
        Error::WrongPin {
            attempts_left: 3,
            locked_until: None
        }
    );
    assert_eq!(
        wrong(&srv, 3, &otp, 2, T0).0,
        Error::WrongPin {
            attempts_left: 2,
            locked_until: Some(T0 + 60)
        }
    );
    let r = srv.complete_signature(
        &key_id(3),
        &request_id(3),
        &otp,
        T0 + 59,
        &mut rng(0),
        must_not_evaluate,
    );
    assert_eq!(r.unwrap_err(), Error::KeyLocked { until: T0 + 60 });
    assert_eq!(
        wrong(&srv, 3, &otp, 4, T0 + 60).0,
        Error::WrongPin {
            attempts_left: 1,
            locked_until: None
        }
    );
    assert_eq!(wrong(&srv, 3, &otp, 5, T0 + 60).0, Error::KeyDestroyed);

    // Lifetime 1000 s: expired at created_at + 1000 exactly, refused without evaluation.
    let otp = srv
        .register(key_id(4), FakeShare { pin: RIGHT_PIN }, T0, &mut rng(2))
        .unwrap();
    let calls = AtomicUsize::new(0);
    let a = srv
        .complete_signature(
            &key_id(4),
            &request_id(6),
            &otp,
            T0 + 999,
            &mut rng(6),
            evaluator(&calls, RIGHT_PIN, request_id(6)),
        )
        .unwrap();
    let r = srv.complete_signature(
        &key_id(4),
        &request_id(7),
        a.next_otp(),
        T0 + 1000,
        &mut rng(0),
        must_not_evaluate,
    );
    assert_eq!(r.unwrap_err(), Error::KeyExpired);
    let rec = srv.store().load(&key_id(4)).unwrap().unwrap();
    assert_eq!(rec.destroyed(), Some((DestroyReason::Expired, T0 + 1000)));
    let r = srv.complete_signature(
        &key_id(4),
        &request_id(8),
        a.next_otp(),
        T0 + 5000,
        &mut rng(0),
        must_not_evaluate,
    );
    assert_eq!(r.unwrap_err(), Error::KeyExpired);
}

#[test]
fn expiry_default_lifetime_and_expire_key() {
    let srv = server(ServerPolicy::default());
    let otp = srv
        .register(key_id(1), FakeShare { pin: RIGHT_PIN }, T0, &mut rng(1))
        .unwrap();
    let rec = srv.store().load(&key_id(1)).unwrap().unwrap();
    assert_eq!(rec.created_at(), T0);
    assert_eq!(rec.expires_at(), T0 + 1096 * 24 * HOUR);
    assert!(!srv.expire_key(&key_id(1), rec.expires_at() - 1).unwrap());
    assert!(srv.expire_key(&key_id(1), rec.expires_at()).unwrap());
    assert!(!srv.expire_key(&key_id(1), rec.expires_at() + 1).unwrap());
    let rec = srv.store().load(&key_id(1)).unwrap().unwrap();
    assert_eq!(
        rec.destroyed(),
        Some((DestroyReason::Expired, rec.expires_at()))
    );
    let r = srv.complete_signature(
        &key_id(1),
        &request_id(1),
        &otp,
        T0,
        &mut rng(0),
        must_not_evaluate,
    );
    assert_eq!(r.unwrap_err(), Error::KeyExpired);
}

#[test]
fn close_key_destroys_and_is_idempotent() {
    let srv = server(ServerPolicy::default());
    let otp = srv
        .register(key_id(1), FakeShare { pin: RIGHT_PIN }, T0, &mut rng(1))
        .unwrap();
    srv.close_key(&key_id(1), T0 + 5).unwrap();
    srv.close_key(&key_id(1), T0 + 6).unwrap();
    let rec = srv.store().load(&key_id(1)).unwrap().unwrap();
    assert_eq!(rec.destroyed(), Some((DestroyReason::Closed, T0 + 5)));
    let r = srv.complete_signature(
        &key_id(1),
        &request_id(1),
        &otp,
        T0 + 7,
        &mut rng(0),
        must_not_evaluate,
    );
    assert_eq!(r.unwrap_err(), Error::KeyDestroyed);
    assert_eq!(
        srv.close_key(&key_id(9), T0).unwrap_err(),
        Error::Store(split_rsa::StoreError::NotFound)
    );
    let r = srv.complete_signature(
        &key_id(9),
        &request_id(1),
        &otp,
        T0,
        &mut rng(0),
        must_not_evaluate,
    );
    assert_eq!(
        r.unwrap_err(),
        Error::Store(split_rsa::StoreError::NotFound)
    );
    // Registering an existing id is refused.
    assert_eq!(
        srv.register(key_id(1), FakeShare { pin: 1 }, T0, &mut rng(3))
            .unwrap_err(),
        Error::Store(split_rsa::StoreError::Conflict)
    );
}
