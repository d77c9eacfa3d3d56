//! SPEC §7 lockout: the policy, and the lockout, expiry and closing as seen through the
//! server with an injected clock (every time is an argument).

// Test code: panicking on an unexpected value is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "support/env.rs"]
mod env;

use env::{Env, NOW, PIN1, PIN2, pin};
use split_rsa::{
    DEFAULT_KEY_LIFETIME_SECS, DestroyReason, Error, HashAlg, KeyPurpose, LockStep, LockoutPolicy,
    Outcome, Scheme, ServerPolicy,
};

const HOUR: u64 = 3600;

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
    let p = LockoutPolicy::new(&[], 10).unwrap();
    let policy = ServerPolicy::new(p, DEFAULT_KEY_LIFETIME_SECS, 8).unwrap();
    let mut env = Env::with_policy(45, policy);
    let mut device = env.register(KeyPurpose::Signing, PIN2);
    for i in 0..9u8 {
        assert!(matches!(
            env.sign(&mut device, "11111", &[i]),
            Outcome::WrongPin { .. }
        ));
    }
    assert_eq!(env.sign(&mut device, "11111", b"10th"), Outcome::Destroyed);
}

/// The full 3/6/9 schedule through the server with exact boundaries, on the Authentication
/// and Signing keys of one account (two independent records): a lock refuses new requests
/// until exactly its end, nothing is evaluated while locked, the 9th failure destroys.
#[test]
fn server_lockout_schedule_two_independent_keys() {
    let mut env = Env::new(40);
    let mut auth = env.register(KeyPurpose::Authentication, PIN1);
    let mut sign = env.register(KeyPurpose::Signing, PIN2);
    let mut now = NOW;
    for failure in 1..=9u32 {
        env.now = now;
        let out = env.sign(&mut sign, "11111", &failure.to_be_bytes());
        let lock = match failure {
            3 => Some(now + 3 * HOUR),
            6 => Some(now + 24 * HOUR),
            _ => None,
        };
        if failure == 9 {
            assert_eq!(out, Outcome::Destroyed);
            break;
        }
        assert_eq!(
            out,
            Outcome::WrongPin {
                attempts_left: 9 - failure,
                locked_until: lock
            }
        );
        if let Some(until) = lock {
            let evaluations = env.evaluations();
            for t in [now, until - 1] {
                let refused = env.server.create_request(
                    &mut env.rng,
                    sign.key_id(),
                    KeyPurpose::Signing,
                    Scheme::Pss(HashAlg::Sha256),
                    &HashAlg::Sha256.digest(b"x"),
                    t,
                );
                assert_eq!(
                    refused.unwrap_err(),
                    Error::KeyLocked { until: Some(until) }
                );
            }
            assert_eq!(env.evaluations(), evaluations);
            now = until; // the lock ends exactly here
        }
        // The other key of the account is untouched.
        assert_eq!(env.failures(auth.key_id()), 0);
    }
    assert_eq!(
        env.record(sign.key_id()).destroyed().map(|(r, _)| r),
        Some(DestroyReason::WrongPins)
    );
    env.now = now;
    assert!(matches!(
        env.sign(&mut auth, PIN1, b"still works"),
        Outcome::Completed { .. }
    ));
}

/// A message signed before the lock (for the pending request) and sent while locked is
/// refused without evaluation, even with the right PIN; after the lock a right PIN completes
/// and resets the count.
#[test]
fn right_pin_refused_while_locked_then_resets() {
    let mut env = Env::new(41);
    let mut device = env.register(KeyPurpose::Signing, PIN2);
    for i in 0..2u8 {
        let _ = env.sign(&mut device, "11111", &[i]);
    }
    let request = env.request(&device, b"third");
    let mut copy = env::copy(&device);
    let wrong = device
        .sign(&mut env.rng, &request, &pin("11111", KeyPurpose::Signing))
        .unwrap();
    let right = copy
        .sign(&mut env.rng, &request, &pin(PIN2, KeyPurpose::Signing))
        .unwrap();
    let out = env.server.complete(&mut env.rng, &wrong, NOW).unwrap();
    let until = NOW + 3 * HOUR;
    assert_eq!(
        out.outcome,
        Outcome::WrongPin {
            attempts_left: 6,
            locked_until: Some(until)
        }
    );
    let evaluations = env.evaluations();
    let refused = env.server.complete(&mut env.rng, &right, NOW + 60).unwrap();
    assert_eq!(refused.outcome, Outcome::Locked { until: Some(until) });
    assert_eq!(env.evaluations(), evaluations);
    assert_eq!(env.failures(device.key_id()), 3);
    device.accept(&out.response).unwrap();
    env.now = until;
    assert!(matches!(
        env.sign(&mut device, PIN2, b"after"),
        Outcome::Completed { .. }
    ));
    assert_eq!(env.failures(device.key_id()), 0);
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
    let policy = ServerPolicy::new(lockout, DEFAULT_KEY_LIFETIME_SECS, 8).unwrap();
    let mut env = Env::with_policy(42, policy);
    let mut device = env.register(KeyPurpose::Signing, PIN2);
    let mut outs = Vec::new();
    for i in 0..4u8 {
        outs.push(env.sign(&mut device, "11111", &[i]));
        env.now += 60;
    }
    assert_eq!(
        outs,
        vec![
            Outcome::WrongPin {
                attempts_left: 3,
                locked_until: None
            },
            Outcome::WrongPin {
                attempts_left: 2,
                locked_until: Some(NOW + 60 + 60)
            },
            Outcome::WrongPin {
                attempts_left: 1,
                locked_until: None
            },
            Outcome::Destroyed,
        ]
    );
    assert_eq!(env.evaluations(), 4);
}

/// SPEC §7: keys expire 3 years after registration by default; an expired key refuses
/// everything (its public key too); `expire` destroys it with reason Expired.
#[test]
fn expiry_default_lifetime_and_expire_key() {
    let mut env = Env::new(43);
    let mut device = env.register(KeyPurpose::Signing, PIN2);
    let record = env.record(device.key_id());
    assert_eq!(record.expires_at(), NOW + DEFAULT_KEY_LIFETIME_SECS);
    assert_eq!(DEFAULT_KEY_LIFETIME_SECS, 1096 * 24 * HOUR);
    let request = env.request(&device, b"before");
    let message = device
        .sign(&mut env.rng, &request, &pin(PIN2, KeyPurpose::Signing))
        .unwrap();
    let at = record.expires_at();
    let out = env.server.complete(&mut env.rng, &message, at).unwrap();
    assert_eq!(out.outcome, Outcome::Expired);
    assert_eq!(device.accept(&out.response).unwrap(), Outcome::Expired);
    assert!(device.is_dead());
    assert!(!env.server.expire(device.key_id(), at - 1).unwrap());
    assert!(env.server.expire(device.key_id(), at).unwrap());
    assert!(!env.server.expire(device.key_id(), at + 1).unwrap());
    assert_eq!(
        env.record(device.key_id()).destroyed(),
        Some((DestroyReason::Expired, at))
    );
    assert_eq!(env.evaluations(), 0);
}

/// Closing destroys the key (share gone) and is idempotent; a closed key refuses everything.
#[test]
fn close_key_destroys_and_is_idempotent() {
    let mut env = Env::new(44);
    let device = env.register(KeyPurpose::Signing, PIN2);
    env.server.close(device.key_id(), NOW + 5).unwrap();
    env.server.close(device.key_id(), NOW + 9).unwrap();
    let record = env.record(device.key_id());
    assert_eq!(record.destroyed(), Some((DestroyReason::Closed, NOW + 5)));
    assert!(record.active().is_none());
    assert_eq!(
        env.server.public_key(device.key_id(), NOW).unwrap_err(),
        Error::KeyDestroyed
    );
    assert_eq!(
        env.server
            .close(&split_rsa::KeyId::from_bytes([9; 16]), NOW)
            .unwrap_err(),
        Error::Store(split_rsa::StoreError::NotFound)
    );
}
